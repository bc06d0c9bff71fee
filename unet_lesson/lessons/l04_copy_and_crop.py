"""Lesson 04, copy and crop (中心裁剪 center crop + 拼接 concatenation): views and exercises.

The notes (topics 8-9) crop the contracting path's 64x64x512 map to 56x56x512 and concatenate
it onto the up-conv's 56x56x512, giving 56x56x1024; the four crops of the paper's network are
64->56, 136->104, 280->200 and 568->392 (the notes show the first three; the fourth is computed).
Everything here is computed by ``unet_lesson``:
the sizes by :func:`~unet_lesson.shape_table` and :func:`~unet_lesson.center_crop_box`, the maps
by the real :class:`~unet_lesson.UNet` (its ``CenterCrop`` and ``CropAndConcat`` modules).

View functions (the widgets' brains, tested in ``tests/test_lesson_crop.py``):

* :func:`crop_levels_view` - the crop at every level for an input size and padding
* :func:`crop_ledger_view` - why the copied map is larger: the sizes from the copy to the crop
* :func:`crop_grid_view` - a small grid: which rows/columns a crop cuts; odd differences
* :func:`crop_view` - the widget: the crop box drawn on a real feature map

Every view answers any size at once with the arithmetic; the widget runs its real forward pass
up to ``MAX_WIDGET_SIZE`` and says so beyond.
"""

from __future__ import annotations

import html
from functools import lru_cache

import numpy as np
import torch

from ..core.crops import (
    LARGEST,
    CropLevel,
    check_level,
    check_padding,
    concat_shapes,
    crop_ledger,
    crop_levels,
    crop_options,
    crop_size,
    first_odd_pool,
    input_position,
    not_giant,
    odd_input_message,
)
from ..core.env import cpu_threads, seeded
from ..core.model import UNet
from ..core.ops import center_crop
from ..core.parse import flag
from ..core.shapes import output_size
from ..core.sizes import center_crop_box
from ..seg.data import sample_image
from ..ui.checkers import check_center_crop, check_crop_and_concat
from ..ui.exercises import same_answer
from ..ui.figures.crop import crop_figure, crop_grid_figure
from ..ui.tables import Raw, html_table
from ..ui.widgets import View, Widget, choice_buttons, number_box
from ._text import lesson_text

TEXT = lesson_text(__name__)

__all__ = [
    "LESSON",
    "WIDGETS",
    "controls",
    "CropLevel",
    "crop_levels",
    "crop_levels_view",
    "crop_ledger",
    "crop_ledger_view",
    "concat_shapes",
    "crop_grid_view",
    "input_position",
    "odd_input_message",
    "crop_view",
    "MAX_WIDGET_SIZE",
    "GRID_MAX",
    "LARGEST",
    "EXERCISES",
]

LESSON = TEXT.lesson

#: the widget computes real feature maps (a forward pass of a small U-Net, about half a second at 576);
#: above this size it explains instead of computing. 576 takes the paper's 572 and same padding's 576.
MAX_WIDGET_SIZE = 576
GRID_MAX = 128
_PADDINGS = ("valid", "same")


# ----------------------------------------------------------------------------------
# the image the lesson looks at
# ----------------------------------------------------------------------------------
# ----------------------------------------------------------------------------------
# the crops, level by level
# ----------------------------------------------------------------------------------
def _hw(t: tuple[int, int], c: int | None = None) -> str:
    s = f"{t[0]}×{t[1]}"
    return s if c is None else f"{s}×{c}"


def crop_levels_view(input_size=572, padding: str = "valid", allow_odd: bool = False) -> View:
    """A table of the four crops for one input size (sizes as the notes write them, H×W×C)."""
    levels = crop_levels(input_size, padding, allow_odd)
    rows = []
    for c in levels:
        cut = (
            f"{c.top} top, {c.bottom} bottom"
            if (c.top, c.bottom) == (c.left, c.right)
            else f"{c.top}/{c.bottom} rows, {c.left}/{c.right} columns"
        )
        flag = "" if c.centered else " <b style='color:#b3261e'>not centred</b>"
        rows.append(
            (
                c.level,
                _hw(c.source, c.channels),
                _hw(c.target, c.channels),
                Raw(html.escape(cut) + flag),
                _hw(c.target, c.concat_channels),
                c.formula,
            )
        )
    table = html_table(
        ("level", "copied map", "after crop", "cut", "after concat", "formula"), rows, css="ul-crop-table", mono=(5,)
    )
    data = {"input": input_size if isinstance(input_size, int) else str(input_size), "padding": padding}
    for c in levels:
        data[f"crop{c.level}"] = f"{c.source[0]}->{c.target[0]}"
    return View(html=table, data=data)


# ----------------------------------------------------------------------------------
# why the copied map is larger
# ----------------------------------------------------------------------------------
def crop_ledger_view(level: int = 4, input_size=572, padding: str = "valid") -> View:
    """The size ledger from the copy to the crop at ``level``, with the loss counted."""
    steps = crop_ledger(level, input_size, padding)
    lvl = next(c for c in crop_levels(input_size, padding) if c.level == level)
    convs = sum(op.startswith("3x3") for op, _, _ in steps)
    items = "".join(f"<li><code>{a} → {b}</code> {html.escape(op)}</li>" for op, a, b in steps)
    diff = lvl.source[0] - lvl.target[0]
    text = (
        f"<p>Level {level}: the copied map is {lvl.source[0]} pixels. The expanding path's map takes the "
        f"detour down the U and back: {convs} 3x3 convs "
        f"({'each loses 2 pixels' if padding == 'valid' else 'same padding: none loses a pixel'}), "
        f"and each up-conv doubles what was lost below it.</p><ol>{items}</ol>"
        f"<p>It arrives at {lvl.target[0]}: {diff} pixels smaller, so the copied map is cropped by "
        f"{lvl.top} on each side.</p>"
        if diff
        else f"<p>Level {level}: copied {lvl.source[0]}, up-conv {lvl.target[0]}: the same, nothing to crop.</p>"
        f"<ol>{items}</ol>"
    )
    return View(
        html=text,
        data={"level": level, "source": lvl.source[0], "target": lvl.target[0], "difference": diff, "convs": convs},
    )


# ----------------------------------------------------------------------------------
# concatenation doubles the channels (with the real CropAndConcat)
# ----------------------------------------------------------------------------------
# ----------------------------------------------------------------------------------
# a crop on a small grid: even and odd differences
# ----------------------------------------------------------------------------------
def crop_grid_view(source: int = 8, target: int = 6) -> View:
    """Draw a ``source`` x ``source`` grid and the centre crop to ``target``: kept cells, cut cells,
    and the two centres (they differ by half a pixel when ``source - target`` is odd)."""
    source, target = crop_size(source, "source"), crop_size(target, "target")
    box = center_crop_box(source, target)
    drawn = source <= GRID_MAX
    fig = crop_grid_figure(source, target, box) if drawn else None
    c_src, c_crop = source / 2, box.top + target / 2
    shift = c_crop - c_src
    note = (
        "the crop is centred."
        if box.centered
        else f"the difference {source - target} is odd, so the extra row goes to the bottom and the extra column "
        f"to the right: the crop's centre sits {abs(shift):g} pixel {'above and left of' if shift < 0 else 'off'} "
        "the map's centre. The copied map no longer lines up with the expanding path's map."
    )
    text = f"<p><code>{html.escape(box.explain().text)}</code>: {html.escape(note)}</p>"
    if not drawn:
        text += (
            f"<p class='ul-note'>Not drawn: this picture draws one square per pixel, up to {GRID_MAX} "
            f"({source:,} typed). The numbers above hold for any size.</p>"
        )
    return View(
        html=text,
        figure=fig,
        data={
            "source": source,
            "target": target,
            "top": box.top,
            "bottom": box.bottom,
            "centered": str(box.centered),
            "shift": float(shift),
            "drawn": drawn,
        },
    )


# ----------------------------------------------------------------------------------
# the widget: the crop box on a real feature map
# ----------------------------------------------------------------------------------
_WIDGET_BASE = 4  # channels of the widget's small UNet: sizes do not depend on channels


@lru_cache(maxsize=4)
def _small_unet(padding: str, allow_odd: bool) -> UNet:
    """The widget's network, with the paper's kind of initialisation (Gaussian, std sqrt(2/N), He et al.):
    with PyTorch's default the untrained maps below the first level are almost blank after the ReLUs."""
    from torch import nn

    with seeded(0):
        model = UNet(base_channels=_WIDGET_BASE, depth=4, padding=padding, mismatch="crop" if allow_odd else "error")
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:  # same padding's convs have none (batch norm follows)
                    nn.init.zeros_(m.bias)
    return model.eval()


@lru_cache(maxsize=6)
def _maps(input_size: int, padding: str, allow_odd: bool) -> dict:
    """From one real forward pass of the small UNet: the input image and, for each level, one
    channel of the copied map, the same channel after the model's own crop, and the shape of
    the up-conv's map it is concatenated with."""
    from ..core.inspect import feature_maps

    model = _small_unet(padding, allow_odd)
    depth = model.options.depth
    names = []
    for level in range(1, depth + 1):
        i = depth - level
        names += [f"down_convs.{level - 1}", f"concats.{i}.crop", f"up_samples.{i}"]
    # one picture of cells, made once at the widget's largest size; a smaller input is its centre
    image = np.ascontiguousarray(center_crop(sample_image(MAX_WIDGET_SIZE), input_size))
    with cpu_threads(1):  # a small network: a second thread only spin-waits on a busy machine
        maps = feature_maps(model, image, modules=names)
    out: dict = {"image": image}
    for level in range(1, depth + 1):
        copied, cropped, up = (maps[n][0] for n in names[3 * (level - 1) : 3 * level])
        ch = int(torch.argmax(copied.flatten(1).std(dim=1)))
        out[level] = {
            "copied": copied[ch].numpy(),
            "cropped": cropped[ch].numpy(),
            "up_shape": tuple(up.shape[-2:]),
            "channel": ch,
        }
    return out


def crop_view(input_size=572, level: int = 1, padding: str = "valid", allow_odd: bool = False) -> View:
    """The widget's view: the crop at ``level`` in numbers and, from a real forward pass of a small UNet
    (4 base channels; its sizes are those of the paper's network for the same input), in pictures:

    1. the input image, with the part the copied map covers (dashed) and the part the crop keeps (red);
    2. the copied map at ``level`` (its liveliest channel) with the centre-crop box;
    3. the map after the model's own ``CenterCrop``, the size of the up-conv's map.

    An input size the network cannot take raises :class:`InvalidInputSize` (the layer, why, and the
    nearest valid sizes). Above ``MAX_WIDGET_SIZE`` the numbers still answer; the pictures are not drawn.
    """
    padding = check_padding(padding)
    level = check_level(level)
    allow_odd = flag(not_giant(allow_odd, "allow_odd"), "allow_odd")
    size = crop_size(input_size)  # one whole number: the widget's map is square
    levels = crop_levels(size, padding, allow_odd)  # InvalidInputSize (with the nearest sizes) if it cannot work
    lvl = next(c for c in levels if c.level == level)
    box = center_crop_box(lvl.source, lvl.target)
    out_h, out_w = output_size(size, **crop_options(padding, allow_odd))
    sh, sw = lvl.source
    c = lvl.channels
    formula = html.escape(box.explain().text)
    if box.source == box.target:
        what = (
            f"Same padding: the copied map and the up-conv's map are both {sh}×{sw}, so the crop keeps "
            "everything (the red box is the whole map) and concatenation is direct."
        )
    else:
        what = (
            f"offset top = ({sh} − {box.height}) // 2 = {box.top}, left = ({sw} − {box.width}) // 2 = "
            f"{box.left}; cut {box.top} top, {box.bottom} bottom, {box.left} left, {box.right} right"
            + ("" if box.centered else " (not centred: an odd difference)")
            + "."
        )
    text = (
        f"<p><b>Input {size}, level {level}, {padding} padding.</b> {what}<br>"
        f"<code>{formula}</code><br>"
        f"Copied {_hw(lvl.source, c)} → crop → {_hw(lvl.target, c)}; concatenated with the up-conv's "
        f"{_hw(lvl.target, c)} → {_hw(lvl.target, 2 * c)} (channels as in the paper's network; "
        f"the pictures come from a {_WIDGET_BASE}-channel copy). Network output: {out_h}×{out_w}.</p>"
    )
    data = {
        "input": size,
        "level": level,
        "padding": padding,
        "source": sh,
        "target": box.height,
        "top": box.top,
        "left": box.left,
        "bottom": box.bottom,
        "right": box.right,
        "channels": c,
        "concat_channels": 2 * c,
        "output": out_h,
        "valid": "yes",
    }
    if size > MAX_WIDGET_SIZE:
        note = (
            f"<p class='ul-note'>Not drawn: the pictures come from a real forward pass, which this widget runs "
            f"up to {MAX_WIDGET_SIZE} pixels (about half a second there; {size:,} typed). The numbers above hold for "
            "any size: they come from the shape table, which the tests check against real forward passes.</p>"
        )
        return View(html=text + note, data={**data, "crop_matches_box": ""})
    maps = _maps(size, padding, allow_odd)
    m = maps[level]
    matches = bool(np.array_equal(m["copied"][box.slices], m["cropped"])) and m["up_shape"] == lvl.target
    fig = crop_figure(maps, m, lvl, box, level, input_position(level, size, padding, allow_odd))
    return View(html=text, figure=fig, data={**data, "crop_matches_box": str(matches)})


def controls(input_size: int = 572, level: int = 1, padding: str = "valid") -> dict:
    """The widget's controls: an IntText for the size (no clamping: bad sizes reach the view)."""
    import ipywidgets as W

    return {
        "input_size": number_box(input_size, "input size"),
        "level": W.Dropdown(
            options=[("1 (top, 568 in the paper)", 1), ("2", 2), ("3", 3), ("4 (deepest, 64 in the paper)", 4)],
            value=level,
            description="level",
        ),
        "padding": choice_buttons(_PADDINGS, padding, "padding"),
        "allow_odd": W.Checkbox(value=False, description="crop anyway when a size is odd (mismatch='crop')"),
    }


WIDGETS = {
    "crop": Widget(crop_view, controls, css="ul-crop", title="Copy and crop: the crop box on a real feature map")
}


# ----------------------------------------------------------------------------------
# exercises: answers computed by unet_lesson
# ----------------------------------------------------------------------------------
def _crop_at(level: int, input_size=572, padding="valid", allow_odd=False) -> CropLevel:
    return next(c for c in crop_levels(input_size, padding, allow_odd) if c.level == level)


def _hint_offset(answer) -> str:
    c = _crop_at(3)
    if same_answer(answer, c.source[0] - c.target[0]):
        return "that is the total cut; half of it goes to the top, half to the bottom."
    if same_answer(answer, c.target[0]):
        return "that is the size that is kept; the question asks how many rows are cut off above it."
    return ""


EX_OFFSET = TEXT.exercise("4.1", expected=lambda: _crop_at(3).top, hint=_hint_offset)

EX_CENTER_CROP = TEXT.code_exercise("4.2", check_center_crop)


def _hint_concat(answer) -> str:
    up = concat_shapes(64, 56, 512)["up"]
    if same_answer(answer, (up[0], up[1], up[2] * 4)) or same_answer(answer, (2 * up[0], up[1], up[2])):
        return "concatenation puts the two maps side by side along one axis only: the channels."
    if same_answer(answer, (64, 64, 1024)):
        return "the copied map is cropped first: both maps are 56×56 when they are stacked."
    if same_answer(answer, (1024, 56, 56)):
        return "right numbers, in PyTorch's C×H×W order; the question (and the notes) write H×W×C."
    return ""


EX_CONCAT = TEXT.exercise("4.3", expected=lambda: concat_shapes(64, 56, 512)["concat"], hint=_hint_concat)

EX_CROP_AND_CONCAT = TEXT.code_exercise("4.4", check_crop_and_concat)

EX_ODD = TEXT.exercise(
    "4.5",
    expected=lambda: center_crop_box(65, 56).bottom,
    hint=lambda a: (
        "that is the top: offset = (65 − 56) // 2 = 4; the bottom gets what is left."
        if same_answer(a, center_crop_box(65, 56).top)
        else ""
    ),
)


EX_FIRST_ODD = TEXT.exercise(
    "4.6",
    expected=lambda: first_odd_pool(574),
    hint=lambda a: (
        "570 is even: the first pool halves it cleanly to 285. Go on to the next level."
        if same_answer(a, 570)
        else (
            "that is the map after the pool; the question asks for the map entering a pool."
            if same_answer(a, 285)
            else ""
        )
    ),
)

EX_SAME = TEXT.exercise(
    "4.7",
    expected=lambda: _crop_at(1, 576, "same").top,
    hint=lambda a: "with padding 1 no 3x3 conv loses a pixel." if same_answer(a, 88) else "",
)

EX_SLIP = TEXT.exercise("4.8", expected="b")

EXERCISES = [
    EX_OFFSET,
    EX_CENTER_CROP,
    EX_CONCAT,
    EX_CROP_AND_CONCAT,
    EX_ODD,
    EX_FIRST_ODD,
    EX_SAME,
    EX_SLIP,
]
