r"""Lesson 03: the transposed convolution, U-Net's "up-conv" (转置卷积, 上采样 upsampling).

The notes: *Transconv: size x2, channel 1/2*, and at the bottom of the U
``28x28x1024 -> up-conv -> 56x56x512``. This module holds what the lesson shows; the by-hand
operations live in :mod:`unet_lesson.core.transposed`, the pictures in
:mod:`unet_lesson.ui.figures.upconv`:

* :func:`layer_facts` / :func:`layer_facts_html`: the real layer's weight shape ``(in, out, k, k)``,
  parameter count and output shape (the notes' 28x28x1024 -> 56x56x512), with stated limits on
  what is run for real;
* :func:`transposed_checks_html`: why "transposed": the convolution as a matrix C, the up-conv as
  C^T, and the zero-insertion view, each compared with the real ``nn.Conv2d``/``nn.ConvTranspose2d``;
* :func:`up_modes_check` / :func:`up_modes_html`: the bilinear + 1x1 conv alternative, same shapes;
* :func:`upconv_view`: the widget's view (plain function, tested without a browser);
* ``EX_*``: the exercises (in :mod:`.l03_exercises`; the real layer's facts in :mod:`.l03_layer`).
"""

from __future__ import annotations

import html

import numpy as np

from ..core.transposed import (
    DEMO_CHANNELS,
    checkerboard_facts,
    conv_by_matrix,
    conv_matrix,
    conv_transpose_by_matrix,
    conv_transpose_torch,
    feature_map_demo,
    matching_output_padding,
    scatter_and_sum,
    zero_insertion,
)
from ..ui.figures.upconv import scatter_picture
from ..ui.tables import html_table
from ..ui.widgets import View, Widget, number_box
from . import l03_exercises, l03_layer
from ._text import lesson_text
from .l03_exercises import *  # noqa: F403 (its __all__ is re-exported: the notebook calls L.<name>)
from .l03_layer import *  # noqa: F403 (its __all__ is re-exported: the notebook calls L.<name>)
from .l03_layer import LIMITS, UpConv, layer_facts

TEXT = lesson_text(__name__)

__all__ = (
    [
        "transposed_checks",
        "transposed_checks_html",
        "feature_map_demo",
        "DEMO_CHANNELS",
        "LESSON",
        "WIDGETS",
        "up_modes_check",
        "up_modes_html",
        "upconv_view",
        "controls",
    ]
    + l03_layer.__all__
    + l03_exercises.__all__
)

LESSON = TEXT.lesson

# --------------------------------------------------------------------------
# why "transposed": C, C^T and zero insertion against the real layers
# --------------------------------------------------------------------------
# (input size, kernel size, stride, padding): U-Net's up-conv, a 3x3 conv, and a 3x3 stride-2 conv with padding
TRANSPOSED_CASES = ((4, 2, 2, 0), (4, 3, 1, 0), (5, 3, 2, 1), (6, 3, 2, 0))


def transposed_checks(cases=TRANSPOSED_CASES, seed: int = 0) -> list[dict]:
    """For each ``(size, k, stride, padding)``: the matrix C of the convolution (built from a random kernel),
    C x against ``nn.Conv2d`` and C^T y against ``nn.ConvTranspose2d`` with the same kernel (shapes
    included), and the zero-insertion view against ``nn.ConvTranspose2d``; seeded random numbers."""
    import torch
    from torch import nn

    rng = np.random.default_rng(seed)
    rows = []
    for size, k, s, p in cases:
        # whole numbers without zeros, so that every non-zero of C is a kernel weight where the kernel lands
        kernel = (rng.integers(1, 4, size=(k, k)) * rng.choice([-1, 1], size=(k, k))).astype(np.float64)
        x = rng.standard_normal((size, size))
        c = conv_matrix(kernel, size, s, p)
        conv = nn.Conv2d(1, 1, k, stride=s, padding=p, bias=False, dtype=torch.float64)
        op = matching_output_padding(size, k, s, p)
        up = nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op, bias=False, dtype=torch.float64)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(kernel)[None, None])
            up.weight.copy_(torch.from_numpy(kernel)[None, None])
            real_y = conv(torch.from_numpy(x)[None, None])[0, 0].numpy()
            y = rng.standard_normal(real_y.shape)
            real_up = up(torch.from_numpy(y)[None, None])[0, 0].numpy()
        ours_y, ours_up = conv_by_matrix(x, kernel, s, p), conv_transpose_by_matrix(y, kernel, size, s, p)
        zeros = zero_insertion(y, kernel, s, p, op).output
        rows.append(
            {
                "case": (size, k, s, p),
                "output_padding": op,
                "C": c.shape,
                "y": real_y.shape,
                "conv_agrees": ours_y.shape == real_y.shape and bool(np.allclose(ours_y, real_y)),
                "up_shape": real_up.shape,
                "transpose_agrees": ours_up.shape == real_up.shape and bool(np.allclose(ours_up, real_up)),
                "zeros_agree": zeros.shape == real_up.shape and bool(np.allclose(zeros, real_up)),
                "copies_per_pixel": tuple(sorted({int(n) for n in np.count_nonzero(c.T, axis=1)})),
            }
        )
    return rows


def transposed_checks_html(cases=TRANSPOSED_CASES) -> str:
    def tick(ok):
        return "yes" if ok else "NO"

    rows = []
    for r in transposed_checks(cases):
        size, k, s, p = r["case"]
        rows.append(
            (
                f"{k}×{k} conv, stride {s}, padding {p} on {size}×{size}",
                f"{r['C'][0]} × {r['C'][1]}",
                tick(r["conv_agrees"]),
                f"{r['y'][0]}×{r['y'][1]} → {r['up_shape'][0]}×{r['up_shape'][1]}"
                + (f" (output_padding {r['output_padding'][0]})" if any(r["output_padding"]) else ""),
                tick(r["transpose_agrees"]),
                tick(r["zeros_agree"]),
                ", ".join(map(str, r["copies_per_pixel"])),
            )
        )
    head = (
        "the convolution",
        "C (rows × columns)",
        "C x = nn.Conv2d",
        "Cᵀ y: size",
        "Cᵀ y = nn.ConvTranspose2d",
        "zero insertion = nn.ConvTranspose2d",
        "non-zeros per row of Cᵀ",
    )
    return html_table(head, rows, css="ul-upconv-transposed")


# --------------------------------------------------------------------------
# the alternative: bilinear upsampling + conv
# --------------------------------------------------------------------------
def up_modes_check(input_size=572, **options) -> list[dict]:
    """Each up step of U-Net in both modes: the shape table's row next to the real ``UpSample`` module
    (its parameters, counted on the meta device, and its output size from a real forward pass of a
    1-channel twin), which must agree."""
    import torch

    from ..core.model import UpSample
    from ..core.shapes import shape_table

    rows = []
    for mode in ("upconv", "bilinear"):
        table = shape_table(input_size, **{**options, "up_mode": mode})
        for r in table.where(kind="up"):
            c_in, h, w = r.in_shape
            with torch.device("meta"):  # the full-size module's parameters, without allocating them
                module = UpSample(c_in, r.out_shape[0], mode)
            last = module.up if mode == "upconv" else module.up[-1]
            with torch.no_grad():  # the output size from a real forward pass of a 1-channel twin
                h_out, w_out = UpSample(1, 1, mode)(torch.zeros(1, 1, h, w)).shape[-2:]
            rows.append(
                {
                    "mode": mode,
                    "level": r.level,
                    "operation": r.operation,
                    "in_shape": r.in_shape,
                    "out_shape": r.out_shape,
                    "params": r.params,
                    "real_out_shape": (last.out_channels, h_out, w_out),
                    "real_params": sum(p.numel() for p in module.parameters()),
                }
            )
    return rows


def up_modes_html(input_size=572, **options) -> str:
    rows = up_modes_check(input_size, **options)
    head = ["mode", "level", "operation", "input (H×W×C)", "output (H×W×C)", "params (table)", "real module agrees"]
    cells, styles = [], []
    for r in rows:
        (ci, hi, wi), (co, ho, wo) = r["in_shape"], r["out_shape"]
        ok = r["real_out_shape"] == r["out_shape"] and r["real_params"] == r["params"]
        cells.append(
            [
                r["mode"],
                r["level"],
                r["operation"],
                f"{hi}×{wi}×{ci}",
                f"{ho}×{wo}×{co}",
                f"{r['params']:,}",
                "yes" if ok else f"NO: {r['real_out_shape']}, {r['real_params']:,}",
            ]
        )
        styles.append("background:" + ("#eaf7ea" if r["mode"] == "upconv" else "#e8f1fb"))
    return html_table(head, cells, css="ul-upconv-modes", row_styles=styles)


# --------------------------------------------------------------------------
# the widget's view
# --------------------------------------------------------------------------
def _numeric_check(up: UpConv):
    """Scatter-and-sum against the real nn.ConvTranspose2d on seeded random numbers, within the limits."""
    work, canvas = up.work, up.canvas
    small = (
        work <= LIMITS["numeric work"]
        and canvas <= LIMITS["numeric canvas"]
        and up.out_channels * canvas * canvas <= LIMITS["elements"]
    )
    if not small:
        return (
            float("nan"),
            None,
            (
                f"Not compared number by number: scatter-and-sum here would take {work:,} multiply-adds on a "
                f"{canvas:,}×{canvas:,} canvas, beyond this widget's limits ({LIMITS['numeric work']:,} and "
                f"{LIMITS['numeric canvas']:,}); the tests compare it with nn.ConvTranspose2d on hundreds of settings."
            ),
        )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((up.in_channels, up.size, up.size))
    w = rng.standard_normal((up.in_channels, up.out_channels, up.kernel, up.kernel))
    ours = scatter_and_sum(x, w, up.stride, up.padding, up.output_padding)
    real = conv_transpose_torch(x, w, up.stride, up.padding, up.output_padding)
    max_diff = float(np.abs(ours - real).max())
    agrees = bool(ours.shape == real.shape and max_diff < 1e-9)
    return (
        max_diff,
        agrees,
        (
            f"scatter-and-sum vs the real nn.ConvTranspose2d on random numbers: largest difference "
            f"{max_diff:.1e} ({'they agree' if agrees else 'they DISAGREE'})."
        ),
    )


def _overlap_words(f: dict, kernel: int, stride: int) -> str:
    if f["interior_min"] == 0:
        return (
            f"Gaps: the kernel ({kernel}) is smaller than the stride ({stride}), so some output pixels "
            "are painted by no copy at all and stay 0 (plus the bias)."
        )
    if f["uneven"]:
        return (
            f"Uneven overlap: inside the map some pixels are painted by {f['interior_min']:,} copies and "
            f"their neighbours by {f['interior_max']:,} (the stride {stride} does not divide the kernel "
            f"{kernel}): a checkerboard pattern, even for a flat input."
        )
    n = f["interior_min"]
    return (
        f"Even overlap: away from the borders every output pixel is painted by exactly {n:,} "
        f"cop{'y' if n == 1 else 'ies'} (the stride {stride} divides the kernel {kernel})."
    )


def upconv_view(
    size: int = 4,
    kernel: int = 2,
    stride: int = 2,
    padding: int = 0,
    output_padding: int = 0,
    in_channels: int = 4,
    out_channels: int = 2,
) -> View:
    """The widget: output size and the formula with numbers, the weight shape and parameter count of the
    real layer, the scatter picture, and the real ``nn.ConvTranspose2d`` agreeing with scatter-and-sum.

    The arithmetic (size, formula, parameters, copies per pixel) answers any setting at once; the real
    layer, the number-by-number check and the picture run within :data:`LIMITS`, and the view says in
    words what it did not run."""
    up = UpConv(size, kernel, stride, padding, output_padding, in_channels, out_channels)
    size, kernel, stride, padding, output_padding = up.size, up.kernel, up.stride, up.padding, up.output_padding
    in_channels, out_channels = up.in_channels, up.out_channels
    formula = up.formula  # raises with a clear message
    out, canvas = formula.result, up.canvas
    facts = layer_facts(up, max_work=LIMITS["view work"])
    real_shape, params = facts["out_shape"], facts["params"]
    max_diff, agrees, check = _numeric_check(up)
    if agrees is None and facts["ran"] != "formula":
        agrees = real_shape == (out_channels, out, out)
        check += f" The real layer's output shape {real_shape} {'agrees' if agrees else 'DISAGREES'} with the formula."
    f = checkerboard_facts(size, kernel, stride, padding, output_padding)
    lines = [
        f"<p style='font-size:15px'><b>{size}×{size}×{in_channels} → {out}×{out}×{out_channels}</b> "
        f"(size ×{out / size:.3g}, channels ×{out_channels / in_channels:.3g})</p>",
        f"<p>Size rule H<sub>out</sub> = (H − 1)·s − 2p + k + output_padding: "
        f"<code class='ul-formula'>{html.escape(formula.text)}</code></p>",
        f"<p>Real layer: <code>{html.escape(facts['layer'])}</code>, output shape (C, H, W) = {real_shape} "
        f"({html.escape(facts['how'])}); weight shape (in, out, k, k) = {facts['weight_shape']}, "
        f"{params:,} parameters ({facts['weights']:,} weights + {out_channels:,} biases).</p>",
        f"<p>{html.escape(check)}</p>",
        f"<p>{html.escape(_overlap_words(f, kernel, stride))}</p>",
    ]
    drawable = canvas <= 2 * LIMITS["draw"] and out <= LIMITS["draw"]
    fig = scatter_picture(size, kernel, stride, padding, output_padding) if drawable else None
    if fig is None:
        lines.append(
            f"<p class='ul-note'><i>Not drawn: the picture is drawn for outputs up to {LIMITS['draw']} pixels (copies "
            f"covering up to {2 * LIMITS['draw']}); here the output is {out:,} and the copies cover {canvas:,}.</i></p>"
        )
    data = {
        "output": out,
        "formula": formula.text,
        "params": params,
        "weight_shape": facts["weight_shape"],
        "real_shape": real_shape,
        "ran": facts["ran"],
        "agrees": agrees,
        "max_diff": max_diff,
        "min_overlap": f["interior_min"],
        "max_overlap": f["interior_max"],
        "uneven": f["uneven"],
        "drawn": drawable,
    }
    return View(html="".join(lines), figure=fig, data=data)


def controls() -> dict:
    """The widget's controls: IntText boxes, so any number a student types reaches the view."""
    return {
        "size": number_box(4, "input size", "150px"),
        "kernel": number_box(2, "kernel", "150px"),
        "stride": number_box(2, "stride", "150px"),
        "padding": number_box(0, "padding", "150px"),
        "output_padding": number_box(0, "output_padding", "150px"),
        "in_channels": number_box(4, "in channels", "150px"),
        "out_channels": number_box(2, "out channels", "150px"),
    }


WIDGETS = {"upconv": Widget(upconv_view, controls, css="ul-upconv", title="The up-conv: size, formula, overlap")}
