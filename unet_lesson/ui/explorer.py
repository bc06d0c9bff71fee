r"""The U-Net explorer: change the network, watch its shapes, formulas, diagram and feature maps.

Used by lessons 06 and 07 and, on its own, by ``notebooks/explorer.ipynb`` (a Voila page).
The controls are the U-Net's knobs: input size, padding (``"valid"``/``"same"``), depth
(1-5), base channels, number of classes and upsampling mode (``"upconv"``/``"bilinear"``).

The widget is made of plain view functions, each tested without a browser and timed on
its own by the benchmark::

    shapes_view(**controls)        # shape table, size rule, formulas, parameter count  (arithmetic only)
    diagram_view(**controls)       # the U of Fig. 1 drawn from the same table          (matplotlib)
    feature_maps_view(**controls)  # what every level makes of a sample image           (a small real net)
    build(**defaults) / show(**defaults)   # the widget (show also prints a static view first)

Nothing here runs the full-size network: the shapes come from :func:`unet_lesson.shape_table`
(integer arithmetic, tested against real forward passes), and the feature maps come from a
*small* network with the same layout (few channels), trained weights when a checkpoint
ships, random weights otherwise (said on screen). An input size that cannot work gives a
view whose ``error`` says where and why, with the nearest sizes that work (``data`` holds
``error``, ``layer``, ``below``, ``above``); an impossible option (depth 0, 0 channels)
raises :class:`ValueError`, which the widget shows the same way. Never a traceback, and the
controls keep what the student typed.
"""
from __future__ import annotations

import html
import math
from functools import lru_cache

from ..core.shapes import (InvalidInputSize, LayerRow, ShapeTable, describe_options, fmt_shape, normalize_options,
                     shape_table, valid_input_sizes)
from .widgets import View, error_view, figure_png, one_at_a_time, safe_view

__all__ = ["CONTROLS", "DEFAULTS", "shapes_view", "diagram_view", "feature_maps_view", "explorer_view",
           "size_rule", "param_formula", "size_walk", "feature_network", "build", "show", "SizeRule", "render_png",
           "FEATURE_BASE", "MAX_FEATURE_SIZE"]

#: the explorer's controls and their defaults (the paper's network)
DEFAULTS = dict(input_size=572, padding="valid", depth=4, base_channels=64, num_classes=2, up_mode="upconv")
CONTROLS = tuple(DEFAULTS)

#: channels after the first double conv of the small network that draws the feature maps
FEATURE_BASE = 4
#: largest input the feature maps are drawn for (the shapes work for any size)
MAX_FEATURE_SIZE = 1024


def _options(padding, depth, base_channels, num_classes, up_mode) -> dict:
    return normalize_options(padding=padding, depth=depth, base_channels=base_channels,
                             num_classes=num_classes, up_mode=up_mode)


# ----------------------------------------------------------------------------------
# the numbers: size rule, parameter formulas, size walk
# ----------------------------------------------------------------------------------
class SizeRule:
    """The input sizes a setting takes, as a rule: ``first + step*k``, output = input + ``offset``.

    Derived from :func:`unet_lesson.valid_input_sizes` and :func:`unet_lesson.output_size`
    (and checked to be an arithmetic progression), never typed.
    """

    def __init__(self, first: int, step: int, offset: int, examples: tuple[int, ...]):
        self.first, self.step, self.offset, self.examples = first, step, offset, examples

    def __repr__(self) -> str:
        return f"SizeRule(first={self.first}, step={self.step}, offset={self.offset})"

    @property
    def text(self) -> str:
        out = ("output = input" if self.offset == 0 else
               f"output = input {'-' if self.offset < 0 else '+'} {abs(self.offset)}")
        if self.first == self.step:
            sizes = f"multiples of {self.step}"
        else:
            sizes = f"{self.first} + {self.step}k"
        return f"valid input sizes: {sizes} (k = 0, 1, 2, ...: {', '.join(map(str, self.examples))}, ...); {out}"

    def next_valid(self, n: int) -> int:
        """The smallest valid size >= n."""
        if n <= self.first:
            return self.first
        return self.first + math.ceil((n - self.first) / self.step) * self.step


@lru_cache(maxsize=64)
def _size_rule(padding: str, depth: int, up_mode: str) -> SizeRule:
    opts = dict(padding=padding, depth=depth, up_mode=up_mode)
    step = 2 ** depth
    # the smallest valid size is below 2**depth * (a few pixels per level), so this window holds it
    sizes = valid_input_sizes(max_size=24 * step + 200, **opts)
    first = sizes[0]
    sizes = [s for s in sizes if s < first + 5 * step]
    if sizes != [first + k * step for k in range(len(sizes))]:  # pragma: no cover - a broken core would show here
        raise AssertionError(f"valid sizes are not first + {step}k: {sizes}")
    from ..core.shapes import output_size
    offsets = {output_size(s, **opts)[0] - s for s in sizes}
    if len(offsets) != 1:  # pragma: no cover
        raise AssertionError(f"output - input is not constant: {offsets}")
    return SizeRule(first, step, offsets.pop(), tuple(sizes[:4]))


def size_rule(padding: str = "valid", depth: int = 4, up_mode: str = "upconv", **_ignored) -> SizeRule:
    """The valid input sizes and output size of a U-Net setting, e.g. 188 + 16k, output = input - 184."""
    o = normalize_options(padding=padding, depth=depth, up_mode=up_mode)
    return _size_rule(o["padding"], o["depth"], o["up_mode"])


def param_formula(row: LayerRow, options: dict) -> str:
    """The parameter count of one table row as a formula with its numbers, e.g. ``3·3·1·64 + 64 = 640``.

    Weights k·k·C_in·C_out, plus a bias per output channel, or (with batch norm) no bias but
    BN's scale and shift (gamma, beta) per channel. The result is the table's own count.
    """
    o = normalize_options(**options)
    c_in, c_out = row.in_shape[0], row.out_shape[0]
    if row.kind == "conv":
        if o["batch_norm"]:
            text = f"3·3·{c_in}·{c_out} + 2·{c_out}"
        else:
            text = f"3·3·{c_in}·{c_out} + {c_out}"
    elif row.kind == "up":
        k = 2 if o["up_mode"] == "upconv" else 1
        text = f"{k}·{k}·{c_in}·{c_out} + {c_out}"
    elif row.kind == "head":
        text = f"1·1·{c_in}·{c_out} + {c_out}"
    else:
        return f"0 (a {row.operation} learns nothing)"
    return f"{text} = {row.params:,}"


def size_walk(table: ShapeTable) -> str:
    """The sizes along the U in one line: ``572 → 570 → 568 ↓ 284 → ... ↑ 56 ...`` (from the table)."""
    parts = [str(table.input_size[0]) if table.input_size[0] == table.input_size[1]
             else "{}×{}".format(*table.input_size)]
    for r in table:
        size = str(r.out_shape[1]) if r.out_shape[1] == r.out_shape[2] else f"{r.out_shape[1]}×{r.out_shape[2]}"
        if r.kind == "conv" or r.kind == "head":
            parts.append(f"→ {size}")
        elif r.kind == "pool":
            parts.append(f"↓ {size}")
        elif r.kind == "up":
            parts.append(f"↑ {size}")
        elif r.kind == "crop" and r.in_shape != r.out_shape:
            parts.append(f"(crop {r.in_shape[1]} → {size})")
    return " ".join(parts)


# ----------------------------------------------------------------------------------
# view 1: shapes and formulas (arithmetic only: instant)
# ----------------------------------------------------------------------------------
def _error(e: Exception, **controls) -> View:
    data = dict(error=str(e))
    extra = ""
    if isinstance(e, InvalidInputSize):
        data.update(layer=e.layer or "", below=e.below if e.below is not None else "",
                    above=e.above if e.above is not None else "")
        try:
            rule = size_rule(**controls)
            extra = f"<p style='font-size:12px'>This setting takes {html.escape(rule.text)}.</p>"
        except (ValueError, AssertionError):
            pass
    return error_view(str(e), html_extra=extra, **data)


def shapes_view(input_size=572, padding="valid", depth=4, base_channels=64, num_classes=2,
                up_mode="upconv") -> View:
    """Shape table (H×W×C, as the notes write it), size rule, formulas and parameter count."""
    controls = dict(padding=padding, depth=depth, base_channels=base_channels, num_classes=num_classes,
                    up_mode=up_mode)
    o = _options(**controls)  # a bad option raises ValueError with its own message
    try:
        table = shape_table(input_size, **o)
    except InvalidInputSize as e:
        return _error(e, **controls)
    rule = size_rule(**o)
    c, h, w = table.input_shape
    oc, oh, ow = table.output_shape
    conv_rows = table.where(kind="conv")
    first, bottom = conv_rows[0], table.where(path="bottom")[-1]
    out_formula = (f"{oh} = {h}" if rule.offset == 0 else
                   f"{oh} = {h} {'-' if rule.offset < 0 else '+'} {abs(rule.offset)}")
    bn_note = ("Conv-BN-ReLU: each 3x3 conv has no bias, batch norm adds γ and β per channel"
               if o["batch_norm"] else "Conv-ReLU, no batch normalization (as in the paper)")
    lines = [
        ("output size", f"{out_formula}  ({rule.text})"),
        ("sizes along the U", size_walk(table)),
        ("first 3x3 conv", param_formula(first, o)),
        ("last conv at the bottom", param_formula(bottom, o)),
        ("1x1 conv head", param_formula(table.rows[-1], o)),
        ("all parameters", f"sum of the params column = {table.total_params:,}  ({bn_note})"),
    ]
    items = "".join(f"<tr><td style='padding:1px 8px;color:#555'>{html.escape(k)}</td>"
                    f"<td style='padding:1px 8px;font-family:monospace'>{html.escape(v)}</td></tr>" for k, v in lines)
    head = (f"<div style='font-size:15px;margin:4px 0'><b>{h}×{w}×{c} → {oh}×{ow}×{oc}</b> &nbsp; "
            f"<span class='ul-explorer-params'>{table.total_params:,} parameters</span>, "
            f"<span class='ul-explorer-nconv'>{table.n_conv_layers} conv layers</span> "
            f"<span style='color:#666;font-size:12px'>({html.escape(describe_options(**o))})</span></div>")
    body = (head + f"<table class='ul-explorer-formulas' style='font-size:12px'>{items}</table>"
            f"<div style='max-height:330px;overflow:auto;margin-top:6px'>{table.to_html(style='notes')}</div>")
    data = dict(input_size=h if h == w else f"{h}x{w}", output_size=oh if oh == ow else f"{oh}x{ow}",
                output_shape=fmt_shape(table.output_shape, "notes"), params=table.total_params,
                n_conv_layers=table.n_conv_layers, error="", valid_first=rule.first, valid_step=rule.step,
                offset=rule.offset)
    return View(html=body, data=data)


# ----------------------------------------------------------------------------------
# view 2: the U diagram
# ----------------------------------------------------------------------------------
def diagram_view(input_size=572, padding="valid", depth=4, base_channels=64, num_classes=2,
                 up_mode="upconv") -> View:
    """The U-shaped diagram (the paper's Fig. 1) of this setting, drawn from its shape table."""
    from .diagram import draw_unet

    o = _options(padding, depth, base_channels, num_classes, up_mode)
    try:
        table = shape_table(input_size, **o)
    except InvalidInputSize as e:  # shown in the widget: where and why, and the nearest sizes
        return _error(e, padding=padding, depth=depth, up_mode=up_mode)
    fig = draw_unet(table)
    return View(figure=fig, data=dict(boxes=len(fig.ul_labels), output_size=table.output_shape[1]))


def explorer_view(**controls) -> View:
    """Shapes and diagram together (the static view shown above the live widget)."""
    shapes = shapes_view(**controls)
    if not shapes.ok:
        return shapes
    diagram = diagram_view(**controls)
    return View(html=shapes.html, figure=diagram.figure, data=shapes.data)


# ----------------------------------------------------------------------------------
# view 3: feature maps of a small network on a sample image
# ----------------------------------------------------------------------------------
@lru_cache(maxsize=2)
def _pretrained(padding: str):
    """(model, note): the shipped trained checkpoint of this padding, else (None, why not)."""
    from ..seg.pretrained import load_pretrained

    try:
        model = load_pretrained(padding)
    except Exception as e:  # noqa: BLE001 - a missing or broken checkpoint must not break the page
        return None, f"the trained checkpoint could not be loaded ({type(e).__name__}: {e})"
    if model is None:
        return None, f"no trained {padding}-padding checkpoint has been made yet"
    return model.eval(), ""


@lru_cache(maxsize=16)
def _random_network(padding: str, depth: int, base: int, num_classes: int, up_mode: str):
    import torch

    from ..core.env import get_device
    from ..core.model import UNet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = UNet(base_channels=base, depth=depth, padding=padding, num_classes=num_classes, up_mode=up_mode)
    return net.eval().to(get_device())


def feature_network(padding="same", depth=4, base_channels=64, num_classes=2, up_mode="upconv"):
    """The small network that draws the feature maps, and a note saying which weights it has.

    The trained checkpoint of this padding (``unet_lesson.seg.pretrained.load_pretrained(padding)``) when
    it exists and has this layout (padding, depth, classes, upsampling); otherwise the same layout with
    ``min(base_channels, FEATURE_BASE)`` channels and random weights (seed 0).
    Returns ``(model, weights, note)`` with ``weights`` ``"trained"`` or ``"random"``.
    """
    o = _options(padding, depth, base_channels, num_classes, up_mode)
    model, why = _pretrained(o["padding"])  # the course ships one valid and one same network
    if model is not None:
        m = model.options
        if all(m[k] == o[k] for k in ("padding", "depth", "num_classes", "up_mode")):
            return model, "trained", (f"trained weights (the course's small checkpoint: base {m['base_channels']} "
                                      "channels)")
        why = (f"the trained checkpoint is a {m['padding']}-padding, depth-{m['depth']}, {m['num_classes']}-class, "
               f"{m['up_mode']} network; choose that to see trained features")
    base = min(o["base_channels"], FEATURE_BASE)
    net = _random_network(o["padding"], o["depth"], base, o["num_classes"], o["up_mode"])
    return net, "random", f"random weights (seed 0), base {base} channels: {why}"


@lru_cache(maxsize=8)
def _image(size: int):
    """The course's sample cell image at ``size`` (cached: a control change redraws often), and its name."""
    from ..seg.data import sample_image

    return sample_image(size=size, seed=0), f"sample_image(size={size}, seed=0)"


def _panels(o: dict) -> list[tuple[str, str]]:
    """(module, label) for every level of the U, contracting path first."""
    d = o["depth"]
    panels = [(f"down_convs.{i}", f"contracting {i + 1}") for i in range(d)]
    panels.append(("bottom", f"bottom ({d + 1})"))
    panels += [(f"up_convs.{i}", f"expanding {d - i}") for i in range(d)]
    panels.append(("head", "output"))
    return panels


def feature_maps_view(input_size=256, padding="same", depth=4, base_channels=64, num_classes=2,
                      up_mode="upconv") -> View:
    """What every level of the U makes of a sample image, at this input size.

    One panel per level: the output of the level's double conv (its most active channel),
    the contracting path on top, the expanding path below it, the output (class 1's
    probability) at the far left of the lower row, under the input.
    """
    import torch

    from ..core.inspect import feature_maps

    o = _options(padding, depth, base_channels, num_classes, up_mode)
    try:
        table = shape_table(input_size, **o)  # the size check, with its message, before anything runs
    except InvalidInputSize as e:
        return _error(e, padding=padding, depth=depth, up_mode=up_mode)
    h, w = table.input_size
    if max(h, w) > MAX_FEATURE_SIZE:
        rule = size_rule(**o)
        largest = rule.first + (MAX_FEATURE_SIZE - rule.first) // rule.step * rule.step
        raise ValueError(f"Feature maps are drawn for inputs up to {MAX_FEATURE_SIZE} pixels, to stay quick; "
                         f"{max(h, w)} is fine for the shapes above. The largest size that works here is {largest}.")
    model, weights, note = feature_network(**{k: o[k] for k in ("padding", "depth", "base_channels",
                                                                 "num_classes", "up_mode")})
    img, img_note = _image(h)
    panels = _panels(o)
    with _one_thread():  # a small net on a busy 2-core machine: one thread is several times faster
        maps = feature_maps(model, img, [m for m, _ in panels])
    d = o["depth"]
    tiles = {(0, 0): (img, "input", f"{h}×{w}×1", "gray")}
    shapes = {}
    positions = [(0, i + 1) for i in range(d + 1)] + [(1, d - i) for i in range(d)] + [(1, 0)]
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
    fig = _mosaic(tiles, rows=2, cols=d + 2,
                  title=f"{weights} weights: top row the contracting path →, bottom row ← the expanding path")
    text = (f"<div class='ul-explorer-weights' style='font-size:12px;color:#555'>Feature maps of a small "
            f"network with this layout on {html.escape(img_note)}: <b>{html.escape(weights)} weights</b> "
            f"({html.escape(note)}). Sizes are the table's; channel counts are the small network's. "
            f"Each panel shows one level's most active channel, drawn at the same size.</div>")
    return View(html=text, figure=fig, data=dict(weights=weights, panels=len(panels), feature_shapes=shapes,
                                                  input_size=h))


class _one_thread:
    def __enter__(self):
        import torch

        self.old = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.old)


def _resize(a, tile: int):
    """Resize a 2-D map to tile x tile: area average when shrinking (no aliasing), nearest when enlarging."""
    import numpy as np

    for axis in (0, 1):
        n = a.shape[axis]
        edges = (np.arange(tile) * n / tile).astype(int)
        if n > tile:
            counts = np.diff(np.append(edges, n))
            shape = [1, 1]
            shape[axis] = tile
            a = np.add.reduceat(a, edges, axis=axis) / counts.reshape(shape)
        else:
            a = np.take(a, edges, axis=axis)
    return a


def _mosaic(tiles: dict, rows: int, cols: int, title: str, tile: int = 112):
    """All panels in one image (one axes, one imshow: quick to draw), titled above each tile."""
    import numpy as np
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    gap, band, top = 10, 26, 18
    H = top + rows * (band + tile) + 4
    W = cols * (tile + gap) + gap
    canvas = np.ones((H, W, 4), dtype=np.float32)
    labels = []
    for (r, c), (arr, name, shape, cmap) in tiles.items():
        a = np.asarray(arr, dtype=np.float32)
        a = _resize(a, tile)
        lo, hi = (float(v) for v in np.percentile(a, (1, 99)))  # robust: a bright border does not wash it out
        a = np.clip((a - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(a)
        y0, x0 = top + r * (band + tile) + band, gap + c * (tile + gap)
        canvas[y0:y0 + tile, x0:x0 + tile] = colormaps[cmap](a)
        labels.append((x0 + tile / 2, y0 - 2, f"{name}\n{shape}"))
    fig = Figure(figsize=(W / 80, H / 80), dpi=80)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(canvas, interpolation="nearest", extent=(0, W, H, 0))
    ax.set_xlim(0, W)
    ax.set_ylim(H, 0)
    ax.axis("off")
    for x, y, t in labels:
        ax.text(x, y, t, ha="center", va="bottom", fontsize=7)
    ax.text(W / 2, 2, title, ha="center", va="top", fontsize=8)
    return fig


# ----------------------------------------------------------------------------------
# the widget
# ----------------------------------------------------------------------------------
def render_png(fig) -> bytes:
    """What the widget sends to the browser: one pass to PNG (the explorer's figures fill their
    canvas, so no tight bounding box, which would draw the figure twice, is needed)."""
    return figure_png(fig, dpi=80, tight=False)


_png = render_png


def _controls(defaults: dict):
    import ipywidgets as W

    style = {"description_width": "initial"}
    c = dict(
        input_size=W.IntText(value=defaults["input_size"], description="input size", style=style,
                             layout=W.Layout(width="150px")),
        padding=W.ToggleButtons(options=["valid", "same"], value=defaults["padding"], description="padding",
                                style={**style, "button_width": "60px"}),
        depth=W.IntSlider(value=defaults["depth"], min=1, max=5, description="depth", style=style,
                          continuous_update=False, layout=W.Layout(width="210px")),
        base_channels=W.IntText(value=defaults["base_channels"], description="base channels", style=style,
                                layout=W.Layout(width="160px")),
        num_classes=W.IntText(value=defaults["num_classes"], description="classes", style=style,
                              layout=W.Layout(width="120px")),
        up_mode=W.ToggleButtons(options=["upconv", "bilinear"], value=defaults["up_mode"], description="upsampling",
                                style={**style, "button_width": "70px"}),
    )
    for name, w in c.items():
        w.add_class(f"ul-explorer-{name}")
    return c


def build(feature_maps: bool = False, **defaults):
    """The live explorer: controls, then the shapes and formulas, the U diagram and (toggle) feature maps.

    Every change updates the shapes first (arithmetic), then the diagram, then the feature
    maps if shown; a setting that cannot work shows its message in ``.ul-error``.
    """
    import ipywidgets as W

    unknown = set(defaults) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown explorer control(s) {sorted(unknown)}; known: {list(DEFAULTS)}")
    controls = _controls({**DEFAULTS, **defaults})
    show_maps = W.Checkbox(value=feature_maps, description="show feature maps", indent=False)
    show_maps.add_class("ul-explorer-feature_maps")
    shapes_out = W.HTML()
    shapes_out.add_class("ul-view")
    shapes_out.add_class("ul-explorer-shapes")
    diagram = W.Image(format="png")
    diagram.add_class("ul-figure")
    diagram.add_class("ul-explorer-diagram")
    maps_note = W.HTML()
    maps_note.add_class("ul-explorer-maps-note")
    maps_img = W.Image(format="png")
    maps_img.add_class("ul-explorer-maps")

    def values() -> dict:
        return {name: w.value for name, w in controls.items()}

    serial = one_at_a_time()  # updates never interleave (see widgets.one_at_a_time)

    @serial
    def update_maps(*_):
        if not show_maps.value:
            maps_note.value, maps_img.layout.display = "", "none"
            return
        view = safe_view(feature_maps_view, **values())
        maps_note.value = view.body_html()
        if view.ok and view.figure is not None:
            maps_img.value = _png(view.figure)
            maps_img.layout.display = None
        else:
            maps_img.layout.display = "none"

    @serial
    def update(*_):
        v = values()
        view = safe_view(shapes_view, **v)
        shapes_out.value = view.body_html()
        if view.ok:
            d = safe_view(diagram_view, **v)
            if d.ok and d.figure is not None:
                diagram.value = _png(d.figure)
                diagram.layout.display = None
            else:
                diagram.layout.display = "none"
        else:
            diagram.layout.display = "none"
        update_maps()

    for w in controls.values():
        w.observe(update, names="value")
    show_maps.observe(update_maps, names="value")
    update()
    names = list(controls)
    row1 = W.HBox([controls[n] for n in names[:3]], layout=W.Layout(flex_flow="row wrap"))
    row2 = W.HBox([controls[n] for n in names[3:]] + [show_maps], layout=W.Layout(flex_flow="row wrap"))
    box = W.VBox([row1, row2, shapes_out, diagram, maps_note, maps_img])
    box.add_class("ul-explorer")
    box.add_class("ul-widget")
    box.controls = controls          # for tests and notebooks: explorer.controls["depth"].value = 3
    box.feature_toggle = show_maps
    return box


def show(feature_maps: bool = False, static: bool = True, **defaults) -> None:
    """Display a static view of the default setting (shapes and diagram), then the live explorer.

    (Returns nothing, so a notebook cell shows the explorer once; use :func:`build` for the widget object.)
    """
    from IPython.display import HTML, display

    if static:
        view = safe_view(explorer_view, **{**DEFAULTS, **defaults})
        display(HTML("<div class='ul-static' style='color:#666;font-size:11px'>Static view at the default "
                     "setting (the live explorer below starts here):</div>" + view._repr_html_()))
    display(build(feature_maps=feature_maps, **defaults))
