"""Lesson 04, copy and crop (中心裁剪 center crop + 拼接 concatenation): views and exercises.

The notes (topics 8-9) crop the contracting path's 64x64x512 map to 56x56x512 and concatenate
it onto the up-conv's 56x56x512, giving 56x56x1024; the four crops of the paper's network are
64->56, 136->104, 280->200 and 568->392. Everything here is computed by ``unet_lesson``:
the sizes by :func:`~unet_lesson.shape_table` and :func:`~unet_lesson.center_crop_box`, the maps
by the real :class:`~unet_lesson.UNet` (its ``CenterCrop`` and ``CropAndConcat`` modules).

View functions (the widgets' brains, tested in ``tests/test_lesson_crop.py``):

* :func:`crop_levels_view` - the crop at every level for an input size and padding
* :func:`crop_ledger_view` - why the copied map is larger: the sizes from the copy to the crop
* :func:`crop_grid_view` - a small grid: which rows/columns a crop cuts; odd differences
* :func:`crop_view` - the widget: the crop box drawn on a real feature map
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from ..core.env import seeded
from ..core.model import CropAndConcat, UNet
from ..core.options import PADDINGS
from ..core.parse import choice, flag, whole
from ..core.shapes import InvalidInputSize, nearest_valid_sizes, output_size, shape_table
from ..core.sizes import center_crop_box
from ..seg.data import sample_image
from ..ui.course import Lesson
from ..ui.exercises import Exercise
from ..ui.figures.crop import crop_figure, crop_grid_figure
from ..ui.tables import Raw, html_table
from ..ui.widgets import View, Widget

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
    "EXERCISES",
]

LESSON = Lesson(
    4,
    "04_copy_and_crop",
    "Copy and crop",
    minutes=30,
    topics=(8, 9),
    summary="the center crops 64->56, 136->104, 280->200, 568->392 and concatenation",
)

#: the widget computes real feature maps; above this size it explains instead of computing
MAX_WIDGET_SIZE = 1024
#: the crop-grid picture draws one square per pixel up to this size
GRID_MAX = 128
_PADDINGS = ("valid", "same")


# ----------------------------------------------------------------------------------
# the image the lesson looks at
# ----------------------------------------------------------------------------------
# ----------------------------------------------------------------------------------
# the crops, level by level
# ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CropLevel:
    """The copy and crop at one level of the U (level 1 = top)."""

    level: int
    channels: int  # channels of the copied map (= of the up-conv's map)
    source: tuple[int, int]  # copied (contracting-path) map, (H, W)
    target: tuple[int, int]  # expanding-path map = size after the crop, (H, W)
    top: int
    left: int
    bottom: int
    right: int
    formula: str

    @property
    def concat_channels(self) -> int:
        return 2 * self.channels

    @property
    def centered(self) -> bool:
        return self.top == self.bottom and self.left == self.right


def _check_padding(padding: str) -> str:
    return choice(padding, "padding", PADDINGS)


def _options(padding: str, allow_odd: bool = False, depth: int = 4) -> dict:
    _check_padding(padding)
    return dict(padding=padding, depth=depth, mismatch="crop" if allow_odd else "error")


def crop_levels(
    input_size=572, padding: str = "valid", allow_odd: bool = False, depth: int = 4, base_channels: int = 64
) -> list[CropLevel]:
    """The copy and crop at each level, top of the U first, from :func:`shape_table` and
    :func:`center_crop_box` (raises :class:`InvalidInputSize` for a size the network cannot take)."""
    table = shape_table(input_size, base_channels=base_channels, **_options(padding, allow_odd, depth))
    out = []
    for row in sorted(table.where(kind="crop"), key=lambda r: r.level):
        box = center_crop_box(row.in_shape[1:], row.out_shape[1:])
        out.append(
            CropLevel(
                row.level,
                row.in_shape[0],
                box.source,
                box.target,
                box.top,
                box.left,
                box.bottom,
                box.right,
                box.explain().text,
            )
        )
    return out


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
def crop_ledger(level: int, input_size=572, padding: str = "valid") -> list[tuple[str, int, int]]:
    """What happens to the size between the copy at ``level`` and the crop at the same level.

    Returns ``(operation, size in, size out)`` for every layer from that level's pool down the U
    and back up to its up-conv, read off :func:`shape_table`. With valid padding each 3x3 conv
    on that detour loses 2 pixels, and the up-convs double every loss on the way back, so the
    expanding path's map arrives smaller than the copied one.
    """
    table = shape_table(input_size, **_options(padding))
    _check_level(level, table.options.depth)
    start = next(r.index for r in table.where(kind="pool", level=level))
    end = next(r.index for r in table.where(kind="up", level=level))
    return [
        (
            f"{r.operation} ({r.path}{'' if r.path == 'bottom' else ', level ' + str(r.level)})",
            r.in_shape[1],
            r.out_shape[1],
        )
        for r in table.rows[start - 1 : end]
        if r.kind in ("conv", "pool", "up")
    ]


def _check_level(level, depth: int = 4) -> int:
    return whole(
        level,
        "level",
        minimum=1,
        maximum=depth,
        hint=f"1 is the top of the U, where the 568 map is copied; {depth} the deepest copy, 64x64x512 in the paper.",
    )


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
@torch.no_grad()
def concat_shapes(skip_size: int = 64, up_size: int = 56, channels: int = 512) -> dict:
    """Run the model's real ``CropAndConcat`` on a copied map and an up-conv map.

    Returns the three shapes as the notes write them (H, W, C): the copied map, the up-conv's
    map and the concatenation, e.g. 64x64x512 + 56x56x512 -> 56x56x1024.
    """
    box = center_crop_box(skip_size, up_size)  # explains a skip smaller than the up map
    skip = torch.zeros(1, channels, skip_size, skip_size)
    x = torch.zeros(1, channels, up_size, up_size)
    out = CropAndConcat()(x, skip)
    notes = lambda t: (t.shape[2], t.shape[3], t.shape[1])  # noqa: E731 - (H, W, C)
    return {"copied": notes(skip), "up": notes(x), "concat": notes(out), "box": box}


# ----------------------------------------------------------------------------------
# a crop on a small grid: even and odd differences
# ----------------------------------------------------------------------------------
def crop_grid_view(source: int = 8, target: int = 6) -> View:
    """Draw a ``source`` x ``source`` grid and the centre crop to ``target``: kept cells, cut cells,
    and the two centres (they differ by half a pixel when ``source - target`` is odd)."""
    source = whole(source, "source", minimum=1, unit="pixels")
    target = whole(target, "target", minimum=1, unit="pixels")
    if source > GRID_MAX:
        raise ValueError(
            f"this picture draws one square per pixel, so it stops at {GRID_MAX} (got {source}); "
            "the numbers are the same for any size: use crop_levels_view for large maps."
        )
    box = center_crop_box(source, target)
    fig = crop_grid_figure(source, target, box)
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
        },
    )


def odd_input_message(input_size: int = 573, padding: str = "valid") -> str:
    """The message the network gives for a size with an odd map before a pool ('' if it is valid)."""
    try:
        output_size(input_size, **_options(padding))
    except InvalidInputSize as e:
        return str(e)
    return ""


def input_position(level: int, input_size=572, padding: str = "valid", allow_odd: bool = False) -> tuple[float, int]:
    """Where the copied map at ``level`` sits on the input image: pixel ``p`` of the copied map is
    centred on input coordinate ``start + p * jump`` (returns ``(start, jump)``).

    Read off the contracting-path rows of :func:`shape_table`: a 3x3 conv with padding ``p``
    moves the start by ``(1 - p)`` steps, a 2x2 pool by half a step and doubles the step.
    """
    table = shape_table(input_size, **_options(padding, allow_odd))
    _check_level(level, table.options.depth)
    pad = 1 if padding == "same" else 0
    start, jump = 0.0, 1
    for r in table.rows:
        if r.path != "contracting" or r.level > level or (r.level == level and r.kind == "pool"):
            continue
        if r.kind == "conv":
            start += (1 - pad) * jump
        elif r.kind == "pool":
            start += 0.5 * jump
            jump *= 2
    return start, jump


# ----------------------------------------------------------------------------------
# the widget: the crop box on a real feature map
# ----------------------------------------------------------------------------------
_WIDGET_BASE = 4  # channels of the widget's small UNet: sizes do not depend on channels


@lru_cache(maxsize=4)
def _small_unet(padding: str, allow_odd: bool) -> UNet:
    with seeded(0):
        model = UNet(base_channels=_WIDGET_BASE, depth=4, padding=padding, mismatch="crop" if allow_odd else "error")
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
    image = sample_image(input_size)
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
    padding = _check_padding(padding)
    level = _check_level(level)
    allow_odd = flag(allow_odd, "allow_odd")
    levels = crop_levels(input_size, padding, allow_odd)  # parses the size; InvalidInputSize if it cannot work
    size = whole(input_size, "input size")
    lvl = next(c for c in levels if c.level == level)
    box = center_crop_box(lvl.source, lvl.target)
    out_h, out_w = output_size(size, **_options(padding, allow_odd))
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
            f"up to {MAX_WIDGET_SIZE} pixels ({size} typed). The numbers above hold for any size.</p>"
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
        "input_size": W.IntText(value=input_size, description="input size"),
        "level": W.Dropdown(
            options=[("1 (top, 568 in the paper)", 1), ("2", 2), ("3", 3), ("4 (deepest, 64 in the paper)", 4)],
            value=level,
            description="level",
        ),
        "padding": W.ToggleButtons(options=list(_PADDINGS), value=padding, description="padding"),
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
    if str(answer).strip() == str(c.source[0] - c.target[0]):
        return "that is the total cut; half of it goes to the top, half to the bottom."
    return f"offset = (copied - target) // 2 with copied {c.source[0]} and target {c.target[0]}."


EX_OFFSET = Exercise(
    "4.1",
    "At level 3 of the paper's network the copied map is 136×136×256 and the up-conv gives 104×104×256. "
    "How many rows does the centre crop cut from the top?",
    expected=lambda: _crop_at(3).top,
    hint=_hint_offset,
    explanation="(136 − 104) // 2 = 16: rows 16..119 are kept, 16 cut on top and 16 at the bottom.",
)

EX_CONCAT = Exercise(
    "4.2",
    "The cropped 56×56×512 map is concatenated (拼接) with the up-conv's 56×56×512 map. What is the shape, "
    "written as the notes write it, H×W×C (e.g. '10x10x3')?",
    expected=lambda: concat_shapes(64, 56, 512)["concat"],
    hint=lambda a: (
        "concatenation stacks the channels; the height and width stay 56."
        if "56" in str(a)
        else "the crop already made both maps 56×56; only the channels add up."
    ),
    explanation="56×56×(512 + 512) = 56×56×1024: concatenation adds channels and keeps the size.",
)

EX_ODD = Exercise(
    "4.3",
    "A 65×65 map is centre-cropped to 56×56 (center_crop_box(65, 56)). How many rows are cut at the bottom?",
    expected=lambda: center_crop_box(65, 56).bottom,
    hint=lambda a: (
        "that is the top: offset = (65 − 56) // 2 = 4; the bottom gets what is left."
        if str(a).strip() == str(center_crop_box(65, 56).top)
        else "65 − 56 = 9 rows go; the top gets 9 // 2 of them."
    ),
    explanation="Top 4, bottom 5: 9 rows cannot be split evenly, so the crop is half a pixel off centre. "
    "This is why the paper wants an even size before every 2x2 max pool.",
)

EX_NEXT_VALID = Exercise(
    "4.4",
    "572 works, 573 does not. What is the smallest valid input size larger than 572 for the paper's network?",
    expected=lambda: nearest_valid_sizes(572)[1],
    hint="the map before each of the 4 pools must be even, so valid sizes are 2^4 = 16 apart.",
    explanation="588 = 572 + 16, with output 404. The valid sizes are 188 + 16k.",
)

EX_SAME = Exercise(
    "4.5",
    "With same padding and a 576×576 input, how many pixels does the level-1 crop cut from the top?",
    expected=lambda: _crop_at(1, 576, "same").top,
    hint="with padding 1 no 3x3 conv loses a pixel; compare the copied map with the up-conv's map.",
    explanation="0: both maps are 576×576, so the crop disappears and the concatenation is direct (notes: "
    "不需要中心裁剪了, 直接 concat 拼接).",
)

EX_SLIP = Exercise(
    "4.6",
    'Spot the slip: the notes call this step "copy and cope". What does the crop cut, and why?',
    expected="b",
    choices={
        "a": "the expanding path's map, because the up-conv made it too large",
        "b": "the copied contracting-path map, because valid 3x3 convs below it shrank the expanding path's map",
        "c": "both maps, by the same amount, to keep them centred",
    },
    hint="compare 64 (copied at level 4) with 56 (from the up-conv): which one is larger?",
    explanation="Copy and crop: the copied (contracting-path) map is larger, so it is the one cropped.",
)

EXERCISES = [EX_OFFSET, EX_CONCAT, EX_ODD, EX_NEXT_VALID, EX_SAME, EX_SLIP]
