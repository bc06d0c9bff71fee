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
* ``EX_*``: the exercises, answers computed here.
"""

from __future__ import annotations

import html
from functools import lru_cache

import numpy as np

from ..core.crops import LARGEST, not_giant
from ..core.env import cpu_threads, seeded
from ..core.parse import whole
from ..core.sizes import conv_out, up_conv_out
from ..core.transposed import (
    DEMO_CHANNELS,
    checkerboard_facts,
    conv_by_matrix,
    conv_matrix,
    conv_transpose_by_matrix,
    conv_transpose_torch,
    feature_map_demo,
    matching_output_padding,
    overlap_levels,
    scatter_and_sum,
    uneven_overlap,
    zero_insertion,
)
from ..ui.checkers import check_conv_transpose
from ..ui.course import Lesson
from ..ui.exercises import CodeExercise, Exercise, same_answer
from ..ui.figures.upconv import scatter_picture
from ..ui.tables import html_table, key_value_table
from ..ui.widgets import View, Widget

__all__ = [
    "EXAMPLE_INPUT",
    "EXAMPLE_KERNEL",
    "UNET_KERNEL",
    "LIMITS",
    "real_layer",
    "layer_facts",
    "layer_facts_html",
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
    "EX_SHAPE",
    "EX_CENTRE",
    "EX_CONV_TRANSPOSE",
    "EX_SIZE_RULE",
    "EX_SLIP",
    "EX_PARAMS",
    "EX_MATRIX",
    "EX_OVERLAP",
    "EXERCISES",
]

LESSON = Lesson(
    3,
    "03_up_conv",
    "The up-conv",
    minutes=35,
    topics=(1, 7),
    summary="transposed convolution: size x2, channels 1/2, scatter and sum, C transposed, checkerboards",
)

# The lesson's tiny example: a 2x2 input and a 3x3 "tent" kernel (the outer product of [1, 2, 1]).
EXAMPLE_INPUT = np.array([[1.0, 2.0], [3.0, 4.0]])
EXAMPLE_KERNEL = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0])
# U-Net's up-conv is 2x2 with stride 2; four different numbers make each copy recognisable.
UNET_KERNEL = np.array([[1.0, 2.0], [3.0, 4.0]])

#: What is run for real, and up to where (beyond, the arithmetic answers and the view says what it did not run).
LIMITS = {
    "largest value": LARGEST,  # any setting: beyond 10**100, a message (no map has a googol pixels)
    "elements": 2**21,  # channels x pixels of the input and the output, and weights, of a layer run on the CPU
    "pixels": 2**18,  # pixels (H x W) of a map, and of the copies' canvas, run for real (512 x 512)
    "work": 2 * 10**9,  # multiply-adds of the full layer's forward pass (about half a second)
    "view work": 5 * 10**8,  # the same, in the widget (it reruns on every change)
    "twin work": 2 * 10**8,  # multiply-adds of the 1-channel twin that measures the output size
    "numeric work": 2 * 10**6,  # the widget's number-by-number check of scatter-and-sum
    "numeric canvas": 1024,  # ... and the largest canvas it paints
    "draw": 96,  # largest output drawn (the copies may cover up to twice that)
}


# --------------------------------------------------------------------------
# checking what a student typed
# --------------------------------------------------------------------------
_WHAT = {
    "size": "It is the input map's height and width: a feature map needs at least one row and one column.",
    "kernel": "It is the kernel's height and width: a kernel has at least one weight.",
    "stride": "It is how far apart neighbouring input pixels paint their kernel copies; a stride of 0 would "
    "paint every copy on the same spot, so stride 1 is the smallest.",
    "padding": "It is how many rows and columns are trimmed from each border of the output; use 0 for no trimming.",
    "output_padding": "It is the extra rows and columns added at the bottom and right of the output; use 0 for none.",
    "in_channels": "It is the number of channels of the input map.",
    "out_channels": "It is the number of channels of the output map (kernels of the layer).",
}


def _whole(name: str, value, minimum: int) -> int:
    """The one parser (unet_lesson.core.parse.whole), with this lesson's words for what each setting means,
    after the course's largest value (so that every number it prints can be printed)."""
    return whole(not_giant(value, name, _WHAT.get(name, "")), name, minimum=minimum, hint=_WHAT.get(name, ""))


def _settings(size, kernel, stride, padding, output_padding, in_channels, out_channels) -> tuple[int, ...]:
    values = dict(
        size=size,
        kernel=kernel,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        in_channels=in_channels,
        out_channels=out_channels,
    )
    return tuple(_whole(name, v, 0 if "padding" in name else 1) for name, v in values.items())


# --------------------------------------------------------------------------
# the real layer: weight shape (in, out, k, k), parameters, channels 1/2
# --------------------------------------------------------------------------
def real_layer(
    in_channels: int = 1024,
    out_channels: int = 512,
    kernel: int = 2,
    stride: int = 2,
    padding: int = 0,
    output_padding: int = 0,
    device: str = "meta",
):
    """A real ``nn.ConvTranspose2d``; on the ``meta`` device it has shapes but allocates no memory. On the
    CPU its weights are at most ``LIMITS["elements"]`` numbers."""
    from torch import nn

    _, kernel, stride, padding, output_padding, in_channels, out_channels = _settings(
        1, kernel, stride, padding, output_padding, in_channels, out_channels
    )
    weights = in_channels * out_channels * kernel * kernel
    if str(device) != "meta" and weights > LIMITS["elements"]:
        raise ValueError(
            f"this layer has {weights:,} weights, more than the {LIMITS['elements']:,} the course builds in memory; "
            "use device='meta' (shapes without memory)."
        )
    if weights >= 2**62:
        raise ValueError(f"PyTorch cannot describe a weight of {weights:,} numbers, even on the meta device.")
    with seeded(0):  # its weights are not what it shows; they must not come from the student's RNG
        return nn.ConvTranspose2d(
            in_channels,
            out_channels,
            kernel,
            stride=stride,
            padding=padding,
            output_padding=output_padding,
            device=device,
        )


def layer_facts(
    size: int = 28,
    in_channels: int = 1024,
    out_channels: int = 512,
    kernel: int = 2,
    stride: int = 2,
    padding: int = 0,
    output_padding: int = 0,
    *,
    max_work: int | None = None,
) -> dict:
    """Everything about one up-conv, read from the real layer: weight and bias shapes, parameter
    count, and the output shape of a forward pass. Defaults: the notes' bottom up-conv,
    28x28x1024 -> 56x56x512 (a real forward pass on the CPU, about half a second).

    The shapes and counts come from the layer built on PyTorch's ``meta`` device (shapes without
    memory, instant for any size PyTorch can describe). The forward pass runs on the CPU while the
    input, the output, the copies' canvas and the weights each stay within ``LIMITS["elements"]``
    and the multiply-adds within ``max_work`` (default ``LIMITS["work"]``); beyond, a 1-channel twin
    with the same kernel, stride and padding measures the output size while it is small; beyond
    that, the size comes from the formula alone. ``how`` says in words which was done."""
    import torch

    size, kernel, stride, padding, output_padding, in_channels, out_channels = _settings(
        size, kernel, stride, padding, output_padding, in_channels, out_channels
    )
    f = up_conv_out.explain(size, kernel, stride, padding, output_padding)  # a clear message for an impossible one
    out = f.result
    max_work = LIMITS["work"] if max_work is None else max_work
    weights = in_channels * out_channels * kernel * kernel
    canvas = max((size - 1) * stride + kernel, padding + out)
    limit, pixels = LIMITS["elements"], LIMITS["pixels"]
    work = in_channels * out_channels * kernel * kernel * size * size
    twin = size * size <= pixels and canvas * canvas <= pixels and kernel * kernel * size * size <= LIMITS["twin work"]
    full = (
        twin
        and weights <= limit
        and in_channels * size * size <= limit
        and out_channels * canvas * canvas <= limit
        and work <= max_work
    )
    describable = weights < 2**62
    conv_shape = None
    if describable:
        from torch import nn

        layer = real_layer(in_channels, out_channels, kernel, stride, padding, output_padding)  # meta: no memory
        weight_shape, bias_shape = tuple(layer.weight.shape), tuple(layer.bias.shape)
        params = sum(p.numel() for p in layer.parameters())
        conv_shape = tuple(nn.Conv2d(in_channels, out_channels, kernel, device="meta").weight.shape)
    else:
        weight_shape, bias_shape, params = (
            (in_channels, out_channels, kernel, kernel),
            (out_channels,),
            weights + out_channels,
        )
    with torch.no_grad(), cpu_threads(1):  # one thread: on a busy machine a second one only spin-waits
        if full:
            layer = real_layer(in_channels, out_channels, kernel, stride, padding, output_padding, device="cpu")
            c, h, w = layer(torch.zeros(1, in_channels, size, size)).shape[1:]
            how = "real forward pass"
        elif twin:
            twin_layer = real_layer(1, 1, kernel, stride, padding, output_padding, device="cpu")
            h, w = twin_layer(torch.zeros(1, 1, size, size)).shape[-2:]
            c = out_channels
            how = (
                f"the full layer is not run here: {work:,} multiply-adds, {weights:,} weights and maps of up to "
                f"{max(in_channels * size * size, out_channels * canvas * canvas):,} numbers, beyond this view's "
                f"limits ({max_work:,} multiply-adds, {limit:,} numbers); the size comes from a real forward pass of a "
                "1-channel twin with the same kernel, stride and padding"
            )
        else:
            c, h, w = out_channels, out, out
            how = (
                f"not run: a {size:,}×{size:,} map painted onto a {canvas:,}×{canvas:,} canvas is more than the "
                f"{pixels:,} pixels (or {LIMITS['twin work']:,} multiply-adds) this view runs; the size comes from the "
                "formula, which the tests check against nn.ConvTranspose2d"
            )
    if not describable:
        how += "; the weight is too large even for PyTorch's meta device, so its shape and count are arithmetic"
    return {
        "in_shape_notes": (size, size, in_channels),  # H x W x C, as the notes write it
        "out_shape_notes": (int(h), int(w), int(c)),
        "in_shape": (in_channels, size, size),  # C x H x W, as PyTorch stores it
        "out_shape": (int(c), int(h), int(w)),
        "weight_shape": weight_shape,  # (in, out, k, k)
        "conv_weight_shape": conv_shape,  # nn.Conv2d's (out, in, k, k), for comparison
        "bias_shape": bias_shape,
        "weights": weights,
        "params": params,
        "formula": f.text,
        "output": out,
        "how": how,
        "ran": "full" if full else ("twin" if twin else "formula"),
        "layer": (
            f"nn.ConvTranspose2d({in_channels}, {out_channels}, kernel_size={kernel}, stride={stride}"
            + (f", padding={padding}" if padding else "")
            + (f", output_padding={output_padding}" if output_padding else "")
            + ")"
        ),
    }


@lru_cache(maxsize=1)
def _notes_layer() -> dict:
    """The notes' up-conv, 28x28x1024 -> 56x56x512, measured the cheap way (meta device and a 1-channel twin):
    what the exercises compare with, in milliseconds."""
    return layer_facts(max_work=0)


def layer_facts_html(params: bool = True, **kwargs) -> str:
    """:func:`layer_facts` as a table; ``params=False`` shows the shapes only (before the exercise on them)."""
    f = layer_facts(**kwargs)
    (hi, wi, ci), (ho, wo, co) = f["in_shape_notes"], f["out_shape_notes"]
    rows = [
        ("layer", f["layer"]),
        ("input (H×W×C)", f"{hi}×{wi}×{ci}"),
        ("output (H×W×C)", f"{ho}×{wo}×{co}   ({f['how']})"),
        ("size rule", f["formula"]),
    ]
    if params:
        rows += [
            ("weight shape (in, out, k, k)", "×".join(map(str, f["weight_shape"]))),
            ("parameters", f"{f['weights']:,} weights + {f['bias_shape'][0]:,} biases = {f['params']:,}"),
        ]
        if f["conv_weight_shape"]:
            rows.append(("nn.Conv2d with the same numbers stores", f"(out, in, k, k) = {f['conv_weight_shape']}"))
    return key_value_table(rows, css="ul-upconv-facts")


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
def _numeric_check(size, kernel, stride, padding, output_padding, in_channels, out_channels, out, canvas):
    """Scatter-and-sum against the real nn.ConvTranspose2d on seeded random numbers, within the limits."""
    work = size * size * in_channels * out_channels * kernel * kernel
    small = (
        work <= LIMITS["numeric work"]
        and canvas <= LIMITS["numeric canvas"]
        and out_channels * canvas * canvas <= LIMITS["elements"]
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
    x = rng.standard_normal((in_channels, size, size))
    w = rng.standard_normal((in_channels, out_channels, kernel, kernel))
    ours = scatter_and_sum(x, w, stride, padding, output_padding)
    real = conv_transpose_torch(x, w, stride, padding, output_padding)
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
    size, kernel, stride, padding, output_padding, in_channels, out_channels = _settings(
        size, kernel, stride, padding, output_padding, in_channels, out_channels
    )
    formula = up_conv_out.explain(size, kernel, stride, padding, output_padding)  # raises with a clear message
    out = formula.result
    facts = layer_facts(
        size, in_channels, out_channels, kernel, stride, padding, output_padding, max_work=LIMITS["view work"]
    )
    real_shape, params = facts["out_shape"], facts["params"]
    canvas = max((size - 1) * stride + kernel, padding + out)
    max_diff, agrees, check = _numeric_check(
        size, kernel, stride, padding, output_padding, in_channels, out_channels, out, canvas
    )
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
    import ipywidgets as W

    def box(value, desc):
        return W.IntText(value=value, description=desc, layout=W.Layout(width="150px"))

    return {
        "size": box(4, "input size"),
        "kernel": box(2, "kernel"),
        "stride": box(2, "stride"),
        "padding": box(0, "padding"),
        "output_padding": box(0, "output_padding"),
        "in_channels": box(4, "in channels"),
        "out_channels": box(2, "out channels"),
    }


WIDGETS = {"upconv": Widget(upconv_view, controls, css="ul-upconv", title="The up-conv: size, formula, overlap")}


# --------------------------------------------------------------------------
# exercises (answers computed here, never typed into the notebook)
# --------------------------------------------------------------------------
def _shape_hint(answer) -> str:
    f = _notes_layer()
    (h, w, c), (hi, wi, ci) = f["out_shape_notes"], f["in_shape_notes"]
    if same_answer(answer, (h, w, ci)):
        return "the size is right, but the channels are the layer's out_channels (the second argument)."
    if same_answer(answer, (c, h, w)):
        return "right numbers, but in PyTorch's C×H×W order; the notes (and this question) write H×W×C."
    if same_answer(answer, (hi, wi, c)):
        return "the channels are right; now the size: the notes say the size doubles."
    return "write it as 'HxWxC'."


EX_SHAPE = Exercise(
    "3.1",
    "Before opening the layer: the notes' bottom map 28×28×1024 goes through the up-conv "
    "nn.ConvTranspose2d(1024, 512, kernel_size=2, stride=2). Going by the notes' rule for a Transconv "
    "(size ×2, channel 1/2), what comes out? Answer as H×W×C, like the notes (e.g. '10x10x3').",
    expected=lambda: _notes_layer()["out_shape_notes"],
    hint=_shape_hint,
    hints=[
        "The NOTE page gives a Transconv's rule in two parts: one for the size, one for the channels.",
        "Size ×2 for the height and the width; the channels are the layer's second argument, out_channels (1/2).",
        "A 10×10×64 map through nn.ConvTranspose2d(64, 32, 2, stride=2) gives 20×20×32.",
    ],
    explanation="(28 - 1)*2 + 2 = 56: size ×2, and 512 kernels per input channel: channels 1/2, the notes' "
    "56×56×512. The cell below runs the real layer.",
)


def _centre_hint(answer) -> str:
    copies = scatter_and_sum(EXAMPLE_INPUT, EXAMPLE_KERNEL, stride=2)
    if same_answer(answer, float(EXAMPLE_KERNEL[1, 1] * EXAMPLE_INPUT.sum())):
        return "each copy puts a *corner* of its kernel on the centre pixel, not the kernel's middle."
    if same_answer(answer, float(copies.max())):
        return "that is the largest output pixel; the centre is row 2, column 2."
    return ""


EX_CENTRE = Exercise(
    "3.2",
    "Predict before the picture: the input [[1, 2], [3, 4]] goes through a transposed convolution with the 3×3 "
    "kernel [[1, 2, 1], [2, 4, 2], [1, 2, 1]] and stride 2 (output 5×5). What is the value of the output's "
    "centre pixel, at row 2, column 2?",
    expected=lambda: float(scatter_and_sum(EXAMPLE_INPUT, EXAMPLE_KERNEL, stride=2)[2, 2]),
    hint=_centre_hint,
    hints=[
        "Input pixel (i, j) paints its value × the kernel with the copy's top-left corner at (2i, 2j). Which "
        "copies reach (2, 2)?",
        "Every copy covers rows 2i..2i+2 and columns 2j..2j+2, so all four reach (2, 2); each adds its input "
        "value × the kernel entry at (2 − 2i, 2 − 2j).",
        "x[0, 0] = 1 puts its kernel entry (2, 2) there: 1 × 1. x[0, 1] = 2 puts entry (2, 0): 2 × 1. Now add "
        "x[1, 0] and x[1, 1].",
    ],
    explanation="1·1 + 2·1 + 3·1 + 4·1 = 10: the centre is where all four copies overlap, each with a corner of "
    "its kernel.",
)

EX_CONV_TRANSPOSE = CodeExercise(
    "3.3",
    "Write conv_transpose(x, w, stride): the transposed convolution of a 2-D numpy map x (H, W) with a k×k "
    "kernel w, by scatter and sum, no padding, as nn.ConvTranspose2d computes it.",
    check_conv_transpose,
    hints=[
        "Each input pixel paints a copy of w, scaled by its value; start from an output of zeros and add the "
        "copies one by one.",
        "The output is (H − 1)·s + k by (W − 1)·s + k; pixel (i, j) adds x[i, j] * w to "
        "out[i*s : i*s + k, j*s : j*s + k] (use +=: overlapping copies add up).",
        "[[1, 2], [3, 4]] with a 3×3 kernel and stride 2: a 5×5 output; the copies overlap in row 2 and "
        "column 2, and the centre gets all four.",
    ],
    explanation="Scatter and sum is the whole layer: PyTorch's nn.ConvTranspose2d computes exactly this "
    "(for many channels, each (input, output) channel pair has its own kernel and the copies are summed).",
)


def _size_hint(answer) -> str:
    h, k, s, p, op = 7, 3, 2, 1, 1
    right = up_conv_out(h, k, s, p, op)
    if same_answer(answer, right - op):
        return "you forgot the output_padding: it adds its rows at the end."
    if same_answer(answer, right + 2 * p):
        return "padding trims p rows from *each* side of the output: subtract 2p."
    if same_answer(answer, right + 1):
        return "no '+ 1' here: (H - 1)*s - 2p + k + output_padding."
    if same_answer(answer, conv_out(h, k, s, p)):
        return "that is the convolution's rule; the transposed convolution runs it backwards."
    return ""


EX_SIZE_RULE = Exercise(
    "3.4",
    "A 7×7 map goes through nn.ConvTranspose2d(..., kernel_size=3, stride=2, padding=1, output_padding=1). "
    "What is the output's height?",
    expected=lambda: up_conv_out(7, kernel=3, stride=2, padding=1, output_padding=1),
    hint=_size_hint,
    hints=[
        "Start from how far the copies reach: the last input pixel starts its copy at (H − 1)·s, and the copy "
        "is k long; then padding trims and output_padding adds.",
        "H_out = (H − 1)·s − 2p + k + output_padding.",
        "A 4×4 map with k=3, s=2, p=1, output_padding=1: (4 − 1)·2 − 2 + 3 + 1 = 8.",
    ],
    explanation="(7 - 1)*2 - 2*1 + 3 + 1 = 14 = 2·7: this common setting also doubles the size, but its "
    "3×3 kernel overlaps unevenly (the checkerboard below).",
)

EX_SLIP = Exercise(
    "3.5",
    "Spot the slip: a sketch in the notes reads 16²×1024 → up-conv 2×2 → 64²×512. What size does a 2×2, "
    "stride-2 up-conv really give for a 16×16 map? (one number: its height)",
    expected=lambda: up_conv_out(16, kernel=2, stride=2),
    hint=lambda a: (
        "that is the notes' number: a 2×2 stride-2 up-conv doubles, it cannot quadruple." if same_answer(a, 64) else ""
    ),
    hints=[
        "The same notes write the up-conv's rule next to that arrow: size ×2.",
        "For k = 2, s = 2, p = 0: (H − 1)·2 + 2 = 2H.",
        "Step (7) of the notes: 28 → 56.",
    ],
    explanation="16 -> 32. A 2×2 stride-2 up-conv doubles; it cannot reach 64 from 16. With same padding the "
    "bottom stays 32²×1024, and the up-conv then gives 64²×512, as the notes intended.",
)


def _params_hint(answer) -> str:
    f = _notes_layer()
    if same_answer(answer, f["weights"]):
        return "that is the weights only: every output channel also has one bias."
    if same_answer(answer, f["weights"] + f["in_shape"][0]):
        return "one bias per *output* channel, not per input channel."
    if same_answer(answer, f["weights"] // 4 + f["bias_shape"][0]):
        return "each (input, output) pair has a whole 2×2 kernel: 4 weights, not 1."
    return ""


EX_PARAMS = Exercise(
    "3.6",
    "How many learned parameters does the notes' up-conv, nn.ConvTranspose2d(1024, 512, kernel_size=2, stride=2), "
    "have?",
    expected=lambda: _notes_layer()["params"],
    hint=_params_hint,
    hints=[
        "Count one k×k kernel for every (input channel, output channel) pair, then the biases.",
        "in × out × k × k weights, plus one bias per output channel.",
        "nn.ConvTranspose2d(4, 2, 2, stride=2): 4·2·2·2 = 32 weights + 2 biases = 34.",
    ],
    explanation="weight (1024, 512, 2, 2) = 2,097,152 numbers, plus 512 biases: one 2×2 kernel per "
    "(input channel, output channel) pair.",
)


def _matrix_hint(answer) -> str:
    rows, cols = conv_matrix(UNET_KERNEL, 4, 2).shape
    if same_answer(answer, (cols, rows)):
        return "that is Cᵀ, the up-conv's matrix; C itself has one row per *output* pixel of the convolution."
    if same_answer(answer, (2, 4)) or same_answer(answer, (4, 4)):
        return "count pixels, not rows of the map: a 4×4 map flattened is a vector of 16 numbers."
    return ""


EX_MATRIX = Exercise(
    "3.7",
    "A 2×2 convolution with stride 2 (no padding) on a 4×4 map, written as y = C x with the maps flattened row "
    "by row into vectors: how many rows and how many columns does C have? Answer as (rows, columns).",
    expected=lambda: conv_matrix(UNET_KERNEL, 4, 2).shape,
    hint=_matrix_hint,
    hints=[
        "C turns the input vector into the output vector: one row per output pixel, one column per input pixel.",
        "rows = H_out·W_out with H_out = (4 − 2)//2 + 1; columns = H·W of the input.",
        "A 3×3 conv with stride 1 on a 5×5 map gives a 3×3 output, so its C is (9, 25).",
    ],
    explanation="The 2×2 output has 4 pixels and the 4×4 input 16: C is 4 × 16, and Cᵀ, 16 × 4, takes a 2×2 "
    "map back to 4×4, size ×2: U-Net's up-conv.",
)

_OVERLAP_CHOICES = {"a": (3, 2), "b": (5, 2), "c": (2, 2), "d": (4, 3)}

EX_OVERLAP = Exercise(
    "3.8",
    "Which up-conv paints every output pixel (away from the borders) with the same number of kernel copies, "
    "so that a flat input gives a flat output with an all-ones kernel?",
    expected=lambda: next(letter for letter, (k, s) in _OVERLAP_CHOICES.items() if not uneven_overlap(k, s)),
    hint=lambda a: (
        f"with that kernel and stride the copies per pixel alternate between "
        f"{' and '.join(map(str, overlap_levels(*_OVERLAP_CHOICES[a.strip().lower()])))} along each axis."
        if isinstance(a, str) and a.strip().lower() in _OVERLAP_CHOICES
        else ""
    ),
    hints=[
        "Copies k pixels wide, placed s pixels apart: along one axis, how many of them cover a pixel?",
        "On average k/s copies cover a pixel; the count is the same for every pixel inside only when s divides k.",
        "3×3 with stride 2: 3/2 is not whole, so a pixel gets 1 or 2 copies per axis (1, 2 or 4 in 2-D).",
    ],
    explanation="2×2 with stride 2: each input pixel paints its own 2×2 block, the blocks tile the output "
    "without overlap, so nothing is painted twice. That is U-Net's up-conv.",
    choices={
        letter: f"{k}×{k} kernel, stride {s}" + (" (U-Net's up-conv)" if (k, s) == (2, 2) else "")
        for letter, (k, s) in _OVERLAP_CHOICES.items()
    },
)

EXERCISES = [EX_SHAPE, EX_CENTRE, EX_CONV_TRANSPOSE, EX_SIZE_RULE, EX_SLIP, EX_PARAMS, EX_MATRIX, EX_OVERLAP]
