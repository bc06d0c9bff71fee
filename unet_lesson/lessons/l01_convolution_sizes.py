r"""Lesson 01, convolution sizes (卷积 convolution): the views behind its widgets, and its exercises.

The notes' first numbers: a 3x3 convolution with stride 1 and no padding ("valid") takes the
572x572x1 input image to 570x570x64 (64 kernels give 64 channels), and a second one to
568x568x64; the rule is ``h - k + 1``, and in general

.. math:: H_{out} = \left\lfloor \frac{H + 2p - d(k-1) - 1}{s} \right\rfloor + 1

with ``p`` the padding (填充) *per side* and ``s`` the stride (步长).

Every number shown here comes from :func:`unet_lesson.core.sizes.conv_out` and is checked
against a real ``nn.Conv2d`` run on a tensor of that size (one channel, no grad, so it is fast).
"""

from __future__ import annotations

import html

import numpy as np
import torch
from torch import nn

from ..core.env import seeded
from ..core.inspect import as_batch
from ..core.parse import whole
from ..core.shapes import fmt_shape, shape_table
from ..core.sizes import conv_out
from ..seg.data import sample_image
from ..ui.course import Lesson
from ..ui.exercises import Exercise
from ..ui.figures.conv import grid_positions_figure, row_positions_figure
from ..ui.tables import key_value_table
from ..ui.widgets import View, Widget

__all__ = [
    "LESSON",
    "WIDGETS",
    "controls",
    "MAX_SIZE",
    "real_conv_shape",
    "conv_size_view",
    "row_positions_figure",
    "grid_positions_figure",
    "IMAGE_KERNELS",
    "kernels_on_image_view",
    "many_kernels_view",
    "first_convs_view",
    "EX_FIRST_CONV",
    "EX_TWO_CONVS",
    "EX_STRIDE",
    "EX_SAME_PADDING",
    "EX_SLIP_INPUT",
    "EX_SLIP_RULE",
    "EX_SLIP_GENERAL",
    "EXERCISES",
]

LESSON = Lesson(
    1,
    "01_convolution_sizes",
    "Convolution sizes",
    minutes=25,
    topics=(3, 5),
    summary="572 -> 570 -> 568: the valid 3x3 conv, floor((H + 2p - k)/s) + 1, kernels -> channels",
)

#: the widget runs a real nn.Conv2d on a size x size tensor; beyond this it would be slow to redraw
MAX_SIZE = 2048


# ------------------------------------------------------------------------------------------
# the size widget
# ------------------------------------------------------------------------------------------
@torch.no_grad()
def real_conv_shape(
    size: int,
    kernel: int = 3,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    in_channels: int = 1,
    out_channels: int = 1,
) -> tuple[int, int, int, int]:
    """The output shape of a real ``nn.Conv2d`` applied to a ``(1, in_channels, size, size)`` tensor."""
    with seeded(0):  # its weights do not matter here; they must not come from the student's RNG
        layer = nn.Conv2d(
            in_channels, out_channels, kernel, stride=stride, padding=padding, dilation=dilation, bias=False
        )
    return tuple(layer(torch.zeros(1, in_channels, size, size)).shape)


def conv_size_view(size=572, kernel=3, stride=1, padding=0, dilation=1) -> View:
    """Output size of one convolution: the formula with the numbers in it, beside a real ``nn.Conv2d``.

    The formula answers any size at once (it is arithmetic). The real layer runs, and the picture is
    drawn, while the padded input is at most ``MAX_SIZE`` pixels wide; beyond that the view says so and
    shows the formula alone.

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
    runs = padded <= MAX_SIZE
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
            f"<div class='ul-note'>Not run: the padded input would be {padded:,}×{padded:,} pixels, more than "
            f"this widget's limit of {MAX_SIZE:,} for a real nn.Conv2d and the picture (it reruns on every "
            f"change). The formula above holds for any size; the tests check it against nn.Conv2d.</div>"
        )
    body = (
        f"<div><b>Output size: {f.result}×{f.result}</b> &nbsp; <code>{html.escape(f.text)}</code><br>"
        f"<span style='color:#555'>rule: <code>{html.escape(f.general)}</code></span></div>"
        + key_value_table(rows)
        + real
    )
    fig = row_positions_figure(size, kernel, stride, padding, dilation) if runs else None
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


# ------------------------------------------------------------------------------------------
# pictures of where the kernel lands
# ------------------------------------------------------------------------------------------
def controls() -> dict:
    """The size widget's controls: IntText boxes, so a negative or odd value reaches the view and is explained."""
    import ipywidgets as W

    return {
        "size": W.IntText(572, description="input size"),
        "kernel": W.IntText(3, description="kernel k"),
        "stride": W.IntText(1, description="stride s"),
        "padding": W.IntText(0, description="padding p (per side)"),
        "dilation": W.IntText(1, description="dilation d"),
    }


WIDGETS = {"conv": Widget(conv_size_view, controls, css="ul-conv", title="One convolution: input size -> output size")}


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


@torch.no_grad()
def kernels_on_image_view(size: int = 96, padding: int = 0, n_random: int = 2, seed: int = 0) -> View:
    """The sample image through a few 3x3 kernels (edge detectors, blur, random ones) in one real ``nn.Conv2d``.

    One conv layer holds all the kernels, so the output has one channel (通道) per kernel.
    ``data``: ``input``, ``output`` (height of every output map, from ``nn.Conv2d``), ``channels``,
    ``expected`` (from ``conv_out``).
    """
    import matplotlib.pyplot as plt

    expected = conv_out(size, 3, 1, padding)
    if size > 512:
        raise ValueError(f"size {size} is more than this picture needs; try 32 to 512.")
    img = sample_image(int(size))
    names = list(IMAGE_KERNELS) + [f"random {i + 1}" for i in range(n_random)]
    weights = torch.cat(
        [torch.tensor(IMAGE_KERNELS[n], dtype=torch.float32)[None, None] for n in IMAGE_KERNELS]
        + [_random_kernels(n_random, seed)]
    )
    with seeded(0):  # the weights are set just below
        layer = nn.Conv2d(1, len(names), 3, padding=padding, bias=False)
    layer.weight.copy_(weights)
    maps = layer(torch.from_numpy(img)[None, None])[0]
    k = len(names)
    fig, axes = plt.subplots(2, k + 1, figsize=(1.55 * (k + 1), 3.3), gridspec_kw={"height_ratios": [1, 1.6]})
    axes[0, 0].axis("off")
    axes[0, 0].text(0.5, 0.5, "kernel\n(3×3 weights)", ha="center", va="center", fontsize=8)
    axes[1, 0].imshow(img, cmap="gray", vmin=0, vmax=1)
    axes[1, 0].set_title(f"input {size}×{size}×1", fontsize=7)
    for i, name in enumerate(names):
        w = weights[i, 0].numpy()
        a = axes[0, i + 1]
        a.imshow(w, cmap="coolwarm", vmin=-np.abs(w).max(), vmax=np.abs(w).max())
        for (r, c), v in np.ndenumerate(w):
            a.text(c, r, f"{v:.1f}" if abs(v) < 1 and v != 0 else f"{v:.0f}", ha="center", va="center", fontsize=6)
        a.set_title(name, fontsize=7)
        axes[1, i + 1].imshow(maps[i].numpy(), cmap="gray")
        axes[1, i + 1].set_title(f"channel {i}: {maps.shape[-2]}×{maps.shape[-1]}", fontsize=7)
    for a in axes.flat:
        a.set_xticks([])
        a.set_yticks([])
    fig.tight_layout()
    html_ = (
        f"<div>One <code>nn.Conv2d(1, {k}, kernel_size=3, padding={padding})</code> holding these {k} "
        f"kernels: input <code>{size}×{size}×1</code> -> output <code>{maps.shape[-2]}×{maps.shape[-1]}×{k}"
        f"</code> (one channel per kernel). Formula: <code>{html.escape(conv_out.explain(size, 3, 1, padding).text)}"
        f"</code></div>"
    )
    return View(
        html=html_,
        figure=fig,
        data={
            "input": size,
            "output": maps.shape[-1],
            "channels": maps.shape[0],
            "expected": expected,
            "padding": padding,
        },
    )


@torch.no_grad()
def many_kernels_view(size: int = 64, kernels: int = 64, seed: int = 0) -> View:
    """ "64 kernels -> 64 channels": the sample image through the first 3x3 conv of U-Net (random weights,
    fixed seed), every output channel drawn as a feature map (特征图)."""
    from ..ui.plotting import feature_map_grid

    if kernels < 1 or kernels > 256:
        raise ValueError(f"kernels must be between 1 and 256, got {kernels}.")
    expected = conv_out(size, 3)
    if size > 256:
        raise ValueError(f"size {size} is more than this picture needs (64 small maps); try 16 to 256.")
    with seeded(seed):
        layer = nn.Conv2d(1, kernels, kernel_size=3)
    maps = layer(as_batch(sample_image(int(size))))
    fig = feature_map_grid(
        maps, n=kernels, ncols=min(kernels, 16), size=0.9, cmap="gray", title=f"{kernels} kernels -> {kernels} channels"
    )
    html_ = (
        f"<div><code>nn.Conv2d(1, {kernels}, kernel_size=3)</code> on <code>{size}×{size}×1</code> gives "
        f"<code>{tuple(maps.shape)}</code>: {kernels} kernels, each 1×3×3 = 9 weights + 1 bias, "
        f"so {kernels} feature maps of {maps.shape[-1]}×{maps.shape[-1]}.</div>"
    )
    return View(
        html=html_,
        figure=fig,
        data={
            "input": size,
            "output": maps.shape[-1],
            "channels": maps.shape[1],
            "expected": expected,
            "params": sum(p.numel() for p in layer.parameters()),
        },
    )


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
# exercises
# ------------------------------------------------------------------------------------------
def _notes_shape(shape) -> tuple[int, int, int]:
    c, h, w = shape
    return h, w, c


def _first_conv_hint(answer) -> str:
    try:
        a = int(answer)
    except (TypeError, ValueError):
        return "give one whole number, the height (= width) after the first conv."
    if a == 572 - 3:
        return "you forgot the + 1: a 3-wide kernel fits at H - k + 1 positions (try it on a 5-pixel row)."
    if a == 572:
        return "that is what same padding (p=1) would give; U-Net's convs are valid: p=0."
    return "use H_out = H - k + 1 with H = 572 and k = 3."


EX_FIRST_CONV = Exercise(
    "1.1",
    "The input is 572×572×1. What is the height after the first 3×3 conv (s=1, p=0)?",
    expected=lambda: conv_out(572, 3, 1, 0),
    hint=_first_conv_hint,
    explanation="572 - 3 + 1 = 570: the kernel's centre can never sit on the outermost pixel, so one pixel "
    "is lost on each side.",
)

EX_TWO_CONVS = Exercise(
    "1.2",
    "After both 3×3 convs of level 1 the map has which shape, written as the notes do (H×W×C), e.g. '100x100x3'?",
    expected=lambda: _notes_shape(shape_table(572).where(module="down_convs.0.conv2")[0].out_shape),
    hint="each valid 3×3 conv trims 2 (one per side); the channels are the number of kernels, 64, and the "
    "second conv keeps them.",
    explanation="572 -> 570 -> 568, 64 kernels -> 64 channels: 568×568×64.",
)

EX_STRIDE = Exercise(
    "1.3",
    "A 3×3 conv with stride 2 and padding 1 on a 64×64 map: what output height?",
    expected=lambda: conv_out(64, 3, 2, 1),
    hint=lambda a: (
        "the floor matters: (64 + 2*1 - 3)/2 = 31.5 -> 31, then + 1."
        if str(a).strip() in ("31", "33", "32.5", "31.5")
        else "H_out = floor((H + 2p - k)/s) + 1 with H=64, p=1, k=3, s=2."
    ),
    explanation="floor((64 + 2 - 3)/2) + 1 = 31 + 1 = 32: stride 2 halves the size (this is how many "
    "modern networks downsample instead of pooling).",
)


def _same_padding(kernel: int, size: int = 572) -> int:
    """The per-side padding that keeps the size for a stride-1 conv, found with conv_out."""
    return next(p for p in range(kernel + 1) if conv_out(size, kernel, 1, p) == size)


EX_SAME_PADDING = Exercise(
    "1.4",
    "The modern U-Net keeps the size ('same' padding). Which padding per side keeps 572 -> 572 for a "
    "3×3 conv, and which for a 5×5 conv? Answer as a pair, e.g. (1, 1).",
    expected=lambda: (_same_padding(3), _same_padding(5)),
    hint=lambda a: (
        "that is the total padding (both sides together); PyTorch's padding= is per side."
        if str(a).replace(" ", "") in ("(2,4)", "[2,4]")
        else "the kernel loses k - 1 pixels; pad (k - 1)/2 on each side to give them back."
    ),
    explanation="p = (k - 1)/2 per side: 1 for 3×3, 2 for 5×5 (so 2 and 4 pixels in total).",
)


# ---- spot the slip ------------------------------------------------------------------------
def _matches_conv_out(fn, paddings=(0, 1, 2)) -> bool:
    """Does a candidate rule ``fn(h, k, p)`` agree with conv_out (stride 1) on a range of sizes, kernels, paddings?"""
    for h in (5, 7, 64, 567, 572):
        for k in (1, 3, 5):
            for p in paddings:
                if h + 2 * p < k:
                    continue
                try:
                    if fn(h, k, p) != conv_out(h, k, 1, p):
                        return False
                except TypeError:
                    return False
    return True


def _the_right_choice(candidates: dict, paddings=(0, 1, 2)) -> str:
    right = [letter for letter, fn in candidates.items() if _matches_conv_out(fn, paddings)]
    assert len(right) == 1, right
    return right[0]


_RULE_CANDIDATES = {  # the valid conv (p=0): which rule matches nn.Conv2d?
    "a": lambda h, k, p: k + 1,
    "b": lambda h, k, p: h - k + 1,
    "c": lambda h, k, p: h - k,
    "d": lambda h, k, p: h - k - 1,
}
_GENERAL_CANDIDATES = {  # stride 1, any padding
    "a": lambda h, k, p: 2 * p - k + 1,
    "b": lambda h, k, p: h + p - k + 1,
    "c": lambda h, k, p: h + 2 * p - k + 1,
    "d": lambda h, k, p: h + 2 * p - k,
}

EX_SLIP_INPUT = Exercise(
    "1.5",
    "Spot the slip. One summary line of the notes reads '570x570x1 -> 570x570x64 -> 568x568x64'. "
    "The last two shapes are right. What should the first shape be (H×W×C)?",
    expected=lambda: _notes_shape(shape_table(572).input_shape),
    hint="the first shape is the input image, before any conv; a valid 3×3 conv takes H to H - 2.",
    explanation="572x572x1: the input image. 570x570x1 would not even be a map in the network: the first "
    "conv already turns 1 channel into 64.",
)

EX_SLIP_RULE = Exercise(
    "1.6",
    "Spot the slip. Next to the same line the notes write 'h=k+1'. Which rule gives the output "
    "height of a 3×3 valid conv (s=1, p=0) on an h-pixel map?",
    expected=lambda: _the_right_choice(_RULE_CANDIDATES, paddings=(0,)),
    choices={"a": "h = k + 1", "b": "h - k + 1", "c": "h - k", "d": "h - k - 1"},
    hint="try the rule on the notes' numbers: h = 572, k = 3 must give 570. Rule (a) does not even use h.",
    explanation="h - k + 1 (572 - 3 + 1 = 570): the '=' was a '-'. The other form the notes write, "
    "(h - k + 2p + s)/s, is the same rule for p = 0, s = 1.",
)

EX_SLIP_GENERAL = Exercise(
    "1.7",
    "Spot the slip. Under 'max pooling' the notes write 'H -> 2p - k + 1' for the size after a layer "
    "with stride 1. It is garbled. Which is the rule for stride 1 with padding p per side?",
    expected=lambda: _the_right_choice(_GENERAL_CANDIDATES),
    choices={"a": "2p - k + 1", "b": "H + p - k + 1", "c": "H + 2p - k + 1", "d": "H + 2p - k"},
    hint="the padding is added on both sides (2p in total), the kernel fits at (padded size) - k + 1 "
    "positions. Check your choice with H=572, p=0, k=3 -> 570 and H=572, p=1, k=3 -> 572.",
    explanation="H + 2p - k + 1: the notes dropped the H. With the stride it becomes floor((H + 2p - k)/s) + 1, "
    "which is the notes' (H + 2p - k + s)/s when s divides evenly.",
)

EXERCISES = [EX_FIRST_CONV, EX_TWO_CONVS, EX_STRIDE, EX_SAME_PADDING, EX_SLIP_INPUT, EX_SLIP_RULE, EX_SLIP_GENERAL]
