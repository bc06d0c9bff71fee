r"""Lesson 02, max pooling (池化 pooling, 下采样 downsampling): the views behind its widgets, and its exercises.

The notes: "pooling layer: size 1/2, channel 不变 (unchanged)"; 2x2 max pool, s=2, p=0 takes
568x568x64 to 284x284x64. The size follows the same rule as a convolution,

.. math:: H_{out} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1

(a ceiling with ``ceil_mode=True``), but a pool has no weights: it takes the maximum of each
window, channel by channel, so the channel count passes through unchanged.

Every number shown comes from :func:`unet_lesson.core.sizes.pool_out` and is checked against a
real ``nn.MaxPool2d``.
"""

from __future__ import annotations

import html
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from ..core.env import seeded
from ..core.inspect import as_batch
from ..core.options import UNetOptions
from ..core.parse import choice, whole
from ..core.shapes import shape_table
from ..core.sizes import LayerSizeError, conv_out, pool_out
from ..seg.data import sample_image
from ..ui.course import Lesson
from ..ui.exercises import Exercise
from ..ui.figures.pool import before_after_figure, pool_grid_figure, real_pool, small_grid, stack_figures
from ..ui.tables import html_table
from ..ui.widgets import View, Widget

__all__ = [
    "LESSON",
    "WIDGETS",
    "pool_controls",
    "path_controls",
    "MAX_SIZE",
    "GRID_MAX",
    "SOURCES",
    "real_pool",
    "pool_view",
    "pool_grid_figure",
    "parameters_view",
    "contracting_chain",
    "contracting_view",
    "channels_view",
    "EX_HALVE",
    "EX_PARAMS",
    "EX_ODD",
    "EX_BOTTOM",
    "EX_SLIP_KERNELS",
    "EX_SLIP_DOUBLES",
    "EXERCISES",
]

LESSON = Lesson(
    2,
    "02_max_pooling",
    "Max pooling",
    minutes=25,
    topics=(1, 4, 5),
    summary="2x2 stride 2: size 1/2, channels unchanged, no weights; odd sizes and ceil_mode",
)

#: the widget pools a real size x size image; beyond this it would be slow to redraw
MAX_SIZE = 1024
#: up to this size the widget draws the numbers in every window instead of the image
GRID_MAX = 12
#: the channels picture draws every channel; up to this size
MAX_CHANNEL_MAPS = 256
#: the real layer runs while output pixels x window pixels stay below this (a max over each window)
MAX_WORK = 50_000_000
#: the small grid picture draws one square per cell of the padded input, up to this many per side
GRID_SPAN = 24
SOURCES = ("feature map", "image")


def _n_params(layer: nn.Module) -> int:
    return sum(p.numel() for p in layer.parameters())


# ------------------------------------------------------------------------------------------
# inputs: the sample image, or a conv feature map of it
# ------------------------------------------------------------------------------------------
@lru_cache(maxsize=8)
@torch.no_grad()
def _feature_map(size: int) -> np.ndarray:
    """A real conv feature map of exactly ``size`` pixels: a 3x3 vertical-edge conv + ReLU on the
    sample image of ``size + 2`` (a valid conv trims 2, as in U-Net)."""
    with seeded(0):  # the weights are set just below
        layer = nn.Conv2d(1, 1, 3, bias=False)
    layer.weight.copy_(torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])[None, None])
    out = torch.relu(layer(as_batch(sample_image(size + 2))))[0, 0]
    return out.numpy()


# ------------------------------------------------------------------------------------------
# the pooling widget
# ------------------------------------------------------------------------------------------


def pool_view(size=568, kernel=2, stride=2, padding=0, ceil_mode=False, source="feature map") -> View:
    """One max pool: output size and formula, a real ``nn.MaxPool2d`` agreeing, its parameter count (0),
    and the picture before and after (numbers in every window for small sizes, the image otherwise).

    ``data``: ``output`` (formula), ``torch_output`` (real layer), ``params`` (real layer, 0),
    ``dropped`` (rows at the end no window reads), ``partial`` (1 when the last window hangs over the edge).
    """
    source = choice(source, "source", SOURCES)
    f = pool_out.explain(size, kernel, stride, padding, ceil_mode)  # parses and explains an impossible setting
    size, kernel, stride, padding = (
        whole(v, n) for v, n in ((size, "size"), (kernel, "kernel"), (stride, "stride"), (padding, "padding"))
    )
    out = f.result
    layer = nn.MaxPool2d(kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    params = _n_params(layer)
    # the formula answers any size; the real layer and the picture have a stated limit
    limit = None
    if size + 2 * padding > MAX_SIZE:
        limit = f"the padded map would be {size + 2 * padding:,} pixels wide, more than this widget's {MAX_SIZE:,}"
    elif out * out * kernel * kernel > MAX_WORK:
        limit = (
            f"{out:,}×{out:,} windows of {kernel}×{kernel} pixels are {out * out * kernel * kernel:,} "
            f"comparisons, more than this widget's {MAX_WORK:,} per change"
        )
    small = size <= GRID_MAX and size + 2 * padding <= GRID_SPAN
    y = None
    if limit is None:
        x = small_grid(size) if small else (_feature_map(size) if source == "feature map" else sample_image(size))
        with torch.no_grad():
            y = layer(as_batch(x))
    last_end = (out - 1) * stride - padding + kernel  # one past the last pixel the last window covers
    dropped = max(size - last_end, 0)
    partial = int(last_end > size + padding)
    agree = y is not None and tuple(y.shape[-2:]) == (out, out)
    notes = []
    if dropped:
        notes.append(f"the last {dropped} row(s) and column(s) of the map are read by no window: floor drops them.")
    if partial:
        notes.append(
            f"ceil_mode keeps a last window that hangs {last_end - size - padding} pixel(s) over the edge: "
            "it takes the max of what is there."
        )
    if stride < kernel:
        notes.append("stride < kernel: the windows overlap.")
    elif stride > kernel:
        notes.append("stride > kernel: pixels between windows are skipped.")
    layer_text = (
        f"<code>nn.MaxPool2d(kernel_size={kernel}, stride={stride}, padding={padding}"
        f"{', ceil_mode=True' if ceil_mode else ''})</code>"
    )
    if y is not None:
        real = (
            f"<div>real {layer_text} on <code>(1, 1, {size}, {size})</code> gives <code>{tuple(y.shape)}</code> "
            + ("<span style='color:#1e7b1e'>✓ agrees</span>" if agree else "<span style='color:#b3261e'>✗</span>")
            + f"; learned parameters: <b>{params}</b>. Channels (通道) in = channels out: each channel is "
            f"pooled on its own.</div>"
        )
    else:
        real = (
            f"<div class='ul-note'>Not run, and not drawn: {html.escape(limit)}. The formula above holds for "
            f"any size (the tests check it against nn.MaxPool2d). {layer_text} has <b>{params}</b> learned "
            "parameters either way.</div>"
        )
    body = (
        f"<div><b>Output size: {out}×{out}</b> &nbsp; <code>{html.escape(f.text)}</code><br>"
        f"<span style='color:#555'>rule: <code>{html.escape(f.general)}</code></span></div>"
        + real
        + "".join(f"<div style='color:#8a4b00'>• {html.escape(n)}</div>" for n in notes)
    )
    if y is None:
        fig = None
    elif small:
        fig = pool_grid_figure(size, kernel, stride, padding, ceil_mode)
    else:
        fig = before_after_figure(x, y[0, 0].numpy(), source, size, out, dropped, kernel, stride, padding)
    data = {
        "size": size,
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "ceil_mode": int(ceil_mode),
        "output": out,
        "torch_output": int(y.shape[-1]) if y is not None else "",
        "agree": agree,
        "params": params,
        "dropped": dropped,
        "partial": partial,
        "formula": f.text,
    }
    return View(html=body, figure=fig, data=data)


# ------------------------------------------------------------------------------------------
# no parameters, channels unchanged
# ------------------------------------------------------------------------------------------
@torch.no_grad()
def parameters_view(channels: int = 64, size: int = 8) -> View:
    """A real 2x2 max pool next to a real 3x3 conv with the same channels: shapes and parameter counts.

    Both run on PyTorch's ``meta`` device: real layers and real shapes, no memory and no time, so any
    size and channel count answers at once."""
    channels = whole(channels, "channels", minimum=1, maximum=4096)
    size = whole(size, "size", minimum=3)
    with torch.device("meta"):
        x = torch.zeros(1, channels, size, size)
        pool, conv = nn.MaxPool2d(2, 2), nn.Conv2d(channels, channels, 3)
        py, cy = pool(x), conv(x)
    rows = [
        ("nn.MaxPool2d(2, stride=2)", tuple(x.shape), tuple(py.shape), _n_params(pool)),
        (f"nn.Conv2d({channels}, {channels}, 3)", tuple(x.shape), tuple(cy.shape), _n_params(conv)),
    ]
    html_ = html_table(
        ["layer", "input", "output", "learned parameters"], [(a, b, c, f"{d:,}") for a, b, c, d in rows], mono=(0, 1, 2)
    )
    return View(
        html=html_,
        data={
            "pool_params": rows[0][3],
            "conv_params": rows[1][3],
            "pool_channels_in": channels,
            "pool_channels_out": int(py.shape[1]),
            "pool_output": int(py.shape[-1]),
            "conv_output": int(cy.shape[-1]),
        },
    )


@torch.no_grad()
def channels_view(size: int = 64, channels: int = 8, seed: int = 0) -> View:
    """Conv feature maps of the sample image before and after a real 2x2 max pool, channel by channel."""
    import matplotlib.pyplot as plt

    from ..ui.plotting import feature_map_grid

    expected_conv = conv_out(size, 3)
    expected_pool = pool_out(expected_conv)
    channels = whole(channels, "channels", minimum=1, maximum=16)
    size = whole(size, "size")
    if size > MAX_CHANNEL_MAPS:
        raise ValueError(
            f"This picture draws every channel of a {size}x{size} map; it stops at {MAX_CHANNEL_MAPS} "
            f"pixels to stay quick. The sizes are the same for any map: {size} -> {expected_conv} -> "
            f"{expected_pool}, {channels} channels before and after the pool."
        )
    with seeded(seed):
        conv = nn.Conv2d(1, channels, 3)
    maps = torch.relu(conv(as_batch(sample_image(int(size)))))
    pooled = nn.MaxPool2d(2, 2)(maps)
    fig_a = feature_map_grid(maps, n=channels, cmap="magma", size=1.1, title="before the pool")
    fig_b = feature_map_grid(pooled, n=channels, cmap="magma", size=1.1, title="after 2x2 max pool")
    fig = stack_figures(fig_a, fig_b)
    plt.close(fig_a)
    plt.close(fig_b)
    html_ = (
        f"<div>conv feature maps (特征图) <code>{tuple(maps.shape)}</code> -> max pool -> "
        f"<code>{tuple(pooled.shape)}</code>: half the size, the same {channels} channels.</div>"
    )
    return View(
        html=html_,
        figure=fig,
        data={
            "before": int(maps.shape[-1]),
            "after": int(pooled.shape[-1]),
            "channels_before": int(maps.shape[1]),
            "channels_after": int(pooled.shape[1]),
            "expected_before": expected_conv,
            "expected_after": expected_pool,
        },
    )


# ------------------------------------------------------------------------------------------
# pooling in the contracting path (收缩路径)
# ------------------------------------------------------------------------------------------
def contracting_chain(size=572, depth: int = 4) -> list[dict]:
    """The contracting path's sizes, computed with ``conv_out`` and ``pool_out``: for each level two 3x3
    valid convs and one 2x2 max pool. Each step: ``level``, ``op``, ``input``, ``output``, ``channels``,
    ``formula``, ``odd`` (an odd size entering a pool). Raises a ``ValueError`` naming the step where a
    size becomes impossible."""
    depth = whole(depth, "depth", minimum=1, maximum=8)
    steps = []
    x = size
    base = UNetOptions().base_channels
    for level in range(1, depth + 1):
        c = base * 2 ** (level - 1)
        for i in (1, 2):
            try:
                f = conv_out.explain(x, 3)
            except LayerSizeError as e:
                if steps:
                    raise LayerSizeError(f"At level {level}, 3x3 conv {i}: {e}") from None
                raise
            steps.append(
                dict(level=level, op=f"3x3 conv {i}", input=x, output=f.result, channels=c, formula=f.text, odd=False)
            )
            x = f.result
        try:
            f = pool_out.explain(x)
        except LayerSizeError as e:
            raise LayerSizeError(f"At level {level}, 2x2 max pool: {e}") from None
        steps.append(
            dict(level=level, op="2x2 max pool", input=x, output=f.result, channels=c, formula=f.text, odd=bool(x % 2))
        )
        x = f.result
    return steps


def contracting_view(size=572) -> View:
    """The contracting path's sizes as the notes write them (572 -> 570 -> 568 | 284 -> ... | 32)."""
    steps = contracting_chain(size)
    groups, cur = [], [str(steps[0]["input"])]
    for s in steps:
        if s["op"].startswith("2x2"):
            groups.append(" -> ".join(cur))
            cur = [str(s["output"])]
        else:
            cur.append(str(s["output"]))
    chain = " | ".join(groups + cur)
    rows = [
        (
            s["level"],
            s["op"],
            f"{s['input']}×{s['input']}",
            f"{s['output']}×{s['output']}×{s['channels']}",
            s["formula"] + (" ⚠ odd size: the pool drops the last row and column" if s["odd"] else ""),
        )
        for s in steps
    ]
    styles = [
        "background:" + ("#fff4e5" if s["odd"] else ("#eef5fc" if s["op"].startswith("2x2") else "white"))
        for s in steps
    ]
    html_ = f"<div style='font-family:monospace;margin-bottom:4px'><b>{html.escape(chain)}</b></div>" + html_table(
        ["level", "layer", "input", "output (H×W×C)", "formula"], rows, mono=(2, 3, 4), row_styles=styles
    )
    return View(
        html=html_,
        data={
            "input": steps[0]["input"],
            "bottom": steps[-1]["output"],
            "chain": chain,
            "odd_pools": sum(s["odd"] for s in steps),
        },
    )


# ------------------------------------------------------------------------------------------
# the widgets
# ------------------------------------------------------------------------------------------
def pool_controls() -> dict:
    """The pool widget's controls (IntText: a negative or odd value reaches the view and is explained)."""
    import ipywidgets as W

    return {
        "size": W.IntText(568, description="input size"),
        "kernel": W.IntText(2, description="kernel k"),
        "stride": W.IntText(2, description="stride s"),
        "padding": W.IntText(0, description="padding p (per side)"),
        "ceil_mode": W.Checkbox(False, description="ceil_mode"),
        "source": W.Dropdown(options=SOURCES, value="feature map", description="pool"),
    }


def path_controls() -> dict:
    import ipywidgets as W

    return {"size": W.IntText(572, description="input size")}


WIDGETS = {
    "pool": Widget(pool_view, pool_controls, css="ul-pool", title="One max pool: input size -> output size"),
    "path": Widget(contracting_view, path_controls, css="ul-pool-path", title="The contracting path, level by level"),
}


# ------------------------------------------------------------------------------------------
# exercises
# ------------------------------------------------------------------------------------------
def _halve_hint(a) -> str:
    if str(a).strip() in ("566", "567"):
        return "that is a convolution's rule (H - k + 1); a pool with stride 2 moves 2 pixels per step."
    if str(a).strip() == "1136":
        return "pooling makes maps smaller (下采样, downsampling), not larger."
    return "(568 + 2*0 - 2)/2 + 1: a 2x2 window, stride 2, no padding."


EX_HALVE = Exercise(
    "2.1",
    "The 568×568×64 map of level 1 goes through the 2×2 max pool (s=2, p=0). What is its height now?",
    expected=lambda: pool_out(568),
    hint=_halve_hint,
    explanation="(568 - 2)/2 + 1 = 284: 2×2 windows with stride 2 tile the map, one output pixel per window.",
)

EX_PARAMS = Exercise(
    "2.2",
    "How many learned parameters does nn.MaxPool2d(2, stride=2) have?",
    expected=lambda: _n_params(nn.MaxPool2d(2, 2)),
    hint=lambda a: (
        "4 would be a 2×2 kernel's weights, but a max pool has no weights: what would it multiply?"
        if str(a).strip() in ("4", "5", "64", "256")
        else "a max pool only compares numbers and keeps the largest one; is there anything to learn?"
    ),
    explanation="0: max pooling is a fixed operation (the maximum of each window). Count it yourself with "
    "sum(p.numel() for p in nn.MaxPool2d(2, 2).parameters()).",
)


def _odd_hint(a) -> str:
    s = str(a).replace(" ", "")
    if s in ("(285,285)", "[285,285]"):
        return "floor((569 - 2)/2) + 1 = floor(283.5) + 1: the floor is the default; ceil_mode rounds up."
    if s in ("(284,284)", "[284,284]"):
        return "with ceil_mode=True PyTorch rounds (569 - 2)/2 = 283.5 up: ceil(283.5) + 1."
    return "use floor((H - k)/s) + 1 for the default and ceil((H - k)/s) + 1 for ceil_mode=True; H = 569."


EX_ODD = Exercise(
    "2.3",
    "An odd map: 569×569 through a 2×2 max pool, stride 2. What height with the default (floor) and "
    "with ceil_mode=True? Answer as a pair, e.g. (100, 101).",
    expected=lambda: (pool_out(569), pool_out(569, ceil_mode=True)),
    hint=_odd_hint,
    explanation="(284, 285): the floor drops the last row (no full window is left for it); ceil_mode keeps a "
    "half window there. U-Net's sizes are chosen so that this never happens (the paper asks for an "
    "even size at every pool).",
)

EX_BOTTOM = Exercise(
    "2.4",
    "Follow the contracting path from 572: four times {two 3×3 convs, one 2×2 max pool}. What height "
    "enters the bottom of the U?",
    expected=lambda: shape_table(572).where(module="down_samples.3")[0].out_shape[1],
    hint="572 -> 570 -> 568 | 284 -> ... : each level takes 4 off with the convs, then halves. Try the "
    "contracting-path widget above.",
    explanation="572 -> 570 -> 568 | 284 -> 282 -> 280 | 140 -> 138 -> 136 | 68 -> 66 -> 64 | 32.",
)


@torch.no_grad()
def _pool_kernels_and_channels(channels: int = 64) -> tuple[int, int]:
    layer = nn.MaxPool2d(2, 2)
    return _n_params(layer), int(layer(torch.zeros(1, channels, 4, 4)).shape[1])


EX_SLIP_KERNELS = Exercise(
    "2.5",
    "Spot the slip. The notes' walk through the contracting path writes 'maxpool (下采样) k=2 s=2 p=0 "
    "# k=64', giving the pool a kernel count like a conv. The 568×568×64 map enters the pool. How many "
    "learned kernels (weights) does the pool have, and how many channels come out? Answer as a pair "
    "(weights, channels).",
    expected=lambda: _pool_kernels_and_channels(64),
    hint=lambda a: (
        "a conv's kernel count sets its output channels, but a pool has no kernels: it pools each channel on its own."
        if str(a).replace(" ", "") in ("(64,64)", "(64,128)", "(64,32)")
        else "count the weights of nn.MaxPool2d(2, 2); the channels pass through."
    ),
    explanation="(0, 64): '# k' does not apply to a pool. The 64 channels come from the convs before it, and "
    "the pool keeps them (channel 不变).",
)


def _contracting_doubling_convs() -> int:
    t = shape_table(572)
    return sum(1 for r in t.where(path="contracting", kind="conv") if r.out_shape[0] == 2 * r.in_shape[0])


EX_SLIP_DOUBLES = Exercise(
    "2.6",
    "Spot the slip. The notes say 'pool channel 不会变 (pool keeps the channels), conv channel 翻倍 (conv "
    "doubles them)'. The contracting path has 8 3×3 convs (two per level). How many of them actually "
    "double their channel count?",
    expected=_contracting_doubling_convs,
    hint=lambda a: (
        "not every conv: the second conv of each level keeps the channels (64 -> 64)."
        if str(a).strip() in ("8", "4")
        else "look at the first conv of each level: 1 -> 64, 64 -> 128, 128 -> 256, 256 -> 512. "
        "Which of these are a doubling? The second conv of a level keeps the channels."
    ),
    explanation="3: only the first conv of levels 2, 3 and 4 doubles (64 -> 128 -> 256 -> 512); level 1's first "
    "conv goes 1 -> 64 and every second conv keeps the count. (The bottom's first conv doubles again, "
    "512 -> 1024.)",
)

EXERCISES = [EX_HALVE, EX_PARAMS, EX_ODD, EX_BOTTOM, EX_SLIP_KERNELS, EX_SLIP_DOUBLES]
