r"""Lesson 02, max pooling (池化 pooling, 下采样 downsampling): the views behind its widgets and its experiment.

The notes: "pooling Layer { size 1/2 | channel 不变"; 2x2 max pool, s=2, p=0 takes 568x568x64 to
284x284x64. The size follows the same rule as a convolution,

.. math:: H_{out} = \left\lfloor \frac{H + 2p - k}{s} \right\rfloor + 1

(a ceiling with ``ceil_mode=True``), but a pool has no weights: it takes the maximum of each
window, channel by channel, so the channel count passes through unchanged.

Every number shown comes from :func:`unet_lesson.core.sizes.pool_out` and is checked against a
real ``nn.MaxPool2d``. Each view answers any value at once with the arithmetic; what runs a real
layer or draws has a stated limit, and beyond it the view says what it did not run. The exercises
live in :mod:`.l02_exercises` (re-exported here).
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
from ..core.sizes import LayerSizeError, conv_out, pool_out
from ..seg.data import sample_image
from ..ui.figures.pool import (
    before_after_figure,
    channels_figure,
    dots_figure,
    pool_grid_figure,
    real_pool,
    shift_figure,
    small_grid,
)
from ..ui.receptive import stack_widget
from ..ui.tables import html_table
from ..ui.widgets import View, Widget, window_boxes
from . import l02_exercises
from ._text import lesson_text
from .l02_exercises import *  # noqa: F403 (its __all__ is re-exported: the notebook calls L.<name>)
from .l02_exercises import dot_maps

TEXT = lesson_text(__name__)

__all__ = [
    "LESSON",
    "WIDGETS",
    "pool_controls",
    "MAX_SIZE",
    "MAX_WORK",
    "GRID_MAX",
    "SAMPLE_MAX",
    "MAX_CHANNEL_MAPS",
    "SOURCES",
    "picture",
    "real_pool",
    "pool_view",
    "pool_grid_figure",
    "parameters_view",
    "contracting_chain",
    "contracting_view",
    "channels_view",
    "dot_view",
    "shift_view",
] + l02_exercises.__all__

LESSON = TEXT.lesson

#: the widget pools a real size x size map and draws it up to this size
MAX_SIZE = 1024
#: up to this size the widget draws the numbers in every window instead of the image
GRID_MAX = 12
#: the channels picture draws every channel of maps up to this size
MAX_CHANNEL_MAPS = 128
#: the real layer runs while output pixels x window pixels stay below this (a max over each window)
MAX_WORK = 20_000_000
#: the small grid picture draws one square per cell of the padded input, up to this many per side
GRID_SPAN = 24
#: the sample picture is generated up to this size; larger maps mirror it (generating one costs time)
SAMPLE_MAX = 600
#: parameters_view runs the real layers on a real tensor of at most this many multiply-adds
MAX_PARAMETER_WORK = 20_000_000
#: the shift experiment moves the picture by at most this many pixels
MAX_SHIFT = 8
SOURCES = ("feature map", "image")


def _n_params(layer: nn.Module) -> int:
    return sum(p.numel() for p in layer.parameters())


# ------------------------------------------------------------------------------------------
# inputs: the sample image, or a conv feature map of it
# ------------------------------------------------------------------------------------------
def picture(size: int) -> np.ndarray:
    """The sample image at ``size`` pixels; beyond ``SAMPLE_MAX`` the ``SAMPLE_MAX`` picture mirrored
    (flipped copies side by side), so a large map costs no new picture of cells; below 8 pixels the corner
    of the smallest one."""
    size = whole(size, "size", minimum=1)
    if size < 8:  # the smallest picture of cells: its corner
        return sample_image(8)[:size, :size]
    if size <= SAMPLE_MAX:
        return sample_image(size)
    a = sample_image(SAMPLE_MAX)
    block = np.block([[a, a[:, ::-1]], [a[::-1], a[::-1, ::-1]]])
    reps = -(-size // block.shape[0])
    return np.tile(block, (reps, reps))[:size, :size]


@lru_cache(maxsize=8)
@torch.no_grad()
def _feature_map(size: int) -> np.ndarray:
    """A real conv feature map of exactly ``size`` pixels: a 3x3 vertical-edge conv + ReLU on the
    sample image of ``size + 2`` (a valid conv trims 2, as in U-Net)."""
    with seeded(0):  # the weights are set just below
        layer = nn.Conv2d(1, 1, 3, bias=False)
    layer.weight.copy_(torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])[None, None])
    out = torch.relu(layer(as_batch(picture(size + 2))))[0, 0]
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
        x = small_grid(size) if small else (_feature_map(size) if source == "feature map" else picture(size))
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
    return View(html=body, figure=fig, data=data, tight=small)  # the big picture fills its canvas


# ------------------------------------------------------------------------------------------
# no parameters, channels unchanged
# ------------------------------------------------------------------------------------------
@torch.no_grad()
def parameters_view(channels: int = 64, size: int = 8) -> View:
    """A real 2x2 max pool next to a real 3x3 conv with the same channels: shapes and parameter counts.

    The layers are built on PyTorch's meta device (real layers, no memory), so any channel count is
    counted at once. The shapes come from running both on a real tensor while the conv's multiply-adds
    stay below ``MAX_PARAMETER_WORK``; beyond, from the size rules (the tests check them against the
    real layers), and the view says so."""
    channels = whole(channels, "channels", minimum=1, maximum=4096)
    conv_size, pool_size = conv_out(size, 3), pool_out(size)  # parse the size; explain one that is too small
    size = whole(size, "size")
    with torch.device("meta"):
        pool, conv = nn.MaxPool2d(2, 2), nn.Conv2d(channels, channels, 3)
    ran = conv_size**2 * 9 * channels**2 <= MAX_PARAMETER_WORK
    if ran:
        x = torch.zeros(1, channels, size, size)
        with seeded(0):  # small enough to run on the CPU; its weights do not matter
            real_conv = nn.Conv2d(channels, channels, 3)
        py, cy = tuple(nn.MaxPool2d(2, 2)(x).shape), tuple(real_conv(x).shape)
    else:
        py, cy = (1, channels, pool_size, pool_size), (1, channels, conv_size, conv_size)
    shape_in = (1, channels, size, size)
    rows = [
        ("nn.MaxPool2d(2, stride=2)", shape_in, py, _n_params(pool)),
        (f"nn.Conv2d({channels}, {channels}, 3)", shape_in, cy, _n_params(conv)),
    ]
    html_ = html_table(
        ["layer", "input", "output", "learned parameters"], [(a, b, c, f"{d:,}") for a, b, c, d in rows], mono=(0, 1, 2)
    )
    if not ran:
        html_ += (
            f"<div class='ul-note'>Shapes by the size rules, not run: the conv would need "
            f"{conv_size**2 * 9 * channels**2:,} multiply-adds, more than this view's {MAX_PARAMETER_WORK:,}. "
            "The parameter counts are the real layers' either way.</div>"
        )
    return View(
        html=html_,
        data={
            "pool_params": rows[0][3],
            "conv_params": rows[1][3],
            "pool_channels_in": channels,
            "pool_channels_out": int(py[1]),
            "pool_output": int(py[-1]),
            "conv_output": int(cy[-1]),
            "ran": ran,
        },
    )


@torch.no_grad()
def channels_view(size: int = 64, channels: int = 8, seed: int = 0) -> View:
    """Conv feature maps of the sample image before and after a real 2x2 max pool, channel by channel
    (the sizes for any map; the maps are computed and drawn up to ``MAX_CHANNEL_MAPS`` pixels)."""
    expected_conv = conv_out(size, 3)
    expected_pool = pool_out(expected_conv)
    size = whole(size, "size")
    channels = whole(channels, "channels", minimum=1, maximum=16)
    seed = whole(seed, "seed", minimum=0, maximum=2**63 - 1)
    data = {
        "before": expected_conv,
        "after": expected_pool,
        "channels_before": channels,
        "channels_after": channels,
        "expected_before": expected_conv,
        "expected_after": expected_pool,
    }
    if size > MAX_CHANNEL_MAPS:
        return View(
            html=f"<div>{size} -> {expected_conv} (3x3 conv) -> {expected_pool} (2x2 max pool), {channels} "
            f"channels before and after the pool.</div><div class='ul-note'>Not drawn: this picture computes and "
            f"draws every channel of maps up to {MAX_CHANNEL_MAPS} pixels; the sizes above are the size rules'."
            "</div>",
            data=data,
        )
    with seeded(seed):
        conv = nn.Conv2d(1, channels, 3)
    maps = torch.relu(conv(as_batch(picture(size))))
    pooled = nn.MaxPool2d(2, 2)(maps)
    fig = channels_figure(maps[0].numpy(), pooled[0].numpy())
    html_ = (
        f"<div>conv feature maps (特征图) <code>{tuple(maps.shape)}</code> -> max pool -> "
        f"<code>{tuple(pooled.shape)}</code>: half the size, the same {channels} channels.</div>"
    )
    data.update(
        before=int(maps.shape[-1]),
        after=int(pooled.shape[-1]),
        channels_before=int(maps.shape[1]),
        channels_after=int(pooled.shape[1]),
    )
    return View(html=html_, figure=fig, data=data, tight=False)


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
        **window_boxes(568, 2, 2, 0),
        "ceil_mode": W.Checkbox(False, description="ceil_mode"),
        "source": W.Dropdown(options=SOURCES, value="feature map", description="pool"),
    }


WIDGETS = {
    "pool": Widget(pool_view, pool_controls, css="ul-pool", title="One max pool: input size -> output size"),
    # what one output pixel sees: the contracting path's blocks without the copies (unet_lesson.ui.receptive)
    "field": stack_widget(input_size=96, blocks=3, convs=2, row=8, col=8),
}


# ------------------------------------------------------------------------------------------
# the experiment: what a pool keeps, and what it loses
# ------------------------------------------------------------------------------------------
@torch.no_grad()
def dot_view() -> View:
    """A single bright pixel at each of the 4 positions of one 2x2 window, then one step further (into the next
    window), through a real ``nn.MaxPool2d(2, 2)``: how many different pooled maps come out."""
    positions = [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2)]
    inputs = [dot_maps(4, [p])[0] for p in positions]
    outputs = [real_pool(x)[0, 0].numpy() for x in inputs]
    inside = {o.tobytes() for o in outputs[:4]}
    moved = not np.array_equal(outputs[4], outputs[0])
    fig = dots_figure(inputs, outputs, [f"1 at {p}" for p in positions])
    html_ = (
        f"<div>The four positions inside the top-left window give <b>{len(inside)}</b> pooled map(s): the pool "
        f"keeps <i>that</i> the window holds a 1, not <i>where</i>. One pixel further, at (0, 2), the 1 is in the "
        f"next window, and the pooled map {'changes' if moved else 'stays the same'}.</div>"
    )
    return View(html=html_, figure=fig, data={"distinct_inside": len(inside), "moved_changes": moved}, tight=False)


def _similarity(a: torch.Tensor, b: torch.Tensor) -> float:
    """The correlation of two maps, pixel by pixel (1: the same up to brightness, 0: unrelated)."""
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12))


@torch.no_grad()
def shift_view(shift: int = 1, size: int = 96, pools: int = 2) -> View:
    """Shift the sample image by ``shift`` pixels and measure how similar a real conv feature map (vertical
    edges + ReLU) stays, before the pool and after each of ``pools`` real 2x2 max pools. The control: the
    same layers on a different picture of cells, which should stay unrelated (near 0) at every stage.

    ``data["similarity"]``: the correlation of the map with the shifted image's map at each stage (feature map,
    after pool 1, ...); ``data["control"]``: the same with the unrelated picture."""
    shift = whole(shift, "shift (pixels)", minimum=0, maximum=MAX_SHIFT)
    size = whole(size, "size", minimum=16, maximum=256)
    pools = whole(pools, "pools", minimum=1, maximum=3)
    with seeded(0):  # the weights are set just below
        conv = nn.Conv2d(1, 1, 3, bias=False)
    conv.weight.copy_(torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])[None, None])
    img = as_batch(picture(size + 2 + MAX_SHIFT))  # one picture for every shift: only the shift changes
    a = torch.relu(conv(img[..., : size + 2, : size + 2]))
    b = torch.relu(conv(img[..., : size + 2, shift : size + 2 + shift]))  # the image moved left by `shift`
    u = torch.relu(conv(as_batch(sample_image(size + 2, seed=1))))  # the control: another picture of cells
    stages = []
    for i in range(pools + 1):
        if i:
            a, b, u = (nn.MaxPool2d(2, 2)(t) for t in (a, b, u))
        name = f"after pool {i}" if i else "feature map"
        stages.append((name, a[0, 0].numpy(), b[0, 0].numpy(), _similarity(a, b), _similarity(a, u)))
    fig = shift_figure([(name, x, y, r) for name, x, y, r, _ in stages])
    rows = [(name, f"{x.shape[0]}×{x.shape[1]}", f"{r:.2f}", f"{c:.2f}") for name, x, _, r, c in stages]
    html_ = html_table(
        ["stage", "size", f"similarity with the {shift}-pixel shift", "control: another picture"], rows, mono=(1, 2, 3)
    ) + (
        "<div style='color:#555'>similarity: the correlation of the two maps, pixel by pixel (1: the same, "
        "0: unrelated).</div>"
    )
    data = {
        "shift": shift,
        "similarity": tuple(round(r, 3) for *_, r, _ in stages),
        "control": tuple(round(c, 3) for *_, c in stages),
    }
    return View(html=html_, figure=fig, data=data, tight=False)
