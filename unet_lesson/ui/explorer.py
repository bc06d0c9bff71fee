r"""The U-Net explorer: change the network, watch its shapes, formulas, diagram and feature maps.

Used by lessons 06 and 07 and, on its own, by ``notebooks/explorer.ipynb`` (a Voila page).
The controls are the U-Net's knobs: input size, padding (``"valid"``/``"same"``), depth
(1-8), base channels, number of classes and upsampling mode (``"upconv"``/``"bilinear"``).

The widget is made of plain view functions, each tested without a browser and timed on
its own by the benchmark::

    shapes_view(**controls)        # shape table, size rule, formulas, parameter count  (arithmetic only)
    diagram_view(**controls)       # the U of Fig. 1 drawn from the same table          (matplotlib)
    feature_maps_view(**controls)  # what every level makes of a sample image           (a small real net)
    build(**defaults) / show(**defaults)   # the widget: unet_lesson.ui.widgets.live over PANES

Nothing here runs the full-size network: the shapes come from :func:`unet_lesson.shape_table`
(integer arithmetic, tested against real forward passes) and answer any setting, as the diagram
does; the feature maps come from a *small* network with the same layout (few channels), trained
weights when a checkpoint ships, random weights otherwise (said on screen), and have stated limits
(:func:`feature_maps_limits`: size, classes, depth), beyond which the pane says what it did not run
and why. Every pane answers within about a second. A setting that cannot work raises a
``ValueError`` (an input size: :class:`~unet_lesson.InvalidInputSize`, saying where and why, with
the nearest sizes that work and the size rule); the widget shows it in ``.ul-error`` with ``layer``,
``below`` and ``above`` in its data. Never a traceback, and the controls keep what the student typed.
"""

from __future__ import annotations

import html
from functools import lru_cache

from ..core.env import cpu_threads
from ..core.options import UNetOptions
from ..core.search import size_rule
from ..core.shapes import InvalidInputSize, fmt_shape, nearest_valid_sizes, shape_table
from .tables import key_value_table, shape_table_html
from .widgets import View, choice_buttons, number_box

__all__ = [
    "CONTROLS",
    "DEFAULTS",
    "PANES",
    "shapes_view",
    "diagram_view",
    "feature_maps_view",
    "feature_network",
    "controls",
    "widget",
    "build",
    "show",
    "feature_maps_limits",
    "FEATURE_BASE",
    "MAX_FEATURE_SIZE",
    "MAX_FEATURE_CLASSES",
    "MAX_DEPTH",
]

#: the explorer's controls and their defaults (the paper's network)
DEFAULTS = dict(input_size=572, padding="valid", depth=4, base_channels=64, num_classes=2, up_mode="upconv")
CONTROLS = tuple(DEFAULTS)

#: channels after the first double conv of the small network that draws the feature maps
FEATURE_BASE = 4
#: largest input the feature maps are drawn for (the shapes and the diagram work for any size): the sample
#: image and the maps grow with the area, and the paper's 572 must fit
MAX_FEATURE_SIZE = 600
#: most classes the feature maps are drawn for (the head makes one map per class)
MAX_FEATURE_CLASSES = 16
#: deepest U whose feature maps are drawn (the shapes and the diagram go to depth 8, the options' limit)
MAX_DEPTH = 5


def _options(padding, depth, base_channels, num_classes, up_mode) -> UNetOptions:
    return UNetOptions(
        padding=padding, depth=depth, base_channels=base_channels, num_classes=num_classes, up_mode=up_mode
    )


def _table(input_size, o: UNetOptions):
    """The shape table, or InvalidInputSize with the setting's size rule added to its message."""
    try:
        return shape_table(input_size, o)
    except InvalidInputSize as e:
        raise e.with_note(f"This setting takes {size_rule(o).text}.") from None


# ----------------------------------------------------------------------------------
# pane 1: shapes and formulas (arithmetic only: instant)
# ----------------------------------------------------------------------------------
def shapes_view(input_size=572, padding="valid", depth=4, base_channels=64, num_classes=2, up_mode="upconv") -> View:
    """Shape table (H×W×C, as the notes write it), size rule, formulas and parameter count."""
    o = _options(padding, depth, base_channels, num_classes, up_mode)  # a bad option raises with its message
    table = _table(input_size, o)
    rule = size_rule(o)
    c, h, w = table.input_shape
    oc, oh, ow = table.output_shape
    first, bottom = table.where(kind="conv")[0], table.where(path="bottom")[-1]
    out_formula = (
        f"{oh} = {h}" if rule.offset == 0 else f"{oh} = {h} {'-' if rule.offset < 0 else '+'} {abs(rule.offset)}"
    )
    bn_note = (
        "Conv-BN-ReLU: each 3x3 conv has no bias, batch norm adds γ and β per channel"
        if o.batch_norm
        else "Conv-ReLU, no batch normalization (as in the paper)"
    )
    lines = [
        ("output size", f"{out_formula}  ({rule.text})"),
        ("sizes along the U", table.size_walk()),
        ("first 3x3 conv", table.param_formula(first)),
        ("last conv at the bottom", table.param_formula(bottom)),
        ("1x1 conv head", table.param_formula(table.rows[-1])),
        ("all parameters", f"sum of the params column = {table.total_params:,}  ({bn_note})"),
    ]
    head = (
        f"<div style='font-size:15px;margin:4px 0'><b>{h}×{w}×{c} → {oh}×{ow}×{oc}</b> &nbsp; "
        f"<span class='ul-explorer-params'>{table.total_params:,} parameters</span>, "
        f"<span class='ul-explorer-nconv'>{table.n_conv_layers} conv layers</span> "
        f"<span style='color:#666;font-size:12px'>({html.escape(o.describe())})</span></div>"
    )
    body = (
        head
        + key_value_table(lines, css="ul-explorer-formulas")
        + f"<div style='max-height:330px;overflow:auto;margin-top:6px'>{shape_table_html(table, 'notes')}</div>"
    )
    data = dict(
        input_size=h if h == w else f"{h}x{w}",
        output_size=oh if oh == ow else f"{oh}x{ow}",
        output_shape=fmt_shape(table.output_shape, "notes"),
        params=table.total_params,
        n_conv_layers=table.n_conv_layers,
        error="",
        valid_first=rule.first,
        valid_step=rule.step,
        offset=rule.offset if rule.offset is not None else "",
    )
    return View(html=body, data=data)


# ----------------------------------------------------------------------------------
# pane 2: the U diagram
# ----------------------------------------------------------------------------------
def diagram_view(input_size=572, padding="valid", depth=4, base_channels=64, num_classes=2, up_mode="upconv") -> View:
    """The U-shaped diagram (the paper's Fig. 1) of this setting, drawn from its shape table."""
    from .diagram import draw_unet

    table = _table(input_size, _options(padding, depth, base_channels, num_classes, up_mode))
    fig = draw_unet(table)
    return View(figure=fig, data=dict(boxes=len(fig.ul_labels), output_size=table.output_shape[1]), tight=False)


# ----------------------------------------------------------------------------------
# pane 3: feature maps of a small network on a sample image
# ----------------------------------------------------------------------------------
@lru_cache(maxsize=16)
def _feature_network(padding: str, depth: int, base: int, num_classes: int, up_mode: str):
    from ..core.env import get_device
    from ..seg.pretrained import trained_or_random

    return trained_or_random(
        padding,
        must_match=dict(depth=depth, num_classes=num_classes, up_mode=up_mode),
        device=get_device(),
        depth=depth,
        base_channels=base,
        num_classes=num_classes,
        up_mode=up_mode,
    )


def feature_network(padding="same", depth=4, base_channels=64, num_classes=2, up_mode="upconv"):
    """The small network that draws the feature maps, and a note saying which weights it has.

    The trained checkpoint of this padding when it ships and has this layout (padding, depth, classes,
    upsampling); otherwise the same layout with ``min(base_channels, FEATURE_BASE)`` channels and random
    weights (seed 0), from :func:`unet_lesson.seg.pretrained.trained_or_random`.
    Returns ``(model, weights, note)`` with ``weights`` ``"trained"`` or ``"random"``.
    """
    o = _options(padding, depth, base_channels, num_classes, up_mode)
    if o.depth > MAX_DEPTH:
        raise ValueError(
            f"The explorer draws feature maps for depths up to {MAX_DEPTH}; depth {o.depth} is fine "
            "for the shapes and the diagram."
        )
    return _feature_network(o.padding, o.depth, min(o.base_channels, FEATURE_BASE), o.num_classes, o.up_mode)


def _panels(depth: int) -> list[tuple[str, str]]:
    """(module, label) for every level of the U, contracting path first."""
    panels = [(f"down_convs.{i}", f"contracting {i + 1}") for i in range(depth)]
    panels.append(("bottom", f"bottom ({depth + 1})"))
    panels += [(f"up_convs.{i}", f"expanding {depth - i}") for i in range(depth)]
    panels.append(("head", "output"))
    return panels


def feature_maps_limits(input_size, o: UNetOptions) -> list[str]:
    """Why the feature maps of this (valid) setting are not drawn, in words: [] when they are.

    The shapes and the diagram answer every setting; the maps run a real network on a real image on every
    change, so they stop at :data:`MAX_FEATURE_SIZE` pixels (the sample image alone grows with the area),
    :data:`MAX_FEATURE_CLASSES` classes (the head's output is one map per class: 5000 classes at 256x256
    would be 1.3 GB) and depth :data:`MAX_DEPTH`, and draw square inputs only.
    """
    h, w = input_size
    reasons = []
    if max(h, w) > MAX_FEATURE_SIZE:
        largest = nearest_valid_sizes(MAX_FEATURE_SIZE + 1, o)[0]
        reasons.append(
            f"the input is {max(h, w):,} pixels, more than the {MAX_FEATURE_SIZE} they are drawn for (to stay "
            f"quick: the sample image and every map grow with the area)"
            + (f"; the largest size that works here is {largest}" if largest else "")
        )
    if h != w:
        reasons.append(f"they are drawn for square inputs, and {h}x{w} is not one")
    if o.depth > MAX_DEPTH:
        reasons.append(f"they are drawn for depths up to {MAX_DEPTH}, and this U has depth {o.depth}")
    if o.num_classes > MAX_FEATURE_CLASSES:
        reasons.append(
            f"they are drawn for up to {MAX_FEATURE_CLASSES} classes, and the head would make {o.num_classes:,} "
            f"maps of {h}x{w} ({4 * o.num_classes * h * w / 2**20:,.0f} MB, on every change)"
        )
    return reasons


def feature_maps_view(
    input_size=256,
    padding="same",
    depth=4,
    base_channels=64,
    num_classes=2,
    up_mode="upconv",
    feature_maps: bool = True,
) -> View:
    """What every level of the U makes of a sample image, at this input size (nothing when
    ``feature_maps`` is off: the checkbox of the widget).

    One panel per level: the output of the level's double conv (its most active channel),
    the contracting path on top, the expanding path below it, the output (class 1's
    probability) at the far left of the lower row, under the input.

    A setting that cannot work raises (the shapes pane says why); one that works but lies beyond the
    maps' limits (:func:`feature_maps_limits`) gives a note saying what was not run and why, with
    ``data["drawn"] == "no"``: the shapes and the diagram above still answer it.
    """
    import torch

    from ..core.inspect import feature_maps as run_and_record
    from ..seg.data import sample_image

    if not feature_maps:
        return View()
    o = _options(padding, depth, base_channels, num_classes, up_mode)
    table = _table(input_size, o)  # the size check, with its message, before anything runs
    h, w = table.input_size
    reasons = feature_maps_limits((h, w), o)
    if reasons:
        note = (
            "<div class='ul-explorer-weights ul-note' style='font-size:12px;color:#555'>Feature maps not drawn: "
            + html.escape("; ".join(reasons))
            + ". The shapes, formulas and the U above hold for this setting; nothing was run for the maps.</div>"
        )
        return View(html=note, data=dict(drawn="no", weights="", input_size=h if h == w else f"{h}x{w}"))
    model, weights, note = feature_network(padding, depth, base_channels, num_classes, up_mode)
    img = sample_image(size=h, seed=0)
    panels = _panels(o.depth)
    with cpu_threads(1), torch.no_grad():  # a small net on a busy 2-core machine: one thread is several times faster
        maps = run_and_record(model, img, [m for m, _ in panels])
    positions = [(0, i + 1) for i in range(o.depth + 1)] + [(1, o.depth - i) for i in range(o.depth)] + [(1, 0)]
    tiles = {(0, 0): (img, "input", f"{h}×{w}×1", "gray")}
    shapes = {}
    for (module, label), pos in zip(panels, positions):
        t = maps[module][0]
        c, mh, mw = t.shape
        shapes[module] = (c, mh, mw)
        if module == "head":
            arr = torch.softmax(t, 0)[1] if c > 1 else torch.sigmoid(t[0])
            tiles[pos] = (arr.numpy(), label, f"{mh}×{mw}×{c}: {'P(class 1)' if c > 1 else 'sigmoid'}", "viridis")
        else:
            k = int(t.flatten(1).std(1).argmax())
            tiles[pos] = (t[k].numpy(), label, f"{mh}×{mw}×{c} (ch {k})", "viridis")
    fig = _mosaic_figure(
        tiles,
        rows=2,
        cols=o.depth + 2,
        title=f"{weights} weights: top row the contracting path →, bottom row ← the expanding path",
    )
    text = (
        f"<div class='ul-explorer-weights' style='font-size:12px;color:#555'>Feature maps of a small "
        f"network with this layout on sample_image(size={h}, seed=0): <b>{html.escape(weights)} weights</b> "
        f"({html.escape(note)}). Sizes are the table's; channel counts are the small network's. "
        f"Each panel shows one level's most active channel, drawn at the same size.</div>"
    )
    return View(
        html=text,
        figure=fig,
        data=dict(drawn="yes", weights=weights, panels=len(panels), feature_shapes=shapes, input_size=h),
        tight=False,
    )


def _mosaic_figure(tiles: dict, rows: int, cols: int, title: str, tile: int = 112):
    """All panels in one image (one axes, one imshow: quick to draw), titled above each tile."""
    from matplotlib.figure import Figure

    from .plotting import mosaic

    band, top = 26, 18
    canvas, corners = mosaic(
        {pos: (arr, cmap) for pos, (arr, _, _, cmap) in tiles.items()},
        rows,
        cols,
        tile=tile,
        gap=10,
        band=band,
        top=top,
        robust=True,
    )
    H, W = canvas.shape[:2]
    fig = Figure(figsize=(W / 80, H / 80), dpi=80)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(canvas, interpolation="nearest", extent=(0, W, H, 0))
    ax.set_xlim(0, W)
    ax.set_ylim(H, 0)
    ax.axis("off")
    for pos, (_, name, shape, _) in tiles.items():
        y0, x0 = corners[pos]
        ax.text(x0 + tile / 2, y0 - 2, f"{name}\n{shape}", ha="center", va="bottom", fontsize=7)
    ax.text(W / 2, 2, title, ha="center", va="top", fontsize=8)
    return fig


# ----------------------------------------------------------------------------------
# the widget
# ----------------------------------------------------------------------------------
#: the explorer's panes, updated in this order on every change: the arithmetic first, then the pictures
PANES = {"shapes": shapes_view, "diagram": diagram_view, "maps": feature_maps_view}


def controls(feature_maps: bool = False, **defaults) -> dict:
    """The explorer's controls (IntText for numbers a student may get wrong: they reach the view unclamped)."""
    import ipywidgets as W

    unknown = set(defaults) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown explorer control(s) {sorted(unknown)}; known: {list(DEFAULTS)}")
    d = {**DEFAULTS, **defaults}
    return dict(
        input_size=number_box(d["input_size"], "input size", "150px", full_label=True),
        padding=choice_buttons(["valid", "same"], d["padding"], "padding", "60px"),
        depth=number_box(d["depth"], "depth (pools)", "150px", full_label=True),
        base_channels=number_box(d["base_channels"], "base channels", "160px", full_label=True),
        num_classes=number_box(d["num_classes"], "classes", "120px", full_label=True),
        up_mode=choice_buttons(["upconv", "bilinear"], d["up_mode"], "upsampling", "70px"),
        feature_maps=W.Checkbox(value=feature_maps, description="show feature maps", indent=False),
    )


def widget(feature_maps: bool = False, **defaults):
    """The explorer as a lesson declares it (``WIDGETS = {"explorer": explorer.widget(input_size=572)}``),
    starting at ``defaults`` (and with the feature maps shown when ``feature_maps``)."""
    from functools import partial

    from .widgets import Widget

    unknown = set(defaults) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown explorer control(s) {sorted(unknown)}; known: {list(DEFAULTS)}")
    return Widget(
        PANES,
        partial(controls, feature_maps, **defaults),
        css="ul-explorer",
        title="The explorer: every knob of the U-Net",
    )


def build(feature_maps: bool = False, **defaults):
    """The live explorer: controls, then the shapes and formulas, the U diagram and (toggle) feature maps.

    Every change updates the shapes first (arithmetic), then the diagram, then the feature
    maps if shown; a setting that cannot work shows its message in ``.ul-error``.
    """
    box = widget(feature_maps, **defaults).build()
    box.feature_toggle = box.controls["feature_maps"]  # for tests and notebooks
    return box


def show(feature_maps: bool = False, static: bool = True, **defaults) -> None:
    """Display a static view of the default setting, then the live explorer (returns nothing, so a
    notebook cell shows the explorer once; use :func:`build` for the widget object)."""
    widget(feature_maps, **defaults).show(static=static)
