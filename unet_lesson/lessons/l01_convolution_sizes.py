r"""Lesson 01, convolution sizes (卷积 convolution): the views behind its widgets, and its exercises.

The notes' first numbers: a 3x3 convolution with stride 1 and no padding ("valid") takes the
572x572x1 input image to 570x570x64 (64 kernels give 64 channels), and a second one to
568x568x64; the rule is ``h - k + 1``, and in general

.. math:: H_{out} = \left\lfloor \frac{H + 2p - d(k-1) - 1}{s} \right\rfloor + 1

with ``p`` the padding (填充) *per side* and ``s`` the stride (步长).

The exercises live in :mod:`.l01_exercises` (re-exported here). Every number shown here comes
from :func:`unet_lesson.core.sizes.conv_out` and is checked against a real ``nn.Conv2d`` run on a
tensor of that size (one channel, no grad, so it is fast). Each view answers any value at once with
the arithmetic; what runs a real layer or draws has a stated limit (``MAX_SIZE``, ``MAX_WORK``,
``IMAGE_MAX``, ...), and beyond it the view says what it did not run.
"""

from __future__ import annotations

import html

import numpy as np
import torch
from torch import nn

from ..core.env import cpu_threads, seeded
from ..core.parse import whole
from ..core.shapes import fmt_shape, shape_table
from ..core.sizes import LayerSizeError, conv_out
from ..seg.data import sample_image
from ..ui.figures.conv import (
    MAX_ROW_CELLS,
    footprint_figure,
    grid_positions_figure,
    kernels_figure,
    row_cells,
    row_positions_figure,
)
from ..ui.receptive import stack_widget
from ..ui.tables import html_table, key_value_table
from ..ui.widgets import View, Widget, number_box, window_boxes
from . import l01_exercises
from ._text import lesson_text
from .l01_exercises import *  # noqa: F403 (its __all__ is re-exported: the notebook calls L.<name>)

TEXT = lesson_text(__name__)

__all__ = [
    "LESSON",
    "WIDGETS",
    "controls",
    "MAX_SIZE",
    "MAX_WORK",
    "IMAGE_MAX",
    "MAX_IMAGE_PADDING",
    "MAX_MAPS",
    "real_conv_shape",
    "conv_size_view",
    "row_positions_figure",
    "grid_positions_figure",
    "IMAGE_KERNELS",
    "kernels_on_image_view",
    "many_kernels_view",
    "first_convs_view",
    "smallest_input",
    "stack_view",
] + l01_exercises.__all__

LESSON = TEXT.lesson

#: the widget runs a real nn.Conv2d on a size x size tensor; beyond this it would be slow to redraw
MAX_SIZE = 1024
#: ... and while output pixels x kernel weights (multiply-adds) stay below this
MAX_WORK = 30_000_000
#: the pictures of kernels on the sample image are drawn up to this size ...
IMAGE_MAX = 256
#: ... and this padding per side
MAX_IMAGE_PADDING = 32
#: the picture of many kernels draws at most this many feature maps
MAX_MAPS = 64
#: at most this many random kernels beside the hand-made ones
MAX_RANDOM = 6
#: the stack experiment draws what one output pixel sees up to this many pixels across
MAX_FOOTPRINT = 17


# ------------------------------------------------------------------------------------------
# the size widget
# ------------------------------------------------------------------------------------------
@torch.no_grad()
def real_conv_shape(size: int, kernel: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1) -> tuple:
    """The output shape of a real one-channel ``nn.Conv2d`` applied to a ``(1, 1, size, size)`` tensor (the
    channels do not change the height and width)."""
    with seeded(0):  # its weights do not matter here; they must not come from the student's RNG
        layer = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation, bias=False)
    with cpu_threads(1):  # one small layer: a second thread only waits for the first on a busy machine
        return tuple(layer(torch.zeros(1, 1, size, size)).shape)


def conv_size_view(size=572, kernel=3, stride=1, padding=0, dilation=1) -> View:
    """Output size of one convolution: the formula with the numbers in it, beside a real ``nn.Conv2d``.

    The formula answers any size at once (it is arithmetic). The real layer runs while the padded input
    is at most ``MAX_SIZE`` pixels wide and the layer's multiply-adds stay below ``MAX_WORK``; the row
    picture is drawn while it needs at most ``MAX_ROW_CELLS`` cells. Beyond, the view says so.

    ``data``: ``output`` (the formula's result), ``torch_output`` (the real layer's output height, or ""
    when it was not run), ``padded`` (the input plus the padding on both sides), ``positions_dropped``
    (pixels at the end of a row that no kernel position reaches).
    """
    f = conv_out.explain(size, kernel, stride, padding, dilation)  # parses and explains an impossible setting
    size, kernel, stride, padding, dilation = (
        whole(v, n)
        for v, n in (
            (size, "size"),
            (kernel, "kernel"),
            (stride, "stride"),
            (padding, "padding"),
            (dilation, "dilation"),
        )
    )
    k_eff = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    last_end = (f.result - 1) * stride + k_eff  # one past the last pixel the last position covers
    dropped = padded - last_end
    work = f.result**2 * kernel**2
    if padded > MAX_SIZE:
        limit = (
            f"the padded input would be {padded:,}×{padded:,} pixels, more than this widget's limit of "
            f"{MAX_SIZE:,} for a real nn.Conv2d and the picture (it reruns on every change)"
        )
    elif work > MAX_WORK:
        limit = (
            f"{f.result:,}×{f.result:,} output pixels × {kernel}×{kernel} weights are {work:,} multiply-adds, "
            f"more than this widget's {MAX_WORK:,} per change"
        )
    else:
        limit = None
    runs = limit is None
    torch_shape = real_conv_shape(size, kernel, stride, padding, dilation) if runs else None
    agree = runs and torch_shape[-1] == f.result and torch_shape[-2] == f.result
    rows = [
        ("input", f"{size}×{size}×1"),
        ("padding (填充) p", f"{padding} per side: {2 * padding} in total, padded input {padded}×{padded}"),
        ("kernel k", f"{kernel}×{kernel}" + (f", dilation {dilation}: spans {k_eff}×{k_eff}" if dilation > 1 else "")),
        ("stride (步长) s", f"{stride}"),
        (
            "kernel positions per row",
            f"{f.result}"
            + (f"; the last {dropped} pixel(s) of each padded row are never reached (floor)" if dropped else ""),
        ),
    ]
    if runs:
        verdict = (
            "<span style='color:#1e7b1e'>✓ agrees</span>" if agree else "<span style='color:#b3261e'>✗ disagrees</span>"
        )
        real = (
            f"<div>real <code>nn.Conv2d(1, 1, kernel_size={kernel}, stride={stride}, padding={padding}"
            f"{', dilation=' + str(dilation) if dilation != 1 else ''})</code> on a tensor of shape "
            f"<code>(1, 1, {size}, {size})</code> gives <code>{tuple(torch_shape)}</code> {verdict}</div>"
        )
    else:
        real = (
            f"<div class='ul-note'>Not run: {html.escape(limit)}. The formula above holds for any size; "
            "the tests check it against nn.Conv2d.</div>"
        )
    draws = runs and row_cells(size, kernel, stride, padding, dilation) <= MAX_ROW_CELLS
    if runs and not draws:
        real += (
            f"<div class='ul-note'>Not drawn: the row picture shows at most {MAX_ROW_CELLS} cells, and a kernel "
            f"spanning {k_eff:,} pixels with stride {stride:,} needs more.</div>"
        )
    body = (
        f"<div><b>Output size: {f.result}×{f.result}</b> &nbsp; <code>{html.escape(f.text)}</code><br>"
        f"<span style='color:#555'>rule: <code>{html.escape(f.general)}</code></span></div>"
        + key_value_table(rows)
        + real
    )
    fig = row_positions_figure(size, kernel, stride, padding, dilation) if draws else None
    data = {
        "size": size,
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "output": f.result,
        "torch_output": torch_shape[-1] if runs else "",
        "agree": agree,
        "padded": padded,
        "positions_dropped": dropped,
        "formula": f.text,
    }
    return View(html=body, figure=fig, data=data)


def controls() -> dict:
    """The size widget's controls: IntText boxes, so a negative or odd value reaches the view and is explained."""
    return {**window_boxes(572, 3, 1, 0), "dilation": number_box(1, "dilation d")}


WIDGETS = {
    "conv": Widget(conv_size_view, controls, css="ul-conv", title="One convolution: input size -> output size"),
    # which input pixels one output pixel of a conv stack sees (unet_lesson.ui.receptive)
    "field": stack_widget(),
}


# ------------------------------------------------------------------------------------------
# what a convolution does to a real image
# ------------------------------------------------------------------------------------------
#: hand-made 3x3 kernels (卷积核) with a name a student can read
IMAGE_KERNELS = {
    "vertical edges": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "outline (Laplacian)": [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
    "blur": [[1 / 9] * 3] * 3,
}


def _random_kernels(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 3, 3, generator=g) / 3


def _not_drawn(what: str, limit: str) -> str:
    return f"<div class='ul-note'>Not drawn: {html.escape(what)} {html.escape(limit)}</div>"


@torch.no_grad()
def kernels_on_image_view(size: int = 96, padding: int = 0, n_random: int = 2, seed: int = 0) -> View:
    """The sample image through a few 3x3 kernels (edge detectors, blur, random ones) in one real ``nn.Conv2d``.

    One conv layer holds all the kernels, so the output has one channel (通道) per kernel. The sizes come
    from ``conv_out`` for any value; the real layer runs and the picture is drawn up to ``IMAGE_MAX``
    pixels and ``MAX_IMAGE_PADDING`` of padding per side.
    ``data``: ``input``, ``output`` (height of every output map, from ``nn.Conv2d`` when drawn),
    ``channels``, ``expected`` (from ``conv_out``).
    """
    f = conv_out.explain(size, 3, 1, padding)  # parses size and padding, explains a map too small
    size, padding = whole(size, "size"), whole(padding, "padding")
    n_random = whole(n_random, "n_random (random kernels)", minimum=0, maximum=MAX_RANDOM)
    seed = whole(seed, "seed", minimum=0, maximum=2**63 - 1)
    names = list(IMAGE_KERNELS) + [f"random {i + 1}" for i in range(n_random)]
    k = len(names)
    layer_text = f"<code>nn.Conv2d(1, {k}, kernel_size=3, padding={padding})</code>"
    formula = f"Formula: <code>{html.escape(f.text)}</code>"
    data = {"input": size, "output": f.result, "channels": k, "expected": f.result, "padding": padding}
    if size > IMAGE_MAX or padding > MAX_IMAGE_PADDING:
        html_ = (
            f"<div>One {layer_text} holding {k} kernels: input <code>{size}×{size}×1</code> -> output "
            f"<code>{f.result}×{f.result}×{k}</code> (one channel per kernel). {formula}</div>"
            + _not_drawn(
                "the picture runs the real layer on the sample image up to",
                f"{IMAGE_MAX} pixels and {MAX_IMAGE_PADDING} pixels of padding per side; the sizes above "
                "are the formula's, which the tests check against nn.Conv2d.",
            )
        )
        return View(html=html_, data=data)
    img = sample_image(size)
    weights = torch.cat(
        [torch.tensor(IMAGE_KERNELS[n], dtype=torch.float32)[None, None] for n in IMAGE_KERNELS]
        + [_random_kernels(n_random, seed)]
    )
    with seeded(0):  # the weights are set just below
        layer = nn.Conv2d(1, k, 3, padding=padding, bias=False)
    layer.weight.copy_(weights)
    maps = layer(torch.tensor(img)[None, None])[0]
    fig = kernels_figure(img, weights[:, 0].numpy(), maps.numpy(), names)
    html_ = (
        f"<div>One {layer_text} holding these {k} kernels: input <code>{size}×{size}×1</code> -> output "
        f"<code>{maps.shape[-2]}×{maps.shape[-1]}×{k}</code> (one channel per kernel). {formula}</div>"
    )
    data["output"] = int(maps.shape[-1])
    return View(html=html_, figure=fig, data=data, tight=False)


@torch.no_grad()
def many_kernels_view(size: int = 64, kernels: int = 64, seed: int = 0) -> View:
    """ "64 kernels -> 64 channels": the sample image through the first 3x3 conv of U-Net (random weights,
    fixed seed), every output channel drawn as a feature map (特征图).

    The parameter count comes from a real ``nn.Conv2d`` on PyTorch's meta device (no memory) for any
    number of kernels; the layer runs on the image and the maps are drawn up to ``IMAGE_MAX`` pixels,
    at most ``MAX_MAPS`` of them."""
    from ..ui.plotting import feature_map_grid

    f = conv_out.explain(size, 3)
    size = whole(size, "size")
    kernels = whole(kernels, "kernels", minimum=1, maximum=1_000_000)
    seed = whole(seed, "seed", minimum=0, maximum=2**63 - 1)
    with torch.device("meta"):
        params = sum(p.numel() for p in nn.Conv2d(1, kernels, kernel_size=3).parameters())
    data = {"input": size, "output": f.result, "channels": kernels, "expected": f.result, "params": params}
    text = (
        f"<code>nn.Conv2d(1, {kernels}, kernel_size=3)</code> on <code>{size}×{size}×1</code> gives "
        f"<code>(1, {kernels}, {f.result}, {f.result})</code>: {kernels} kernels, each 1×3×3 = 9 weights + 1 bias "
        f"({params:,} parameters), so {kernels} feature maps of {f.result}×{f.result}."
    )
    if size > IMAGE_MAX:
        return View(
            html=f"<div>{text}</div>"
            + _not_drawn("the maps are computed and drawn up to", f"{IMAGE_MAX} pixels; the sizes are the formula's."),
            data=data,
        )
    shown = min(kernels, MAX_MAPS)
    with seeded(seed):
        layer = nn.Conv2d(1, shown, kernel_size=3)  # only the kernels that are drawn
    maps = layer(torch.tensor(sample_image(size))[None, None])
    fig = feature_map_grid(
        maps, n=shown, ncols=min(shown, 16), size=0.9, cmap="gray", title=f"{kernels} kernels -> {kernels} channels"
    )
    note = f" The first {shown} are drawn." if shown < kernels else ""
    data["output"] = int(maps.shape[-1])
    return View(html=f"<div>{text}{note}</div>", figure=fig, data=data)


def first_convs_view(size: int = 572) -> View:
    """The notes' first line computed: input -> first 3x3 conv -> second 3x3 conv, from the shape table."""
    t = shape_table(size)
    c1, c2 = t.where(module="down_convs.0.conv1")[0], t.where(module="down_convs.0.conv2")[0]
    chain = " -> ".join(fmt_shape(s, "notes") for s in (c1.in_shape, c1.out_shape, c2.out_shape))
    html_ = (
        f"<div style='font-family:monospace'>{html.escape(chain)}</div>"
        f"<div style='font-size:12px;color:#555'>{html.escape(c1.formula)}; {html.escape(c2.formula)}</div>"
    )
    return View(
        html=html_,
        data={"input": size, "conv1": c1.out_shape[1], "conv2": c2.out_shape[1], "channels": c1.out_shape[0]},
    )


# ------------------------------------------------------------------------------------------
# the experiment: a stack of small convs against one big one (what U-Net shares with VGG)
# ------------------------------------------------------------------------------------------
def smallest_input(kernels) -> int:
    """The smallest input for which valid convs (stride 1) with these kernel sizes still give one output
    pixel, found with the size rule ``conv_out``: that input is what one output pixel sees."""
    h = 1
    while True:
        try:
            x = h
            for k in kernels:
                x = conv_out(x, k)
            return h
        except LayerSizeError:
            h += 1


def _footprint(kernels) -> np.ndarray:
    """Autograd on real layers: d(centre output pixel)/d(input) for valid convs with all-ones weights
    (ReLUs between them; the input is all ones, so every ReLU passes its gradient)."""
    reach = smallest_input(kernels)
    layers = []
    for k in kernels:
        with seeded(0):  # the weights are set just below
            conv = nn.Conv2d(1, 1, k, bias=False)
        with torch.no_grad():
            conv.weight.fill_(1.0)
        layers += [conv, nn.ReLU()]
    x = torch.ones(1, 1, reach + 4, reach + 4, requires_grad=True)
    y = nn.Sequential(*layers)(x)
    y[0, 0, y.shape[-2] // 2, y.shape[-1] // 2].backward()
    return x.grad[0, 0].numpy()


def _extent(grid: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(grid)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def stack_view(n: int = 2, kernel: int = 3, channels: int = 64, size: int = 572) -> View:
    """``n`` stacked valid ``kernel``x``kernel`` convs against one conv that sees as far, all ``channels`` ->
    ``channels``: what one output pixel sees (by the size rule and by autograd on real layers), the
    weights (real layers on PyTorch's meta device, so any channel count answers at once), and the size
    of a ``size``-pixel map after each."""
    n = whole(n, "n (convs in the stack)", minimum=1, maximum=6)
    kernel = whole(kernel, "kernel", minimum=1, maximum=9)
    channels = whole(channels, "channels", minimum=1, maximum=4096)
    stack_sees = smallest_input([kernel] * n)
    single_sees = smallest_input([stack_sees])
    after_stack = size
    for _ in range(n):
        after_stack = conv_out(after_stack, kernel)
    after_single = conv_out(size, stack_sees)
    with torch.device("meta"):
        stack = [nn.Conv2d(channels, channels, kernel) for _ in range(n)]
        single = nn.Conv2d(channels, channels, stack_sees)
    w_stack = sum(c.weight.numel() for c in stack)
    w_single = single.weight.numel()
    b_stack, b_single = sum(c.bias.numel() for c in stack), single.bias.numel()
    fp_stack, fp_single = _footprint([kernel] * n), _footprint([stack_sees])
    rows = [
        (
            f"{n} × nn.Conv2d({channels}, {channels}, {kernel})",
            f"{stack_sees}×{stack_sees}",
            "{}×{}".format(*_extent(fp_stack)),
            f"{n}·{kernel}²·{channels}² = {w_stack:,}",
            f"{w_stack + b_stack:,}",
            n,
            f"{size} → {after_stack}",
        ),
        (
            f"1 × nn.Conv2d({channels}, {channels}, {stack_sees})",
            f"{single_sees}×{single_sees}",
            "{}×{}".format(*_extent(fp_single)),
            f"{stack_sees}²·{channels}² = {w_single:,}",
            f"{w_single + b_single:,}",
            1,
            f"{size} → {after_single}",
        ),
    ]
    table = html_table(
        [
            "layers",
            "one output pixel sees (size rule)",
            "(autograd)",
            "weights",
            "with biases",
            "ReLUs",
            "valid, on a map of",
        ],
        rows,
        mono=(0, 1, 2, 3, 4, 6),
    )
    ratio = w_stack / w_single
    html_ = table + (
        f"<div>Both see {stack_sees}×{stack_sees} input pixels and trim the map alike, but the stack has "
        f"<b>{ratio:.0%}</b> of the weights ({n}·{kernel}² = {n * kernel * kernel} against {stack_sees}² = "
        f"{stack_sees * stack_sees}, times {channels}²) and {n} non-linearities instead of one. The numbers in "
        f"the picture are autograd's gradient of one output pixel with all weights 1: how many paths lead "
        f"from each input pixel to it.</div>"
    )
    if stack_sees <= MAX_FOOTPRINT:
        fig = footprint_figure(
            [
                (f"{n} × {kernel}×{kernel} conv: sees {stack_sees}×{stack_sees}", fp_stack),
                (f"1 × {stack_sees}×{stack_sees} conv: sees {stack_sees}×{stack_sees}", fp_single),
            ]
        )
    else:
        fig = None
        html_ += _not_drawn("the picture shows one number per input pixel, up to", f"{MAX_FOOTPRINT}×{MAX_FOOTPRINT}.")
    data = {
        "sees_stack": stack_sees,
        "sees_single": single_sees,
        "autograd_stack": _extent(fp_stack),
        "autograd_single": _extent(fp_single),
        "weights_stack": w_stack,
        "weights_single": w_single,
        "params_stack": w_stack + b_stack,
        "params_single": w_single + b_single,
        "after_stack": after_stack,
        "after_single": after_single,
    }
    return View(html=html_, figure=fig, data=data, tight=False)
