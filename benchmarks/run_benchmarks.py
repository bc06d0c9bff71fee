"""The course's speed, measured: prints one table and saves it for the README.

    make benchmark            # = .venv/bin/python benchmarks/run_benchmarks.py
    .venv/bin/python benchmarks/run_benchmarks.py --skip notebooks --skip training   # the quick parts only

What it measures (targets on a 2-core CPU machine in brackets):

* explorer latency from a control change to the updated shape table and formulas (p50 <= 20 ms), to the PNG
  bytes of the redrawn U diagram (p95 <= 100 ms; before its labels were cached: p50 98 ms, p95 193 ms), and to
  refreshed feature maps at 256x256 (<= 250 ms), p50 and p95 over many changes;
* what ``UNet.forward``'s input-size check costs: ``net(x)`` for a shape the network has seen (the normal case)
  and for a shape it has not (the check runs ``output_size``), the check alone, and ``output_size((572, 572))``
  cold (size caches cleared) and cached;
* wall time to execute each notebook, one fresh kernel each as nbval runs them, and the whole course (<= 5 min);
* the peak memory of each notebook's kernel (<= 2 GB);
* training: time to Dice 0.95 and final Dice of lesson 08's default run (<= 60 s);
* ablations: what lesson 08's three ablations cost the lesson (loading both arms' checkpoints, scoring them on the
  held-out images, drawing the picture), and what training each arm cost when its checkpoint was built (as stored
  in the checkpoint by ``scripts/make_checkpoints.py --which ablations``; not re-trained here);
* ``import unet_lesson`` time in a fresh interpreter.

A full run writes ``benchmarks/results.json``; ``scripts/update_readme.py`` renders it into the README. A run with
``--skip`` (the quick one above takes well under a minute) only prints. Timings are measured here, never asserted
in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results.json"

TARGETS = {
    "explorer: shapes + formulas": ("p50", 20.0, "ms"),
    "explorer: U diagram": ("p95", 100.0, "ms"),
    "explorer: feature maps 256x256": ("p50", 250.0, "ms"),
    "whole course (all notebooks)": ("value", 300.0, "s"),
    "training: time to Dice 0.95": ("value", 60.0, "s"),
}

#: the diagram as measured before its labels, title and legend were rasterised once and reused
#: (benchmarks/results.json of that day, same machine and settings): quoted for comparison, not re-measured
DIAGRAM_BEFORE = {"p50": 98.1, "p95": 193.4, "date": "2026-11-27"}


def _percentiles(samples_ms: list[float]) -> dict:
    s = sorted(samples_ms)
    return {"p50": statistics.median(s), "p95": s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))], "n": len(s)}


def _time_calls(fn, settings: list[dict], repeat: int = 1) -> list[float]:
    out = []
    for _ in range(repeat):
        for kw in settings:
            t0 = time.perf_counter()
            fn(**kw)
            out.append((time.perf_counter() - t0) * 1000)
    return out


def bench_explorer() -> list[dict]:
    """Each explorer view, called as the widget calls it on a control change."""
    import matplotlib

    matplotlib.use("Agg")
    from unet_lesson import valid_input_sizes
    from unet_lesson.ui import explorer
    from unet_lesson.ui.widgets import figure_png, safe_view

    def render_png(view):  # exactly what the widget sends to the browser (widgets.live, dpi 80)
        return figure_png(view.figure, dpi=80, tight=view.tight)

    rows = []
    # a realistic sequence of changes: sizes typed (valid and invalid), padding and depth toggled
    changes = []
    for size in (572, 556, 588, 570, 256, 188, 700, 64, 100, 0, 1024):
        for padding in ("valid", "same"):
            for depth in (3, 4, 5):
                changes.append(dict(input_size=size, padding=padding, depth=depth))

    def shapes(**kw):  # as the widget calls it: an impossible setting becomes its message, not an exception
        return safe_view(explorer.shapes_view, **kw)

    shapes(**changes[0])  # warm-up (imports)
    samples = _time_calls(shapes, changes, repeat=3)
    rows.append({"name": "explorer: shapes + formulas", **_percentiles(samples), "unit": "ms"})

    # the diagram is redrawn only for a valid setting (an invalid one shows the message instead): time
    # distinct valid settings (sizes, paddings, depths 1-5, base channels, both upsamplings), each once, so no
    # picture is ever served whole from a cache (its labels may be: that is the point of the label cache)
    redraws = [
        dict(input_size=size, padding=padding, depth=depth, base_channels=base, up_mode=up)
        for padding in ("valid", "same")
        for depth in (1, 2, 3, 4, 5)
        for up in ("upconv", "bilinear")
        for base in (32, 64)
        for size in valid_input_sizes(1024, padding=padding, depth=depth)[2:5]
    ]

    def diagram(**kw):
        view = explorer.diagram_view(**kw)
        if view.figure is not None:
            render_png(view)

    diagram(**DEFAULTS_DIAGRAM)  # warm-up: imports, fonts (the default setting, not one of those timed)
    samples = _time_calls(diagram, redraws)
    b = DIAGRAM_BEFORE
    rows.append(
        {
            "name": "explorer: U diagram",
            **_percentiles(samples),
            "unit": "ms",
            "note": f"control change to PNG bytes; before the label cache: p50 {b['p50']:.0f} ms, "
            f"p95 {b['p95']:.0f} ms on {b['date']}",
        }
    )

    def maps(**kw):
        view = explorer.feature_maps_view(**kw)
        if view.figure is not None:
            render_png(view)

    # feature maps at 256x256 as the student changes the layout (each network built once, then cached)
    fm = [dict(input_size=256, padding="same", depth=d, up_mode=u) for d in (2, 3, 4) for u in ("upconv", "bilinear")]
    for kw in fm:
        maps(**kw)
    samples = _time_calls(maps, fm, repeat=3)
    rows.append({"name": "explorer: feature maps 256x256", **_percentiles(samples), "unit": "ms"})
    return rows


DEFAULTS_DIAGRAM = dict(input_size=572, padding="valid", depth=4, base_channels=64, up_mode="upconv")


def _clear_size_caches() -> None:
    """Empty every cache of the size arithmetic (``functools`` caches in core.shapes and core.search), so the
    next ``output_size`` works from nothing, as the first call in a fresh kernel does."""
    from unet_lesson.core import search, shapes

    for module in (shapes, search):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def _median_us(fn, repeat: int, setup=None) -> list[float]:
    """Microseconds per call of ``fn()``, one sample per call (``setup()`` before each, not timed)."""
    out = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def bench_forward_check() -> list[dict]:
    """What the input-size check in ``UNet.forward`` costs, for the normal case and for a shape seen first."""
    import torch

    from unet_lesson import UNet, output_size
    from unet_lesson.core.env import cpu_threads

    rows = []
    net = UNet(padding="same", depth=3, base_channels=4).eval()
    x = torch.zeros(1, 1, 64, 64)
    name = "UNet(padding='same', depth=3, base_channels=4) on 1x1x64x64"
    with torch.no_grad(), cpu_threads(1):
        net(x)  # torch's own first-call work for this shape, and the check's
        seen = _median_us(lambda: net(x), 200)

        def forget():  # torch has seen the shape; the check has not (nor have the size caches)
            net._checked.clear()
            _clear_size_caches()

        new = _median_us(lambda: net(x), 200, setup=forget)
        check_seen = _median_us(lambda: net._check(x), 2000)
        check_new = _median_us(lambda: net._check(x), 500, setup=forget)
    for label, samples in (
        (f"UNet.forward, shape seen before ({name})", seen),
        ("UNet.forward, new shape (the check runs output_size)", new),
    ):
        p = _percentiles([s / 1000 for s in samples])
        rows.append({"name": label, **p, "unit": "ms"})
    for label, samples in (
        ("UNet input check alone, shape seen before", check_seen),
        ("UNet input check alone, new shape", check_new),
    ):
        rows.append({"name": label, **_percentiles(samples), "unit": "µs"})
    output_size((572, 572))
    cached = _median_us(lambda: output_size((572, 572)), 2000)
    cold = _median_us(lambda: output_size((572, 572)), 300, setup=_clear_size_caches)
    rows.append({"name": "output_size((572, 572)), cold (size caches cleared)", **_percentiles(cold), "unit": "µs"})
    rows.append({"name": "output_size((572, 572)), cached", **_percentiles(cached), "unit": "µs"})
    return rows


_PEAK_CELL = "import resource as _r; print('PEAK_RSS_KB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)"


def bench_notebooks() -> list[dict]:
    """Execute each notebook in a fresh kernel (as nbval does) and read the kernel's peak memory."""
    import nbformat
    from nbclient import NotebookClient

    rows, total = [], 0.0
    env_path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    os.environ["PYTHONPATH"] = env_path
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(_PEAK_CELL))
        client = NotebookClient(
            nb,
            timeout=600,
            kernel_name="python3",
            allow_errors=True,
            resources={"metadata": {"path": str(path.parent)}},
        )
        t0 = time.perf_counter()
        client.execute()
        wall = time.perf_counter() - t0
        total += wall
        errors = sum(o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        peak = next(
            (int(o["text"].split()[1]) for o in nb.cells[-1].outputs if "PEAK_RSS_KB" in o.get("text", "")), None
        )
        rows.append(
            {
                "name": f"notebook {path.stem}",
                "value": wall,
                "unit": "s",
                "peak_mb": None if peak is None else peak / 1024,
                "errors": errors,
            }
        )
        print(
            f"  {path.name}: {wall:.1f} s, peak {peak / 1024 if peak else float('nan'):.0f} MB, {errors} errors",
            flush=True,
        )
    rows.append(
        {
            "name": "whole course (all notebooks)",
            "value": total,
            "unit": "s",
            "peak_mb": max((r["peak_mb"] or 0) for r in rows),
        }
    )
    return rows


def bench_training() -> list[dict]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_training

    r = bench_training.run()
    return [
        {
            "name": "training: time to Dice 0.95",
            "value": r["time_to_dice_095_s"],
            "unit": "s",
            "note": f"final Dice {r['final_dice']:.3f} on {r['device']}",
        },
        {"name": "training: final Dice", "value": r["final_dice"], "unit": ""},
    ]


def bench_ablations() -> list[dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from unet_lesson.lessons import l08_training as L
    from unet_lesson.seg import ablations as A

    rows = []
    for name in A.ABLATIONS:
        t0 = time.perf_counter()
        view = L.ablation_view(name)  # what the lesson's cell runs
        seconds = time.perf_counter() - t0
        plt.close("all")
        built = [A.load_arm(name, side.key)[1].get("train_seconds") for side in A.ABLATIONS[name].arms]
        rows.append(
            {
                "name": f"ablation {name}: load, score and draw both arms",
                "value": seconds,
                "unit": "s",
                "note": f"training the arms took {' s + '.join(str(b) for b in built)} s when built"
                + ("" if view.ok else " (missing checkpoints)"),
            }
        )
    return rows


def bench_import() -> list[dict]:
    times = []
    for _ in range(3):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                "import time; t = time.perf_counter(); import unet_lesson; print(time.perf_counter() - t)",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        times.append(float(out.stdout.strip()) * 1000)
    return [{"name": "import unet_lesson (fresh interpreter)", "p50": statistics.median(times), "unit": "ms"}]


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPU cores ({cpu}), {gpu}, Python {platform.python_version()}, torch {torch.__version__}"


def verdict(row: dict) -> str:
    target = TARGETS.get(row["name"])
    if not target:
        if "peak_mb" in row and row.get("peak_mb") is not None:
            return "ok" if row["peak_mb"] <= 2048 else "OVER (2 GB)"
        return ""
    key, limit, unit = target
    value = row.get(key)
    if value is None:
        return ""
    return f"ok (<= {limit:g} {unit})" if value <= limit else f"OVER ({limit:g} {unit})"


def table(results: dict) -> str:
    lines = [
        f"Machine: {results['machine']} — {results['date']}",
        "",
        "| measure | p50 / value | p95 | peak memory | target |",
        "|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        unit = r.get("unit", "")
        main = r.get("p50", r.get("value"))
        main_s = f"{main:.3f}" if unit == "" else f"{main:.1f} {unit}"
        p95 = f"{r['p95']:.1f} {unit}" if "p95" in r else ""
        peak = f"{r['peak_mb']:.0f} MB" if r.get("peak_mb") else ""
        note = f" ({r['note']})" if r.get("note") else ""
        lines.append(f"| {r['name']}{note} | {main_s} | {p95} | {peak} | {verdict(r)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--skip", action="append", default=[], choices=["explorer", "forward", "notebooks", "training", "import"]
    )
    ap.add_argument("--no-save", action="store_true", help="print only; do not update benchmarks/results.json")
    args = ap.parse_args(argv)
    rows = []
    for name, fn in (
        ("import", bench_import),
        ("explorer", bench_explorer),
        ("forward", bench_forward_check),
        ("training", bench_training),
        ("training", bench_ablations),
        ("notebooks", bench_notebooks),
    ):
        if name in args.skip:
            continue
        print(f"benchmarking {name} ...", flush=True)
        rows += fn()
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "rows": rows}
    print()
    print(table(results))
    if not args.no_save and not args.skip:
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nsaved {RESULTS.relative_to(ROOT)}; run scripts/update_readme.py to refresh the README")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
