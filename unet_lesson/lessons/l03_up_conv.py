r"""Lesson 03: the transposed convolution, U-Net's "up-conv" (转置卷积, 上采样 upsampling).

The notes: *Transconv: size x2, channel 1/2*, and at the bottom of the U
``28x28x1024 -> up-conv -> 56x56x512``. This module holds everything the lesson shows:

* :func:`scatter_and_sum`: the transposed convolution by hand. Every input pixel paints a copy
  of the kernel, scaled by its value, into the output at stride ``s``; where copies overlap they
  add up; ``padding`` then trims the border. The tests prove it equals ``nn.ConvTranspose2d``
  for many kernels, strides, paddings and output paddings; :func:`conv_transpose_torch` runs
  the real layer on the same numbers.
* :func:`scatter_steps` and :func:`scatter_steps_figure`: the same, one input pixel at a time.
* :func:`overlap_count`, :func:`uneven_overlap`, :func:`checkerboard_figure`: why a kernel that
  the stride does not divide (3x3, stride 2) paints some pixels more often than others (the
  checkerboard artifact) and why U-Net's 2x2, stride 2 does not.
* :func:`layer_facts`: the real layer's weight shape ``(in, out, k, k)``, parameter count and
  output shape (the notes' 28x28x1024 -> 56x56x512).
* :func:`feature_map_demo` / :func:`feature_map_figure`: an up-conv on a real (generated) image.
* :func:`up_modes_check` / :func:`up_modes_html`: the bilinear + 1x1 conv alternative, same shapes.
* :func:`upconv_view`: the widget's view (plain function, tested without a browser).
* ``EX_*``: the exercises, answers computed here.
"""

from __future__ import annotations

import html
import math

import numpy as np

from ..core.env import seeded
from ..core.parse import whole
from ..core.sizes import up_conv_out
from ..core.transposed import checkerboard_facts, conv_transpose_torch, scatter_and_sum, uneven_overlap
from ..ui.course import Lesson
from ..ui.exercises import Exercise, same_answer
from ..ui.figures.upconv import scatter_picture
from ..ui.tables import html_table, key_value_table
from ..ui.widgets import View, Widget

__all__ = [
    "EXAMPLE_INPUT",
    "EXAMPLE_KERNEL",
    "UNET_KERNEL",
    "real_layer",
    "layer_facts",
    "layer_facts_html",
    "feature_map_demo",
    "DEMO_CHANNELS",
    "LESSON",
    "WIDGETS",
    "up_modes_check",
    "up_modes_html",
    "upconv_view",
    "controls",
    "EX_SHAPE",
    "EX_PARAMS",
    "EX_SIZE_RULE",
    "EX_OVERLAP",
    "EX_SLIP",
    "EX_CENTRE",
    "EXERCISES",
]

LESSON = Lesson(
    3,
    "03_up_conv",
    "The up-conv",
    minutes=35,
    topics=(1, 7),
    summary="transposed convolution: size x2, channels 1/2, scatter and sum, checkerboards",
)

# The lesson's tiny example: a 2x2 input and a 3x3 "tent" kernel (the outer product of [1, 2, 1]).
EXAMPLE_INPUT = np.array([[1.0, 2.0], [3.0, 4.0]])
EXAMPLE_KERNEL = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0])
# U-Net's up-conv is 2x2 with stride 2; four different numbers make each copy recognisable.
UNET_KERNEL = np.array([[1.0, 2.0], [3.0, 4.0]])


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
    """The one parser (unet_lesson.core.parse.whole), with this lesson's words for what each setting means."""
    return whole(value, name, minimum=minimum, hint=_WHAT.get(name, ""))


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
    """A real ``nn.ConvTranspose2d``; on the ``meta`` device it has shapes but allocates no memory."""
    from torch import nn

    with seeded(0):  # its weights are not what it shows; they must not come from the student's RNG
        return nn.ConvTranspose2d(
            _whole("in_channels", in_channels, 1),
            _whole("out_channels", out_channels, 1),
            _whole("kernel", kernel, 1),
            stride=_whole("stride", stride, 1),
            padding=_whole("padding", padding, 0),
            output_padding=_whole("output_padding", output_padding, 0),
            device=device,
        )


_REAL_PARAMS = 20_000_000  # up to this many parameters the layer is built for real, on the CPU
_REAL_WORK = 2 * 10**9  # and run on a map of zeros while its multiply-adds stay below this


def layer_facts(
    size: int = 28,
    in_channels: int = 1024,
    out_channels: int = 512,
    kernel: int = 2,
    stride: int = 2,
    padding: int = 0,
    output_padding: int = 0,
) -> dict:
    """Everything about one up-conv, read from the real layer: weight and bias shapes, parameter
    count, and the output shape of a forward pass. Defaults: the notes' bottom up-conv,
    28x28x1024 -> 56x56x512 (a real forward pass on the CPU, a fraction of a second).

    For settings too large to run in a moment, the layer lives on PyTorch's ``meta`` device (shapes
    without memory) and the output size comes from a real 1-channel twin with the same kernel,
    stride and padding; ``how`` says which was used."""
    import torch

    size, kernel, stride = _whole("size", size, 1), _whole("kernel", kernel, 1), _whole("stride", stride, 1)
    padding, output_padding = _whole("padding", padding, 0), _whole("output_padding", output_padding, 0)
    in_channels, out_channels = _whole("in_channels", in_channels, 1), _whole("out_channels", out_channels, 1)
    out = up_conv_out(size, kernel, stride, padding, output_padding)  # a clear message for an impossible setting
    f = up_conv_out.explain(size, kernel, stride, padding, output_padding)
    n_params = in_channels * out_channels * kernel * kernel + out_channels
    layer = real_layer(
        in_channels,
        out_channels,
        kernel,
        stride,
        padding,
        output_padding,
        device="cpu" if n_params <= _REAL_PARAMS else "meta",
    )
    with torch.no_grad():
        if n_params <= _REAL_PARAMS and n_params * size * size <= _REAL_WORK:
            c, h, w = layer(torch.zeros(1, in_channels, size, size)).shape[1:]
            how = "real forward pass"
        elif out <= 2048 and (kernel * size) ** 2 <= _REAL_WORK:
            twin = real_layer(1, 1, kernel, stride, padding, output_padding, device="cpu")
            h, w = twin(torch.zeros(1, 1, size, size)).shape[-2:]
            c = layer.out_channels
            how = "real forward pass of a 1-channel twin (same kernel, stride, padding)"
        else:
            try:
                c, h, w = layer.to("meta")(torch.empty(1, in_channels, size, size, device="meta")).shape[1:]
                how = "forward pass on PyTorch's meta device (shapes only)"
            except RuntimeError:  # more elements than PyTorch can count: the formula is all there is
                c, h, w = out_channels, out, out
                how = "from the formula only: PyTorch cannot even describe a map this large"
    return {
        "in_shape_notes": (size, size, in_channels),  # H x W x C, as the notes write it
        "out_shape_notes": (h, w, c),
        "in_shape": (in_channels, size, size),  # C x H x W, as PyTorch stores it
        "out_shape": (c, h, w),
        "weight_shape": tuple(layer.weight.shape),  # (in, out, k, k)
        "bias_shape": tuple(layer.bias.shape),
        "weights": layer.weight.numel(),
        "params": sum(p.numel() for p in layer.parameters()),
        "formula": f.text,
        "output": out,
        "how": how,
        "layer": (
            f"nn.ConvTranspose2d({in_channels}, {out_channels}, kernel_size={kernel}, stride={stride}"
            + (f", padding={padding}" if padding else "")
            + (f", output_padding={output_padding}" if output_padding else "")
            + ")"
        ),
    }


def layer_facts_html(**kwargs) -> str:
    f = layer_facts(**kwargs)
    (hi, wi, ci), (ho, wo, co) = f["in_shape_notes"], f["out_shape_notes"]
    ws = "×".join(map(str, f["weight_shape"]))
    rows = [
        ("layer", f["layer"]),
        ("input (H×W×C)", f"{hi}×{wi}×{ci}"),
        ("output (H×W×C)", f"{ho}×{wo}×{co}   ({f['how']})"),
        ("size rule", f["formula"]),
        ("weight shape (in, out, k, k)", ws),
        ("parameters", f"{f['weights']:,} weights + {f['bias_shape'][0]:,} biases = {f['params']:,}"),
    ]
    return key_value_table(rows, css="ul-upconv-facts")


# --------------------------------------------------------------------------
# an up-conv on a real picture
# --------------------------------------------------------------------------
# hand-set 3x3 kernels, so every channel of the demo can be read: a blur, the pixel itself, two edge detectors
_DEMO_KERNELS = np.array(
    [
        np.full((3, 3), 1 / 9),
        np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
        np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 2,
        np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]) / 2,
    ],
    dtype=np.float32,
)
DEMO_CHANNELS = (
    "blur",
    "the pixel itself",
    "dark-to-bright edges, left to right",
    "dark-to-bright edges, top to bottom",
)


def feature_map_demo(image, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """A contracting step and an up-conv on a real image: 3x3 valid conv (1 -> 4 channels, hand-set
    kernels: a blur, the pixel itself, two edge detectors) + ReLU, 2x2 max pool (size 1/2), then a 2x2
    stride-2 up-conv 4 -> 2 channels (size x2, channels 1/2), twice: with flat kernels (each output
    channel paints a flat 2x2 block from the mean of two input channels) and with untrained,
    seeded random kernels (as PyTorch initialises them). Returns ``[(label, (C, H, W) array)]``."""
    import torch
    from torch import nn

    from ..core.inspect import as_batch

    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {img.shape}.")
    if min(img.shape) < 4:
        raise ValueError(
            f"image {img.shape[0]}×{img.shape[1]} is too small: the 3x3 conv and the 2x2 pool "
            "need at least 4 pixels per side."
        )
    with seeded(seed):  # every weight is set below; the default init must not draw from the student's RNG
        conv = nn.Conv2d(1, 4, 3)
        flat = nn.ConvTranspose2d(4, 2, kernel_size=2, stride=2)
        rand = nn.ConvTranspose2d(4, 2, kernel_size=2, stride=2)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(_DEMO_KERNELS)[:, None])
        conv.bias.zero_()
        flat.weight.zero_()
        for c_in in range(4):  # output channel c_in // 2 paints the mean of input channels (0, 1) or (2, 3)
            flat.weight[c_in, c_in // 2] = 0.5
        flat.bias.zero_()
        bound = 1 / math.sqrt(rand.weight[0].numel())  # PyTorch's default range, seeded
        rand.weight.copy_(torch.rand(rand.weight.shape, generator=gen) * 2 * bound - bound)
        rand.bias.zero_()
        x = as_batch(img)
        a = torch.relu(conv(x))
        b = nn.MaxPool2d(2)(a)
        c, d = flat(b), rand(b)
    return [
        ("input", x[0].numpy()),
        ("3x3 conv + ReLU", a[0].numpy()),
        ("2x2 max pool", b[0].numpy()),
        ("up-conv 2x2, s=2\n(flat kernels)", c[0].numpy()),
        ("up-conv 2x2, s=2\n(untrained, random)", d[0].numpy()),
    ]


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
_NUMERIC_LIMIT = 2 * 10**7  # multiply-adds of the numeric check; beyond, check the shape only
_DRAW_LIMIT = 96  # largest output drawn


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
    real layer, the scatter picture, and the real ``nn.ConvTranspose2d`` agreeing with scatter-and-sum."""
    values = dict(
        size=size,
        kernel=kernel,
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        in_channels=in_channels,
        out_channels=out_channels,
    )
    size, kernel, stride, padding, output_padding, in_channels, out_channels = (
        _whole(name, v, 0 if "padding" in name else 1) for name, v in values.items()
    )
    out = up_conv_out(size, kernel, stride, padding, output_padding)  # raises with a clear message
    formula = up_conv_out.explain(size, kernel, stride, padding, output_padding)

    # the real layer: its output shape, weight shape and parameters
    facts = layer_facts(size, in_channels, out_channels, kernel, stride, padding, output_padding)
    real_shape, params = facts["out_shape"], facts["params"]

    # the real numbers: scatter-and-sum against nn.ConvTranspose2d on seeded random values
    work = size * size * in_channels * out_channels * kernel * kernel
    if work <= _NUMERIC_LIMIT and size <= 64 and out <= 512:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((in_channels, size, size))
        w = rng.standard_normal((in_channels, out_channels, kernel, kernel))
        ours = scatter_and_sum(x, w, stride, padding, output_padding)
        real = conv_transpose_torch(x, w, stride, padding, output_padding)
        max_diff = float(np.abs(ours - real).max())
        agrees = bool(ours.shape == real.shape and max_diff < 1e-9)
        check = (
            f"scatter-and-sum vs the real nn.ConvTranspose2d on random numbers: largest difference "
            f"{max_diff:.1e} ({'they agree' if agrees else 'they DISAGREE'})."
        )
    elif facts["how"].startswith("from the formula"):
        max_diff, agrees = float("nan"), None
        check = (
            "this map is too large for PyTorch to represent, so nothing can be checked against the real "
            "layer; the formula is the one the tests check against nn.ConvTranspose2d."
        )
    else:
        max_diff, agrees = float("nan"), real_shape == (out_channels, out, out)
        check = (
            "this setting is too large to compare every number in a widget; the real layer's output "
            f"shape {real_shape} {'agrees' if agrees else 'DISAGREES'} with the formula."
        )

    f = checkerboard_facts(size, kernel, stride, padding, output_padding)
    ratio = out / size
    if f["interior_min"] == 0:
        overlap = (
            f"Gaps: the kernel ({kernel}) is smaller than the stride ({stride}), so some output pixels "
            "are painted by no copy at all and stay 0 (plus the bias)."
        )
    elif f["uneven"]:
        overlap = (
            f"Uneven overlap: inside the map some pixels are painted by {f['interior_min']} copies and "
            f"their neighbours by {f['interior_max']} (the stride {stride} does not divide the kernel "
            f"{kernel}): a checkerboard pattern, even for a flat input."
        )
    else:
        overlap = (
            f"Even overlap: away from the borders every output pixel is painted by exactly "
            f"{f['interior_min']} cop{'y' if f['interior_min'] == 1 else 'ies'} "
            f"(the stride {stride} divides the kernel {kernel})."
        )
    lines = [
        f"<p style='font-size:15px'><b>{size}×{size}×{in_channels} → {out}×{out}×{out_channels}</b> "
        f"(size ×{ratio:.3g}, channels ×{out_channels / in_channels:.3g})</p>",
        f"<p>Size rule H<sub>out</sub> = (H − 1)·s − 2p + k + output_padding: "
        f"<code class='ul-formula'>{html.escape(formula.text)}</code></p>",
        f"<p>Real layer: <code>{html.escape(facts['layer'])}</code>, output shape (C, H, W) = {real_shape} "
        f"({html.escape(facts['how'])}); weight shape (in, out, k, k) = {facts['weight_shape']}, "
        f"{params:,} parameters ({facts['weights']:,} weights + {out_channels:,} biases).</p>",
        f"<p>{html.escape(check)}</p>",
        f"<p>{html.escape(overlap)}</p>",
    ]
    canvas = max((size - 1) * stride + kernel, padding + out)
    drawable = canvas <= 2 * _DRAW_LIMIT and out <= _DRAW_LIMIT
    fig = scatter_picture(size, kernel, stride, padding, output_padding) if drawable else None
    if fig is None:
        lines.append(
            f"<p><i>The picture is drawn for outputs up to {_DRAW_LIMIT} pixels (copies covering up to "
            f"{2 * _DRAW_LIMIT}); here the output is {out} and the copies cover {canvas}.</i></p>"
        )
    data = {
        "output": out,
        "formula": formula.text,
        "params": params,
        "weight_shape": facts["weight_shape"],
        "real_shape": real_shape,
        "agrees": agrees,
        "max_diff": max_diff,
        "min_overlap": f["interior_min"],
        "max_overlap": f["interior_max"],
        "uneven": f["uneven"],
    }
    return View(html="".join(lines), figure=fig, data=data)


def controls() -> dict:
    """The widget's controls: IntText boxes, so any number a student types reaches the view."""
    import ipywidgets as W

    def box(name, value, desc):
        return W.IntText(value=value, description=desc, layout=W.Layout(width="150px"))

    return {
        "size": box("size", 4, "input size"),
        "kernel": box("kernel", 2, "kernel"),
        "stride": box("stride", 2, "stride"),
        "padding": box("padding", 0, "padding"),
        "output_padding": box("output_padding", 0, "output_padding"),
        "in_channels": box("in_channels", 4, "in channels"),
        "out_channels": box("out_channels", 2, "out channels"),
    }


WIDGETS = {"upconv": Widget(upconv_view, controls, css="ul-upconv", title="The up-conv: size, formula, overlap")}


# --------------------------------------------------------------------------
# exercises (answers computed here, never typed into the notebook)
# --------------------------------------------------------------------------
def _shape_hint(answer) -> str:
    f = layer_facts()
    h, w, c = f["out_shape_notes"]
    if same_answer(answer, (h, w, f["in_shape_notes"][2])):
        return "the size is right, but the channels are the layer's out_channels (the second argument)."
    if same_answer(answer, (c, h, w)):
        return "right numbers, but in PyTorch's C×H×W order; the notes (and this question) write H×W×C."
    if same_answer(answer, (f["in_shape_notes"][0], f["in_shape_notes"][1], c)):
        return "the channels are right; now the size: (H - 1)*s - 2p + k with H=28, s=2, p=0, k=2."
    return "write it as 'HxWxC'. Size: (H - 1)*s - 2p + k; channels: the layer's out_channels."


def _params_hint(answer) -> str:
    f = layer_facts()
    if same_answer(answer, f["weights"]):
        return "that is the weights only: every output channel also has one bias."
    if same_answer(answer, f["params"] - f["bias_shape"][0] + f["in_shape"][0]):
        return "one bias per *output* channel, not per input channel."
    return "weights: in × out × k × k (the weight's shape is (in, out, k, k)); add one bias per output channel."


def _size_hint(answer) -> str:
    h, k, s, p, op = 5, 3, 2, 1, 1
    right = up_conv_out(h, k, s, p, op)
    if same_answer(answer, right - op):
        return "you forgot the output_padding: it adds its rows at the end."
    if same_answer(answer, right + 2 * p):
        return "padding trims p rows from *each* side of the output: subtract 2p."
    if same_answer(answer, right + 1):
        return "no '+ 1' here, and it is not simply H*s: (H - 1)*s - 2p + k + output_padding."
    return "(H - 1)*s - 2p + k + output_padding, with H=5, s=2, p=1, k=3, output_padding=1."


EX_SHAPE = Exercise(
    "3.1",
    "The notes' up-conv: the bottom map 28×28×1024 goes through nn.ConvTranspose2d(1024, 512, kernel_size=2, "
    "stride=2). What comes out? Answer as H×W×C, like the notes (e.g. '10x10x3').",
    expected=lambda: layer_facts()["out_shape_notes"],
    hint=_shape_hint,
    explanation="(28 - 1)*2 + 2 = 56: size ×2, and 512 kernels: channels 1/2, exactly the notes' 56×56×512.",
)

EX_PARAMS = Exercise(
    "3.2",
    "How many learned parameters does that up-conv, nn.ConvTranspose2d(1024, 512, kernel_size=2, stride=2), have?",
    expected=lambda: layer_facts()["params"],
    hint=_params_hint,
    explanation="weight (1024, 512, 2, 2) = 2,097,152 numbers, plus 512 biases: one 2×2 kernel per "
    "(input channel, output channel) pair.",
)

EX_SIZE_RULE = Exercise(
    "3.3",
    "A 5×5 map goes through nn.ConvTranspose2d(..., kernel_size=3, stride=2, padding=1, output_padding=1). "
    "What is the output's height?",
    expected=lambda: up_conv_out(5, kernel=3, stride=2, padding=1, output_padding=1),
    hint=_size_hint,
    explanation="(5 - 1)*2 - 2*1 + 3 + 1 = 10: this common setting also doubles the size (2H), but its "
    "3×3 kernel overlaps unevenly.",
)

_OVERLAP_CHOICES = {"a": (3, 2), "b": (5, 2), "c": (2, 2), "d": (4, 3)}

EX_OVERLAP = Exercise(
    "3.4",
    "Which up-conv paints every output pixel (away from the borders) with the same number of kernel copies, "
    "so that a flat input gives a flat output with an all-ones kernel?",
    expected=lambda: next(letter for letter, (k, s) in _OVERLAP_CHOICES.items() if not uneven_overlap(k, s)),
    hint="copies of width k placed s apart cover a pixel k/s times on average; the count is the same for every "
    "pixel only when s divides k. Try them in the widget and watch the 'copies per pixel' map.",
    explanation="2×2 with stride 2: each input pixel paints its own 2×2 block, the blocks tile the output "
    "without overlap, so nothing is painted twice. That is U-Net's up-conv.",
    choices={
        letter: f"{k}×{k} kernel, stride {s}" + (" (U-Net's up-conv)" if (k, s) == (2, 2) else "")
        for letter, (k, s) in _OVERLAP_CHOICES.items()
    },
)

EX_SLIP = Exercise(
    "3.5",
    "Spot the slip: a sketch in the notes reads 16²×1024 → up-conv 2×2 → 64²×512. What size does a 2×2, "
    "stride-2 up-conv really give for a 16×16 map? (one number: its height)",
    expected=lambda: up_conv_out(16, kernel=2, stride=2),
    hint="the notes themselves say 'size ×2': (16 - 1)*2 + 2.",
    explanation="16 -> 32. A 2×2 stride-2 up-conv doubles; it cannot reach 64 from 16. With same padding the "
    "bottom stays 32²×1024, and the up-conv then gives 64²×512, as the notes intended.",
)

EX_CENTRE = Exercise(
    "3.6",
    "In the step-by-step example (input [[1, 2], [3, 4]], the 3×3 kernel [[1, 2, 1], [2, 4, 2], [1, 2, 1]], "
    "stride 2) what is the value of the output's centre pixel, at row 2, column 2?",
    expected=lambda: float(scatter_and_sum(EXAMPLE_INPUT, EXAMPLE_KERNEL, stride=2)[2, 2]),
    hint="all four input pixels paint the centre: each contributes its value × the kernel entry that lands "
    "there (a corner of the kernel, which is 1). Add them up.",
    explanation="1·1 + 2·1 + 3·1 + 4·1 = 10: the centre is where all four copies overlap.",
)

EXERCISES = [EX_SHAPE, EX_PARAMS, EX_SIZE_RULE, EX_OVERLAP, EX_SLIP, EX_CENTRE]
