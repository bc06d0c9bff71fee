"""Lesson 09, overlap-tile: the widget's view function, the lesson's models, its tables and its exercises.

The arithmetic and the predictions live in :mod:`unet_lesson.seg.tiling`; this module only
arranges them for the lesson.
"""

from __future__ import annotations

import html

import numpy as np

from ..core.options import UNetOptions
from ..core.search import size_rule, valid_input_sizes
from ..core.shapes import InvalidInputSize, nearest_valid_sizes, output_size
from ..seg.predict import foreground
from ..seg.tiling import TooManyTiles, margin_of, plan_tiles
from ..seg.train import VALID_OPTIONS
from ..ui.checkers import check_margin
from ..ui.figures.tiling import plot_plan
from ..ui.tables import html_table, key_value_table
from ..ui.widgets import View, Widget, number_box
from ._text import lesson_text

TEXT = lesson_text(__name__)

__all__ = [
    "LESSON",
    "WIDGETS",
    "EXERCISES",
    "plan_view",
    "controls",
    "tile_message",
    "lesson_models",
    "departures_html",
    "shift_html",
    "stitch_html",
    "seams_html",
    "EX_MARGIN",
    "EX_MARGIN_CODE",
    "EX_NEAREST",
    "EX_SHIFT",
    "EX_TILES",
    "EX_WHY",
    "PAPER_TILE",
    "ISBI_IMAGE",
    "MAX_DRAWN_TILES",
    "MAX_DRAWN_ZOOM",
]

LESSON = TEXT.lesson

#: Fig. 1's example input tile (572 -> 388; the paper never says which tile size it used), and the size of
#: the ISBI 2012 EM slices (Sect. 4: "30 images (512x512 pixels)")
PAPER_TILE = 572
ISBI_IMAGE = (512, 512)

#: how many tiles the widget still draws (a plan of more is refused with its numbers)
MAX_DRAWN_TILES = 400
#: the widget draws the plan while the mirror-padded canvas is at most this many times the image's side
MAX_DRAWN_ZOOM = 50


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


# ----------------------------------------------------------------------------------
# the widget
# ----------------------------------------------------------------------------------
def plan_view(
    tile: int = PAPER_TILE, height: int = ISBI_IMAGE[0], width: int = ISBI_IMAGE[1], depth: int = 4, align: bool = True
) -> View:
    """The widget: tile size and image size -> the plan picture, margin, step, number of tiles.

    Every value is parsed by :mod:`unet_lesson.core.parse` (through :func:`plan_tiles`): a bad one raises
    a ``ValueError`` saying why. An invalid tile raises :class:`~unet_lesson.InvalidInputSize` naming the
    nearest valid tile sizes, with their margins; a plan of more than :data:`MAX_DRAWN_TILES` tiles is
    refused with its numbers (planning and drawing stay well under a second).
    """
    try:
        plan = plan_tiles((height, width), tile, align=align, max_tiles=MAX_DRAWN_TILES, depth=depth)
    except InvalidInputSize as e:
        near = [v for v in (e.below, e.above) if v is not None]
        if not near:
            raise
        margins = "; ".join(f"{v} gives margin {margin_of(v, depth=depth)[0]}" for v in near)
        raise e.with_note(f"Their margins: {margins}.") from None
    except TooManyTiles as e:
        raise ValueError(
            f"This plan would need {e.in_words} tiles: too many for this widget to draw (at most "
            f"{MAX_DRAWN_TILES}). Choose a larger tile or a smaller image."
        ) from None
    depth, align = plan.options.depth, plan.align
    (th, tw), (oh, ow), (m, _), (s, _) = plan.tile, plan.output, plan.margin, plan.stride
    rows, cols = plan.grid
    H, W = plan.image_shape
    used = plan.n_tiles * th * tw
    if align and s != oh:
        step_words = f"{s} px  (the largest multiple of {plan.grid_step} = 2^{depth} that fits in {oh})"
    elif align:
        step_words = f"{s} px  (the output tile, already a multiple of {plan.grid_step} = 2^{depth})"
    else:
        step_words = f"{s} px  (the whole output tile; not aligned to the 2^{depth} = {plan.grid_step} px grid)"
    lines = [
        ("tile (input)", f"{th}x{tw}"),
        ("output tile", f"{oh}x{ow}  (output_size({th}) with depth {depth})"),
        ("margin", f"({th} - {oh})/2 = {m} px per side, mirrored at the image border"),
        ("step between tiles", step_words),
        ("tiles", f"{rows} rows x {cols} columns = {plan.n_tiles}"),
        ("mirror padding", "top {}, bottom {}, left {}, right {}".format(*plan.padding)),
        ("pixels fed to the network", f"{used:,} for an image of {H * W:,} ({used / (H * W):.3g}x)"),
    ]
    message = tile_message(th if th == tw else (th, tw), depth=depth)
    body = f"<p class='ul-tile-message'>{html.escape(message)}</p>" + key_value_table(lines, css="ul-tile-plan")
    zoom = max(plan.padded_shape[0] / H, plan.padded_shape[1] / W)
    if zoom > MAX_DRAWN_ZOOM:
        body += (
            f"<p class='ul-tile-note'>Not drawn: the padded canvas is {zoom:.3g} times the image's side, so the "
            f"image would be a dot (the widget draws up to {MAX_DRAWN_ZOOM} times). The numbers above are the plan."
            "</p>"
        )
    return View(
        html=body,
        figure=plot_plan(plan) if zoom <= MAX_DRAWN_ZOOM else None,
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
        "tile": number_box(PAPER_TILE, "tile size", "170px"),
        "height": number_box(ISBI_IMAGE[0], "image height", "190px"),
        "width": number_box(ISBI_IMAGE[1], "image width", "190px"),
        "depth": number_box(4, "depth (max pools)", "190px"),
        "align": W.Checkbox(value=True, description="align steps to the 2^depth grid"),
    }


WIDGETS = {"tile": Widget(plan_view, controls, css="ul-tile", title="Overlap-tile plan")}


# ----------------------------------------------------------------------------------
# the lesson's networks, and what they change from the paper's
# ----------------------------------------------------------------------------------
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


_WHY = {
    "padding": "the notes' modern variant (lesson 07): output size = input size, no margin",
    "depth": "a smaller U for small pictures; its sizes follow the same rules",
    "base_channels": "small enough to run in a second and train in minutes on a laptop CPU (lesson 08); "
    "the sizes, the margin and the tiling do not depend on the channels",
    "batch_norm": "it makes lesson 08's short training stable. In eval mode (here) it is a fixed scale and shift "
    "per channel, so it changes neither the sizes nor the tiling",
}


def departures_html(*models) -> str:
    """A table: each knob in which a lesson network differs from the paper's (``UNet()``), and why."""
    paper = UNetOptions()
    rows = []
    for model in models:
        o = model.options
        name = f"{o.padding}-padding network"
        for knob in ("padding", "depth", "base_channels", "batch_norm"):
            if getattr(o, knob) != getattr(paper, knob):
                was, now = getattr(paper, knob), getattr(o, knob)
                if knob == "batch_norm":
                    was, now = ("after every 3x3 conv" if v else "none" for v in (was, now))
                rows.append((name, knob, was, now, _WHY[knob]))
    if not rows:
        return "<p>Both networks have the paper's layout.</p>"
    return html_table(("network", "knob", "the paper", "here", "why"), rows, css="ul-tile-departures", mono=(1, 2, 3))


# ----------------------------------------------------------------------------------
# the experiments' tables
# ----------------------------------------------------------------------------------
def shift_html(rows, grid: int) -> str:
    """The table of :func:`unet_lesson.seg.tiling.shift_differences`: shift, remainder, largest change."""
    out = [
        (
            r["shift"],
            r["remainder"],
            f"{r['max']:.2g}",
            "moves along exactly" if r["max"] < 1e-5 else "changes",
        )
        for r in rows
    ]
    return html_table(
        ("shift s (px)", f"s mod {grid}", "largest change in foreground probability", "output"),
        out,
        css="ul-tile-shifts",
        mono=(0, 1, 2),
    )


def stitch_html(whole, tiled: dict) -> str:
    """Largest |tiled - whole| of each stitched prediction in ``tiled`` ({label: scores}), in scores and in
    foreground probability."""
    fw = foreground(whole)
    rows = [
        (label, f"{np.abs(t - whole).max():.2g}", f"{np.abs(foreground(t) - fw).max():.3g}")
        for label, t in tiled.items()
    ]
    return html_table(
        ("stitched with", "largest |tiled - whole| in scores", "... in foreground probability"),
        rows,
        css="ul-tile-stitch",
        mono=(1, 2),
    )


def seams_html(naive_rows, tiled_rows) -> str:
    """The two :func:`unet_lesson.seg.seams.seam_profile` results side by side, by distance to a tile border."""
    tiled = {r["band"]: r["max"] for r in tiled_rows}
    rows = [(r["band"], f"{r['max']:.3f}", f"{tiled.get(r['band'], float('nan')):.3f}") for r in naive_rows]
    return html_table(
        ("distance to a tile border", "naive tiles (same net)", "overlap-tile (valid net)"),
        rows,
        css="ul-tile-seams",
        mono=(1, 2),
    )


# ----------------------------------------------------------------------------------
# exercises
# ----------------------------------------------------------------------------------
_OUT = output_size(PAPER_TILE)[0]
_M = margin_of(PAPER_TILE)[0]
_D3 = valid_input_sizes(130, depth=3)[-1]  # a tile of a small network, for the worked case
_D3_OUT = output_size(_D3, depth=3)[0]


def _margin_hint(answer) -> str:
    try:
        a = int(answer)
    except (TypeError, ValueError, OverflowError):
        return "answer with a number of pixels."
    if a == PAPER_TILE - _OUT:
        return f"{a} is the margin on both sides together: {PAPER_TILE} - {_OUT} is split between the two sides."
    if a == _OUT:
        return f"{a} is the output tile; the margin is the input that is NOT in it, on one side."
    return ""


EX_MARGIN = TEXT.exercise(
    "9.1",
    question=f"Fig. 1's example tile: {PAPER_TILE}x{PAPER_TILE} in, {_OUT}x{_OUT} out. How many pixels of "
    "context (the margin) does each output pixel need on each side, so that overlap-tile must mirror "
    "the image by that much?",
    expected=lambda: margin_of(PAPER_TILE)[0],
    hints=[
        "the output block sits in the middle of its input tile; the rest of the tile is context, the same on "
        "every side.",
        "margin = (input - output) / 2, per side.",
        f"a depth-3 U-Net takes {_D3} px to {_D3_OUT} px: ({_D3} - {_D3_OUT})/2 = {(_D3 - _D3_OUT) // 2} px per "
        "side. Now the same for Fig. 1's tile.",
    ],
    hint=_margin_hint,
    explanation=f"margin = ({PAPER_TILE} - {_OUT})/2 = {_M}: every output pixel needs {_M} px of input on each "
    f"side, so the image is mirrored by {_M} px and neighbouring input tiles overlap by at least "
    f"2 x {_M} = {2 * _M} px.",
)

EX_MARGIN_CODE = TEXT.code_exercise(
    "9.2",
    check_margin,
    hints=[
        "add up what every valid 3x3 conv trims from one side, counted in pixels of the INPUT.",
        "a 3x3 conv trims 1 pixel per side of the map it sees; at level l that map is 2**l times smaller than "
        "the input, so it trims 2**l input pixels. Levels 0 .. depth-1 have two convs down and two up; the "
        "bottom (level depth) has two.",
        f"depth 1: down 2 x 1, bottom 2 x 2, up 2 x 1: 2 + 4 + 2 = 8 (the package agrees: "
        f"margin_of({size_rule(depth=1).first}, depth=1) = {margin_of(size_rule(depth=1).first, depth=1)}).",
    ],
)

_EX3_TILE = 600
_EX3_ABOVE = nearest_valid_sizes(_EX3_TILE)[1]
_RULE = size_rule()
_WORKED_NEAR = 500


def _nearest_hint(answer) -> str:
    try:
        a = int(answer)
    except (TypeError, ValueError, OverflowError):
        return "answer with a tile size in pixels."
    if a == nearest_valid_sizes(_EX3_TILE)[0]:
        return f"{a} is the nearest valid size below {_EX3_TILE}; the question asks for the one above."
    if a > _EX3_TILE and (a - _RULE.first) % _RULE.step == 0:
        return f"{a} is valid, but not the nearest one above {_EX3_TILE}."
    return ""


EX_NEAREST = TEXT.exercise(
    "9.3",
    question=f"A {_EX3_TILE}x{_EX3_TILE} tile does not work for the paper's network. What is the nearest valid "
    f"tile size above {_EX3_TILE}?",
    expected=lambda: nearest_valid_sizes(_EX3_TILE)[1],
    hints=[
        "a tile goes through the network on its own, so it must be a valid input: every 2x2 max pool must get "
        "an even size (lessons 02 and 04).",
        f"for the paper's network the valid sizes are {_RULE.first} + {_RULE.step}k (k = 0, 1, 2, ...): one "
        "step of the pooling grid apart.",
        f"for {_WORKED_NEAR}: the valid sizes around it are {' and '.join(map(str, nearest_valid_sizes(_WORKED_NEAR)))}"
        f", so the nearest above {_WORKED_NEAR} is {nearest_valid_sizes(_WORKED_NEAR)[1]}.",
    ],
    hint=_nearest_hint,
    explanation=f"{_EX3_ABOVE}: every 2x2 max pool then gets an even size, and the output is "
    f"{output_size(_EX3_ABOVE)[0]}. tile_message({_EX3_TILE}) says where {_EX3_TILE} breaks.",
)

_LESSON_DEPTH = UNetOptions(**VALID_OPTIONS).depth


def _shift_hint(answer) -> str:
    try:
        a = int(answer)
    except (TypeError, ValueError, OverflowError):
        return "answer with a number of pixels."
    if a < 1:
        return "a shift of 0 moves nothing; the question asks for the smallest shift s > 0."
    aligned = (a & -a).bit_length() - 1  # how many times 2 divides a: the pools it keeps aligned
    if aligned < _LESSON_DEPTH:
        return (
            f"{a} keeps the first {aligned} pool(s) aligned, but pool {aligned + 1} works on a map "
            f"{2**aligned} times smaller, where a shift of {a} px is {a / 2**aligned:g} of its pixels: not a whole "
            "2x2 window."
        )
    return f"{a} works, but is there a smaller shift that keeps all {_LESSON_DEPTH} pools aligned?"


EX_SHIFT = TEXT.exercise(
    "9.4",
    question=f"The lesson's valid network has {_LESSON_DEPTH} max pools. Shift its input tile down by s pixels. What "
    "is the smallest s > 0 for which its output moves down by s pixels as well, value for value (to float "
    "rounding)?",
    expected=lambda: UNetOptions(**VALID_OPTIONS).grid,
    hint=_shift_hint,
    explanation=f"2**{_LESSON_DEPTH} = {2**_LESSON_DEPTH}: only then does every max pool see the same pixels "
    "grouped into the same 2x2 windows. Any other shift regroups them, and the output changes.",
)

_EX5_IMAGE = (1160, 700)
_EX5_PLAN = plan_tiles(_EX5_IMAGE, PAPER_TILE)
_EX5_UNALIGNED = plan_tiles(_EX5_IMAGE, PAPER_TILE, align=False)
_ISBI_PLAN = plan_tiles(ISBI_IMAGE, PAPER_TILE)


def _tiles_hint(answer) -> str:
    try:
        a = int(answer)
    except (TypeError, ValueError, OverflowError):
        return "answer with a number of tiles."
    (H, W), s = _EX5_IMAGE, _EX5_PLAN.stride[0]
    if a == _EX5_UNALIGNED.n_tiles:
        return (
            f"{a} is what a step of {_EX5_UNALIGNED.stride[0]} (the whole output tile) gives; aligned tiles step by "
            f"{s}, and {H // s} x {s} = {H // s * s} rows do not reach {H}."
        )
    if a == (H // s) * (W // s):
        return "the last, partial row and column of tiles are needed too: round the counts up."
    return ""


EX_TILES = TEXT.exercise(
    "9.6",
    question=f"An image of {_EX5_IMAGE[0]}x{_EX5_IMAGE[1]} pixels (height x width), input tiles of {PAPER_TILE}x"
    f"{PAPER_TILE} for the paper's network, aligned steps. How many tiles does overlap-tile need?",
    expected=lambda: plan_tiles(_EX5_IMAGE, PAPER_TILE).n_tiles,
    hints=[
        "each tile contributes one block of step x step output pixels; the last row and column of blocks may reach "
        "past the image.",
        f"tiles = ceil(H / step) x ceil(W / step), where step is the output tile rounded down to a multiple of "
        f"2**4: {_OUT} -> {_EX5_PLAN.stride[0]}.",
        f"for an ISBI slice of {ISBI_IMAGE[0]}x{ISBI_IMAGE[1]}: ceil({ISBI_IMAGE[0]}/{_ISBI_PLAN.stride[0]}) = "
        f"{_ISBI_PLAN.grid[0]} rows and {_ISBI_PLAN.grid[1]} columns, {_ISBI_PLAN.n_tiles} tiles.",
    ],
    hint=_tiles_hint,
    explanation=f"ceil({_EX5_IMAGE[0]}/{_EX5_PLAN.stride[0]}) = {_EX5_PLAN.grid[0]} rows and "
    f"ceil({_EX5_IMAGE[1]}/{_EX5_PLAN.stride[1]}) = {_EX5_PLAN.grid[1]} columns: "
    f"{_EX5_PLAN.n_tiles} tiles. The last row and column reach past the image; that part is mirrored "
    "input and its output is thrown away.",
)

_WHY_CHOICES = {
    "a": "mirroring makes every tile symmetric, so the borders match",
    "b": "each output pixel of a valid tile saw its full context (the margin) from the image or its mirror, "
    "exactly as in a whole-image pass; the same-padding net zero-pads every tile border, as if the "
    "image ended there",
    "c": "the valid network has fewer parameters, so it is smoother",
}


def _why_hint(answer) -> str:
    a = str(answer).strip().casefold()
    if a == "a":
        return "mirroring only fills the image's own border; the seams of naive tiles are inside the image."
    if a == "c":
        return "the same network run on the whole image has no seams, so its parameters are not the reason."
    return ""


EX_WHY = TEXT.exercise("9.5", choices=_WHY_CHOICES, expected="b", hint=_why_hint)

EXERCISES = [EX_MARGIN, EX_MARGIN_CODE, EX_NEAREST, EX_SHIFT, EX_WHY, EX_TILES]
