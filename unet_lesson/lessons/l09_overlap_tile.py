"""Lesson 09, overlap-tile: the widget's view function, the lesson's models and its exercises.

The arithmetic and the predictions live in :mod:`unet_lesson.seg.tiling`; this module only
arranges them for the lesson.
"""

from __future__ import annotations

import html

from ..core.search import valid_input_sizes
from ..core.shapes import InvalidInputSize, nearest_valid_sizes, output_size
from ..seg.tiling import TooManyTiles, margin_of, plan_tiles
from ..ui.course import Lesson
from ..ui.exercises import Exercise
from ..ui.figures.tiling import plot_plan
from ..ui.tables import key_value_table
from ..ui.widgets import View, Widget

__all__ = [
    "LESSON",
    "WIDGETS",
    "EXERCISES",
    "plan_view",
    "controls",
    "tile_message",
    "lesson_models",
    "EX_MARGIN",
    "EX_TILES",
    "EX_NEAREST",
    "EX_WHY",
    "PAPER_TILE",
    "ISBI_IMAGE",
]

LESSON = Lesson(
    9,
    "09_overlap_tile",
    "Overlap-tile",
    minutes=30,
    topics=(12,),
    summary="plan valid tiles, mirror the border, stitch the valid network's tiles exactly; see the "
    "seams of naive same-padding tiles",
)

#: the paper's input tile (Fig. 1 and 2) and the size of the ISBI 2012 EM slices it segmented
PAPER_TILE = 572
ISBI_IMAGE = (512, 512)

#: how many tiles the widget still draws
MAX_DRAWN_TILES = 400


def tile_message(tile=PAPER_TILE, **unet_options) -> str:
    """One sentence: is ``tile`` a valid input tile, and what follows from it (or what would work)."""
    try:
        m = margin_of(tile, **unet_options)
    except ValueError as e:  # InvalidInputSize is a ValueError
        return str(e)
    out = output_size(tile, **unet_options)
    return (
        f"{tile} is a valid tile: output {out[0]}x{out[1]}, margin ({tile} - {out[0]})/2 = {m[0]} px of "
        f"mirrored or neighbouring context on each side."
    )


def plan_view(
    tile: int = PAPER_TILE, height: int = ISBI_IMAGE[0], width: int = ISBI_IMAGE[1], depth: int = 4, align: bool = True
) -> View:
    """The widget: tile size and image size -> the plan picture, margin, number of tiles.

    An invalid tile raises :class:`~unet_lesson.InvalidInputSize` naming the nearest valid tile sizes, with
    their outputs and margins; a plan with more tiles than the widget draws says how many it would need.
    """
    opts = dict(depth=depth)
    try:
        plan = plan_tiles((height, width), tile, align=align, max_tiles=MAX_DRAWN_TILES, **opts)
    except InvalidInputSize as e:
        near = [v for v in (e.below, e.above) if v is not None]
        if not near:
            raise
        margins = "; ".join(f"{v} gives margin {margin_of(v, **opts)[0]}" for v in near)
        raise e.with_note(f"Their margins: {margins}.") from None
    except TooManyTiles as e:
        raise ValueError(
            f"This plan would need {e.grid[0]} x {e.grid[1]} = {e.n_tiles:,} tiles: too many for this "
            f"widget to draw (at most {MAX_DRAWN_TILES}). Choose a larger tile or a smaller image."
        ) from None
    (th, tw), (oh, ow), (m, _), (s, _) = plan.tile, plan.output, plan.margin, plan.stride
    rows, cols = plan.grid
    used = plan.n_tiles * th * tw
    lines = [
        ("tile (input)", f"{th}x{tw}"),
        ("output tile", f"{oh}x{ow}  (output_size({th}) with depth {depth})"),
        ("margin", f"({th} - {oh})/2 = {m} px per side, mirrored at the image border"),
        (
            "step between tiles",
            f"{s} px"
            + (
                f"  (the largest multiple of {plan.grid_step} = 2^{depth} that fits in {oh})"
                if align and s != oh
                else ""
            ),
        ),
        ("tiles", f"{rows} rows x {cols} columns = {plan.n_tiles}"),
        ("mirror padding", "top {}, bottom {}, left {}, right {}".format(*plan.padding)),
        ("pixels fed to the network", f"{used:,} for an image of {height * width:,} ({used / (height * width):.1f}x)"),
    ]
    body = f"<p class='ul-tile-message'>{html.escape(tile_message(tile, **opts))}</p>" + key_value_table(
        lines, css="ul-tile-plan"
    )
    return View(
        html=body,
        figure=plot_plan(plan),
        data=dict(
            tile=th,
            output=oh,
            margin=m,
            step=s,
            rows=rows,
            cols=cols,
            tiles=plan.n_tiles,
            valid=1,
            pad_top=plan.padding[0],
            pad_bottom=plan.padding[1],
            pad_left=plan.padding[2],
            pad_right=plan.padding[3],
        ),
    )


def controls():
    """The widget's controls (IntText, so that any typed size reaches the view and is explained)."""
    import ipywidgets as W

    return {
        "tile": W.IntText(value=PAPER_TILE, description="tile size", layout=W.Layout(width="170px")),
        "height": W.IntText(value=ISBI_IMAGE[0], description="image height", layout=W.Layout(width="190px")),
        "width": W.IntText(value=ISBI_IMAGE[1], description="image width", layout=W.Layout(width="190px")),
        "depth": W.IntText(value=4, description="depth (max pools)", layout=W.Layout(width="190px")),
        "align": W.Checkbox(value=True, description="align steps to the 2^depth grid"),
    }


WIDGETS = {"tile": Widget(plan_view, controls, css="ul-tile", title="Overlap-tile plan")}


def lesson_models(seed: int = 0, base_channels: int = 4, device=None):
    """The lesson's two networks and a note saying where their weights come from.

    Returns ``(valid_model, same_model, note)``, in eval mode on ``device`` (default:
    :func:`unet_lesson.core.env.get_device`): the course's small trained models when they ship and load,
    otherwise small UNets with random weights drawn from ``seed`` with the paper's initialisation
    (``init="he"``: the ReLUs stay alive, so even an untrained map varies across the image), and the
    note says which (:func:`unet_lesson.seg.pretrained.trained_or_random`).
    """
    from ..core.env import get_device
    from ..seg.pretrained import trained_or_random

    device = get_device() if device is None else device
    models, notes = [], []
    for kind in ("valid", "same"):
        model, _, note = trained_or_random(kind, seed=seed, device=device, base_channels=base_channels, init="he")
        models.append(model)
        notes.append(f"{kind} network: {note}")
    return models[0], models[1], "; ".join(notes) + f" (on {models[0].head.weight.device.type})"


# ----------------------------------------------------------------------------------
# exercises
# ----------------------------------------------------------------------------------
_OUT = output_size(PAPER_TILE)[0]
_M = margin_of(PAPER_TILE)[0]
_EX2_IMAGE = (1000, 700)
_EX2_PLAN = plan_tiles(_EX2_IMAGE, PAPER_TILE)
_EX3_TILE = 600
_EX3_ABOVE = nearest_valid_sizes(_EX3_TILE)[1]


def _margin_hint(answer) -> str:
    try:
        a = int(answer)
    except (TypeError, ValueError):
        return "answer with a number of pixels."
    if a == PAPER_TILE - _OUT:
        return f"{a} is the margin on both sides together: {PAPER_TILE} - {_OUT} is split between the two sides."
    return f"the output tile is {_OUT}; the margin is what the valid convolutions eat on ONE side: (input - output)/2."


EX_MARGIN = Exercise(
    key="9.1",
    question=(
        f"The paper's tile: input {PAPER_TILE}x{PAPER_TILE}, output {_OUT}x{_OUT}. How many pixels of "
        "context (the margin) does overlap-tile mirror on each side of the image?"
    ),
    expected=lambda: margin_of(PAPER_TILE)[0],
    hint=_margin_hint,
    explanation=(
        f"margin = ({PAPER_TILE} - {_OUT})/2 = {_M}: every output pixel needs {_M} px of input on each "
        f"side, so the image is mirrored by {_M} px and neighbouring input tiles overlap by "
        f"{PAPER_TILE} - (step) >= 2 x {_M} = {2 * _M} px."
    ),
)


def _tiles_hint(answer) -> str:
    p = _EX2_PLAN
    return (
        f"each tile contributes one output block, and the tiles step by {p.stride[0]} px (the output tile "
        f"{p.output[0]} rounded down to a multiple of {p.grid_step}). How many steps cover {_EX2_IMAGE[0]} "
        f"rows? And {_EX2_IMAGE[1]} columns? Multiply."
    )


EX_TILES = Exercise(
    key="9.2",
    question=(
        f"An image of {_EX2_IMAGE[0]}x{_EX2_IMAGE[1]} pixels (height x width), input tiles of "
        f"{PAPER_TILE}x{PAPER_TILE} (aligned steps). How many tiles does overlap-tile need?"
    ),
    expected=lambda: plan_tiles(_EX2_IMAGE, PAPER_TILE).n_tiles,
    hint=_tiles_hint,
    explanation=(
        f"ceil({_EX2_IMAGE[0]}/{_EX2_PLAN.stride[0]}) = {_EX2_PLAN.grid[0]} rows and "
        f"ceil({_EX2_IMAGE[1]}/{_EX2_PLAN.stride[1]}) = {_EX2_PLAN.grid[1]} columns: "
        f"{_EX2_PLAN.n_tiles} tiles. The last row and column reach past the image; that part is mirrored "
        "input and its output is thrown away."
    ),
)


def _nearest_hint(answer) -> str:
    try:
        a = int(answer)
    except (TypeError, ValueError):
        return "answer with a tile size in pixels."
    if a in valid_input_sizes(_EX3_TILE + 100):
        return f"{a} is valid, but not the nearest one above {_EX3_TILE}."
    first = valid_input_sizes(400)[:2]
    return (
        f"a valid tile gives an even size at every 2x2 max pool; for the paper's network the valid sizes are "
        f"{first[0]} + {first[1] - first[0]}k. Try valid_input_sizes({_EX3_TILE + 20}) or "
        f"plan_tiles((512, 512), {_EX3_TILE})."
    )


EX_NEAREST = Exercise(
    key="9.3",
    question=(
        f"A {_EX3_TILE}x{_EX3_TILE} tile does not work for the paper's network. What is the nearest valid "
        f"tile size above {_EX3_TILE}?"
    ),
    expected=lambda: nearest_valid_sizes(_EX3_TILE)[1],
    hint=_nearest_hint,
    explanation=(
        f"{_EX3_ABOVE}: every 2x2 max pool then gets an even size, and the output is "
        f"{output_size(_EX3_ABOVE)[0]}. plan_tiles(..., {_EX3_TILE}) says where {_EX3_TILE} breaks."
    ),
)

EX_WHY = Exercise(
    key="9.4",
    question="Why do the overlap-tiles of the valid network stitch without seams, while naive tiles of the "
    "same-padding network show them?",
    choices={
        "a": "mirroring makes every tile symmetric, so the borders match",
        "b": "each output pixel of a valid tile saw its full context (the margin) from the image or its mirror, "
        "exactly as in a whole-image pass; the same-padding net zero-pads every tile border, as if the "
        "image ended there",
        "c": "the valid network has fewer parameters, so it is smoother",
    },
    expected="b",
    hint="think about what the 3x3 convolutions next to a tile border see in each case.",
    explanation=(
        "right: a valid conv never looks outside its input, so a tile's output only covers pixels whose "
        "whole context was in the tile. Same padding fills the missing context with zeros at every "
        "tile border, and the prediction near the border changes."
    ),
)

EXERCISES = [EX_MARGIN, EX_TILES, EX_NEAREST, EX_WHY]
