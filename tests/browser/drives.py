"""The table: notebook -> the widgets a browser test drives in it, and what they must show.

The notebooks and their widgets come from the lesson modules (``LESSON``, ``WIDGETS``); this file
adds, for each widget, a :class:`WidgetDrive`: how to read its controls, the expected numbers as a
function of the controls computed by ``unet_lesson``, and the steps (``DRIVES``). A new widget
without a drive fails at import, naming it.
"""

from __future__ import annotations

import functools
import re

import torch

from unet_lesson import (
    InvalidInputSize,
    center_crop_box,
    conv_out,
    count_parameters,
    nearest_valid_sizes,
    output_size,
    pool_out,
    shape_table,
    up_conv_out,
    valid_input_sizes,
)

from .driving import NotebookDrive, Press, Select, Toggle, Type, WidgetDrive, number


# --------------------------------------------------------------------------------------
# the harness's own fixture: a convolution-size widget built the lessons' way
# --------------------------------------------------------------------------------------
def _fixture_conv_expected(size, kernel, stride, padding):
    return {"output": conv_out(size, kernel, stride, padding)}


def _fixture_conv_texts(size, kernel, stride, padding):
    return [conv_out.explain(size, kernel, stride, padding).text]


FIXTURE_CONV = WidgetDrive(
    css="ul-fixture",
    controls={"size": int, "kernel": int, "stride": int, "padding": int},
    expected=_fixture_conv_expected,
    texts=_fixture_conv_texts,
    steps=[
        Press("kernel", "ArrowRight", 2),  # 3x3 -> 5x5
        Type("size", 101),  # a typed odd size
        Select("padding", "2"),
        Press("stride", "ArrowRight", 1),  # stride 2: a floor appears in the formula
        Type("size", -4, invalid=True),  # a negative size must be explained, not crash
        Type("size", 64),  # and the widget recovers
    ],
)

FIXTURES = [NotebookDrive("tests/browser/fixtures/fixture_conv.ipynb", [FIXTURE_CONV], run_timeout_s=60)]

# --------------------------------------------------------------------------------------
# the lessons (filled in as they land on main)
# --------------------------------------------------------------------------------------


# 00 start here: the whole U-Net as a black box (input size, padding -> output size, parameters)
def _start_expected(input_size, padding):
    out_h, out_w = output_size(input_size, padding=padding)  # InvalidInputSize is a ValueError
    return {"input": input_size, "output": out_h, "params": count_parameters(padding=padding)}


def _start_texts(input_size, padding):
    c_out, h_out, w_out = shape_table(input_size, padding=padding).output_shape
    return [
        f"{input_size}×{input_size}×1",
        f"{h_out}×{w_out}×{c_out}",
        f"{count_parameters(padding=padding):,} parameters",
    ]


def _start_nearest(input_size, padding):
    if input_size < 1:
        return {}
    below, above = nearest_valid_sizes(input_size, padding=padding)
    return {"below": "" if below is None else below, "above": "" if above is None else above}


def _start_error_texts(message, input_size, padding):
    return [message] + [number(n) for k, n in _start_nearest(input_size, padding).items() if k != "input" and n]


START = WidgetDrive(
    css="ul-start",
    controls={"input_size": int, "padding": str},
    expected=_start_expected,
    texts=_start_texts,
    error_texts=_start_error_texts,
    error_data=_start_nearest,
    steps=[
        Type("input_size", 588),
        Type("input_size", 570, invalid=True),  # odd size at a 2x2 pool: says where and the nearest sizes
        Select("padding", "same", invalid=True),
        Type("input_size", 96),
        Type("input_size", -5, invalid=True),
        Select("padding", "valid", invalid=True),
        Type("input_size", 572),
    ],
)


# 01 convolution sizes: one conv, input size -> output size, with the formula and a real nn.Conv2d
def _conv_expected(size, kernel, stride, padding, dilation):
    f = conv_out.explain(size, kernel, stride, padding, dilation)
    return {
        "size": size,
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "output": f.result,
        "torch_output": f.result,
        "agree": True,
        "padded": size + 2 * padding,
        "formula": f.text,
    }


def _conv_texts(size, kernel, stride, padding, dilation):
    f = conv_out.explain(size, kernel, stride, padding, dilation)
    return [f"Output size: {f.result}×{f.result}", f.text]


CONV = WidgetDrive(
    css="ul-conv",
    controls={"size": int, "kernel": int, "stride": int, "padding": int, "dilation": int},
    expected=_conv_expected,
    texts=_conv_texts,
    steps=[
        Press("size", "ArrowDown", 1),  # 572 -> 571 with the keyboard
        Type("kernel", 5),
        Type("stride", 2),  # a floor appears
        Type("padding", 1),
        Type("dilation", 2),
        Type("size", 2, invalid=True),  # the dilated 5x5 kernel no longer fits
        Type("size", 572),
    ],
)


# 02 max pooling: one pool (size, formula, real nn.MaxPool2d, zero parameters)
def _pool_expected(size, kernel, stride, padding, ceil_mode, source):
    f = pool_out.explain(size, kernel, stride, padding, ceil_mode)
    layer = torch.nn.MaxPool2d(kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    return {
        "size": size,
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "ceil_mode": int(ceil_mode),
        "output": f.result,
        "torch_output": f.result,
        "agree": True,
        "params": sum(p.numel() for p in layer.parameters()),
        "formula": f.text,
    }


def _pool_texts(size, kernel, stride, padding, ceil_mode, source):
    f = pool_out.explain(size, kernel, stride, padding, ceil_mode)
    return [f"Output size: {f.result}×{f.result}", f.text]


POOL = WidgetDrive(
    css="ul-pool",
    controls={"size": int, "kernel": int, "stride": int, "padding": int, "ceil_mode": bool, "source": str},
    expected=_pool_expected,
    texts=_pool_texts,
    steps=[
        Type("size", 137),  # odd: floor drops a row
        Toggle("ceil_mode"),  # ceil keeps a half window
        Select("source", "image"),
        Press("kernel", "ArrowUp", 1),  # 3x3 windows
        Type("padding", 2, invalid=True),  # more than half the kernel: PyTorch refuses
        Type("padding", 1),
    ],
)


# 03 the up-conv: output size and formula, the real nn.ConvTranspose2d's shape and parameters
def _upconv_expected(size, kernel, stride, padding, output_padding, in_channels, out_channels):
    f = up_conv_out.explain(size, kernel, stride, padding, output_padding)
    layer = torch.nn.ConvTranspose2d(in_channels, out_channels, kernel, stride, padding, output_padding)
    with torch.no_grad():
        real = tuple(layer(torch.zeros(1, in_channels, size, size)).shape[1:])
    return {
        "output": f.result,
        "formula": f.text,
        "params": sum(p.numel() for p in layer.parameters()),
        "weight_shape": tuple(layer.weight.shape),
        "real_shape": real,
        "agrees": True,
    }


def _upconv_texts(size, kernel, stride, padding, output_padding, in_channels, out_channels):
    f = up_conv_out.explain(size, kernel, stride, padding, output_padding)
    params = _upconv_expected(size, kernel, stride, padding, output_padding, in_channels, out_channels)["params"]
    return [f"{size}×{size}×{in_channels} → {f.result}×{f.result}×{out_channels}", f.text, f"{params:,} parameters"]


def _upconv_error_texts(message, size, kernel, stride, padding, output_padding, **_):
    if size < 1:
        return [f"size must be at least 1, got {size}"]
    if output_padding >= stride:
        return [
            f"output_padding ({output_padding}) must be smaller than the stride ({stride})",
            f"at most {stride - 1}",
        ]
    return [f"padding {padding}"]


UPCONV = WidgetDrive(
    css="ul-upconv",
    controls={
        "size": int,
        "kernel": int,
        "stride": int,
        "padding": int,
        "output_padding": int,
        "in_channels": int,
        "out_channels": int,
    },
    expected=_upconv_expected,
    texts=_upconv_texts,
    error_texts=_upconv_error_texts,
    steps=[
        Press("size", "ArrowUp", 1),  # 5x5 input
        Type("kernel", 3),  # stride 2 no longer divides the kernel: uneven overlap
        Type("padding", 1),
        Type("output_padding", 1),
        Type("out_channels", 8),
        Type("output_padding", 2, invalid=True),  # not smaller than the stride
        Type("output_padding", 0),
        Type("size", -1, invalid=True),
        Type("size", 6),
    ],
)


# 04 copy and crop: the centre crop at one level, from shape_table and center_crop_box
def _crop_options(padding, allow_odd):
    return dict(padding=padding, mismatch="crop" if allow_odd else "error")


def _crop_expected(input_size, level, padding, allow_odd):
    opts = _crop_options(padding, allow_odd)
    out_h, _ = output_size(input_size, **opts)
    row = next(r for r in shape_table(input_size, **opts).where(kind="crop") if r.level == level)
    box = center_crop_box(row.in_shape[1:], row.out_shape[1:])
    return {
        "input": input_size,
        "level": level,
        "padding": padding,
        "source": box.source[0],
        "target": box.height,
        "top": box.top,
        "left": box.left,
        "bottom": box.bottom,
        "right": box.right,
        "channels": row.in_shape[0],
        "concat_channels": 2 * row.in_shape[0],
        "output": out_h,
        "crop_matches_box": "True",
        "valid": "yes",
    }


def _crop_texts(input_size, level, padding, allow_odd):
    opts = _crop_options(padding, allow_odd)
    row = next(r for r in shape_table(input_size, **opts).where(kind="crop") if r.level == level)
    out_h, out_w = output_size(input_size, **opts)
    return [center_crop_box(row.in_shape[1:], row.out_shape[1:]).explain().text, f"Network output: {out_h}×{out_w}"]


def _crop_nearest(input_size, level, padding, allow_odd):
    below, above = nearest_valid_sizes(input_size, **_crop_options(padding, allow_odd))
    return {"below": "" if below is None else below, "above": "" if above is None else above}


CROP = WidgetDrive(
    css="ul-crop",
    controls={"input_size": int, "level": lambda label: int(label.split()[0]), "padding": str, "allow_odd": bool},
    expected=_crop_expected,
    texts=_crop_texts,
    error_texts=lambda message, **s: (
        [message] + [number(n) for k, n in _crop_nearest(**s).items() if k in ("below", "above") and n]
    ),
    error_data=_crop_nearest,
    steps=[
        Select("level", "3"),
        Type("input_size", 570, invalid=True),  # odd at a pool: the crop would be off by half a pixel
        Toggle("allow_odd"),  # mismatch='crop': crop anyway, not centred
        Toggle("allow_odd", invalid=True),
        Select("padding", "same", invalid=True),
        Type("input_size", 560),  # same padding: nothing to crop
        Select("level", "4 (deepest, 64 in the paper)"),
    ],
)


# 05 the 1x1 head: number of classes -> output channels and parameters (the head row of the network
# whose features the lesson uses)
@functools.lru_cache(maxsize=1)
def _head_network_options() -> tuple:
    """The network whose features enter the lesson's head: the course's trained model when it ships
    (unet_lesson.seg.pretrained), else the lesson's stated fallback (same padding, depth 2, 64 channels)."""
    from unet_lesson.seg.pretrained import load_pretrained

    model = load_pretrained("same")
    opts = model.options.as_dict() if model is not None else dict(padding="same", depth=2, base_channels=64)
    opts.pop("num_classes", None)
    return tuple(sorted(opts.items()))


def _head_row(num_classes):
    opts = dict(_head_network_options())
    size = valid_input_sizes(256, **opts)[-1]
    return shape_table(size, num_classes=num_classes, **opts).where(kind="head")[0]


def _head_expected(num_classes):
    row = _head_row(num_classes)  # ValueError for fewer than 1 class
    return {
        "num_classes": num_classes,
        "out_channels": row.out_shape[0],
        "in_channels": row.in_shape[0],
        "params": row.params,
        "params_formula": row.params,
        "output": re.compile(rf"^(\d+)x\1x{row.out_shape[0]}$"),
    }


def _head_texts(num_classes):
    row = _head_row(num_classes)
    c_in, n = row.in_shape[0], row.out_shape[0]
    return [f"nn.Conv2d({c_in}, {n}, kernel_size=1)", f"= {c_in}*{n} + {n} = {row.params:,}"]


HEAD = WidgetDrive(
    css="ul-head",
    controls={"num_classes": int},
    expected=_head_expected,
    texts=_head_texts,
    error_texts=lambda message, num_classes: [f"at least 1, got {num_classes}"],
    steps=[
        Press("num_classes", "ArrowUp", 1),  # 3 classes
        Type("num_classes", 5),
        Type("num_classes", 0, invalid=True),  # no kernels, no output
        Type("num_classes", 1),  # one class: read with a sigmoid
    ],
)


# 08 training: the paper's weight map w(x) = w_c(x) + w0 * exp(-(d1 + d2)^2 / (2 sigma^2)), on background pixels
# only (the course) or on every pixel (Eq. 2 as printed)
def _weights_expected(w0, sigma, gap, where):
    from unet_lesson.lessons.l08_training import GAP_PIXEL, RIM_PIXEL  # a row through both cells; cell 1's rim
    from unet_lesson.seg.data import make_sample
    from unet_lesson.seg.losses import border_weights, class_weights, two_touching_cells

    only = where == "background"
    toy = two_touching_cells(gap)
    toy_w = class_weights(toy > 0) + border_weights(toy, w0, sigma, background_only=only)
    row, col = GAP_PIXEL
    s = make_sample(64, seed=0)
    picture_w = class_weights(s.mask) + border_weights(s.instances, w0, sigma, background_only=only)
    return {
        "w0": float(w0),
        "sigma": float(sigma),
        "gap": gap,
        "where": where,
        "gap_weight": round(float(toy_w[row, col : col + gap].max()), 4),
        "rim_weight": round(float(toy_w[RIM_PIXEL]), 4),
        "max_weight": round(float(picture_w.max()), 4),
    }


def _weights_texts(w0, sigma, gap, where):
    e = _weights_expected(w0, sigma, gap, where)
    return [number(f"{e['gap_weight']:.2f}"), number(f"{e['rim_weight']:.2f}"), number(f"{e['max_weight']:.2f}")]


WEIGHTS = WidgetDrive(
    css="ul-weights",
    controls={
        "w0": float,
        "sigma": float,
        "gap": int,
        "where": lambda label: "background" if label.startswith("background") else "every pixel",
    },
    expected=_weights_expected,
    texts=_weights_texts,
    steps=[
        Press("w0", "ArrowLeft", 3),  # w0 10 -> 7
        Press("sigma", "ArrowRight", 2),  # sigma 5 -> 6
        Press("gap", "ArrowRight", 2),  # a wider gap: a smaller border weight
        Select("where", "every pixel (Eq. 2 as printed)"),  # the rims of the cells light up too
        Type("w0", 0),  # no border term: only the class weights are left
        Select("where", "background pixels only (the course)"),
        Press("sigma", "End", 1),
    ],
    no_invalid_reason="w0, sigma and gap are sliders and 'term on' a menu whose every position is a valid setting",
)


# 09 overlap-tile: tile and image size -> output tile, margin, step and number of tiles
def _tile_plan(tile, height, width, depth, align):
    from unet_lesson.seg.tiling import plan_tiles

    return plan_tiles((height, width), tile, align=align, depth=depth)


def _tile_expected(tile, height, width, depth, align):
    out = output_size(tile, depth=depth)[0]  # InvalidInputSize for a tile the network cannot take
    plan = _tile_plan(tile, height, width, depth, align)
    rows, cols = plan.grid
    return {
        "tile": tile,
        "output": out,
        "margin": (tile - out) // 2,
        "step": plan.stride[0],
        "rows": rows,
        "cols": cols,
        "tiles": rows * cols,
        "valid": 1,
    }


def _tile_texts(tile, height, width, depth, align):
    e = _tile_expected(tile, height, width, depth, align)
    return [f"({tile} - {e['output']})/2 = {e['margin']} px", f"{e['rows']} rows x {e['cols']} columns = {e['tiles']}"]


def _tile_nearest(tile, height, width, depth, align):
    below, above = nearest_valid_sizes(tile, depth=depth)
    return {"below": "" if below is None else below, "above": "" if above is None else above}


def _tile_error_texts(message, tile, height, width, depth, align):
    """The lesson words it as a tile; it must still say why (the shapes' reason) and the nearest sizes."""
    try:
        output_size(tile, depth=depth)
    except InvalidInputSize as e:
        return [e.reason] + [number(n) for n in e.nearest if n is not None]
    return [message]


TILE = WidgetDrive(
    css="ul-tile",
    controls={"tile": int, "height": int, "width": int, "depth": int, "align": bool},
    expected=_tile_expected,
    texts=_tile_texts,
    error_texts=_tile_error_texts,
    error_data=_tile_nearest,
    steps=[
        Type("height", 700),  # a taller image: more rows of tiles
        Press("depth", "ArrowDown", 1),  # depth 3: a smaller margin
        Toggle("align"),
        Type("tile", 570, invalid=True),  # not a valid input tile: the nearest ones
        Type("tile", 508),
    ],
)


# 06, 07 and the explorer: the whole U-Net (unet_lesson.ui.explorer), every knob on one widget
def _explorer_options(padding, depth, base_channels, num_classes, up_mode):
    return dict(padding=padding, depth=depth, base_channels=base_channels, num_classes=num_classes, up_mode=up_mode)


def _explorer_expected(input_size, **o):
    table = shape_table(input_size, **_explorer_options(**o))  # InvalidInputSize or a bad option: ValueError
    return {
        "input_size": input_size,
        "output_size": table.output_shape[1],
        "params": count_parameters(**_explorer_options(**o)),
        "n_conv_layers": table.n_conv_layers,
        "error": "",
    }


def _explorer_texts(input_size, **o):
    table = shape_table(input_size, **_explorer_options(**o))
    c, h, w = table.input_shape
    oc, oh, ow = table.output_shape
    return [
        f"{h}×{w}×{c} → {oh}×{ow}×{oc}",
        f"{count_parameters(**_explorer_options(**o)):,} parameters",
        f"{table.n_conv_layers} conv layers",
    ]


def _explorer_nearest(input_size, **o):
    try:
        shape_table(input_size, **_explorer_options(**o))
    except InvalidInputSize as e:
        return {"below": e.below if e.below is not None else "", "above": e.above if e.above is not None else ""}
    except ValueError:
        pass
    return {}


def _explorer_error_texts(message, input_size, **o):
    below_above = (
        nearest_valid_sizes(input_size, **_explorer_options(**o)) if _explorer_nearest(input_size, **o) else ()
    )
    return [message] + [number(n) for n in below_above if n]


def _explorer_maps(input_size, depth, num_classes, **_):
    """The feature-map panel (when shown): its input size and one panel per level of the U plus the output;
    beyond the maps' stated limits, a note (drawn "no") while the shapes still answer."""
    from unet_lesson.ui.explorer import MAX_DEPTH, MAX_FEATURE_CLASSES, MAX_FEATURE_SIZE

    if input_size > MAX_FEATURE_SIZE or depth > MAX_DEPTH or num_classes > MAX_FEATURE_CLASSES:
        return {"drawn": "no"}
    return {"drawn": "yes", "input_size": input_size, "panels": 2 * depth + 2}


def explorer_drive(steps, feature_maps: bool) -> WidgetDrive:
    return WidgetDrive(
        css="ul-explorer",
        controls={
            "input_size": int,
            "padding": str,
            "depth": int,
            "base_channels": int,
            "num_classes": int,
            "up_mode": str,
        },
        expected=_explorer_expected,
        texts=_explorer_texts,
        error_texts=_explorer_error_texts,
        error_data=_explorer_nearest,
        more={".ul-explorer-maps-note .ul-view-body": _explorer_maps} if feature_maps else {},
        steps=steps,
    )


# 06: the paper's network (572, valid) and what the knobs do to it
EXPLORER_06 = explorer_drive(
    [
        Type("input_size", 588),
        Type("input_size", 570, invalid=True),  # odd at a pool: where, why, nearest valid sizes
        Type("input_size", 572),
        Press("depth", "ArrowDown", 1),  # depth 3, from the keyboard
        Type("depth", 9, invalid=True),  # deeper than the options allow: said, not clamped
        Type("depth", 3),
        Type("base_channels", 32),
        Type("num_classes", 5),
        Select("up_mode", "bilinear"),
        Type("base_channels", 0, invalid=True),
        Type("base_channels", 64),
    ],
    feature_maps=False,
)

# 07: the same-padding network (256, feature maps shown)
EXPLORER_07 = explorer_drive(
    [
        Press("depth", "ArrowDown", 1),
        Type("base_channels", 16),
        Type("num_classes", 5000),  # the shapes answer; the maps say they are not drawn (no 2.9 GB)
        Type("num_classes", 3),
        Select("up_mode", "bilinear"),
        Type("input_size", 250, invalid=True),
        Type("input_size", 256),
        Select("padding", "valid", invalid=True),  # 256 does not fit the valid network
        Type("input_size", 508),
    ],
    feature_maps=True,
)

# the explorer page (also served by Voila): the paper's defaults, feature maps shown
EXPLORER = explorer_drive(
    [
        Select("padding", "same", invalid=True),  # 572 is not a multiple of 16
        Type("input_size", 256),
        Press("depth", "ArrowDown", 1),
        Type("num_classes", 0, invalid=True),
        Type("num_classes", 3),
        Select("up_mode", "bilinear"),
    ],
    feature_maps=True,
)


# 01, 02, 06, 07: the receptive field (unet_lesson.ui.receptive), from unet_lesson.core.receptive directly
def _stack_field_expected(input_size, convs, blocks, kernel, padding, row, col):
    from unet_lesson.core.receptive import stack_field_size, stack_layers, stack_receptive_field

    layers = stack_layers(convs, blocks, kernel, padding)
    f = stack_receptive_field(layers, input_size, (row, col))
    out = input_size
    for layer in layers:
        out = layer.out(out)
    return {
        "field": f.size[0],
        "field_w": f.size[1],
        "formula": stack_field_size(layers),
        "output": out,
        "padding_pixels": f.padding_pixels,
    }


_STACK_CONTROLS = {
    "input_size": int,
    "convs": int,
    "blocks": int,
    "kernel": int,
    "padding": int,
    "row": int,
    "col": int,
}

FIELD_01 = WidgetDrive(
    css="ul-field",
    controls=_STACK_CONTROLS,
    expected=_stack_field_expected,
    steps=[
        Type("padding", 1),  # VGG's padding: the window keeps growing past the border
        Type("row", 0),
        Type("col", 0),  # the corner: 3x3 of image, 16 padding zeros
        Type("convs", 3),  # three 3x3: 7x7
        Type("kernel", 5),
        Type("row", 99, invalid=True),  # outside the output: said, with the rows that exist
        Type("row", 2),
    ],
)

FIELD_02 = WidgetDrive(
    css="ul-field",
    controls=_STACK_CONTROLS,
    expected=_stack_field_expected,
    steps=[
        Type("row", 0),
        Type("col", 0),  # the corner pixel
        Type("input_size", 188),
        Type("blocks", 5),  # the contracting path and the bottom, without the copies: output 4
        Type("blocks", 9, invalid=True),  # the map runs out before the last block
        Type("blocks", 2),
    ],
)


def _unet_field_expected(input_size, padding, depth, row, col):
    from unet_lesson.core.receptive import receptive_field_arithmetic

    f = receptive_field_arithmetic(input_size, (row, col), padding=padding, depth=depth)
    return {
        "field": f.size[0],
        "field_w": f.size[1],
        "output": output_size(input_size, padding=padding, depth=depth)[0],
        "padding_pixels": f.padding_pixels,
    }


_UNET_CONTROLS = {"input_size": int, "padding": str, "depth": int, "row": int, "col": int}

FIELD_06 = WidgetDrive(
    css="ul-unet-field",
    controls=_UNET_CONTROLS,
    expected=_unet_field_expected,
    steps=[
        Type("row", 7),  # 204 rows: where the pixel sits against the pools' grid
        Type("col", 0),
        Type("row", 388, invalid=True),  # one past the last output row
        Type("row", 387),
        Select("padding", "same", invalid=True),  # 572 is not a multiple of 16
        Type("input_size", 576),
    ],
)

FIELD_07 = WidgetDrive(
    css="ul-unet-field",
    controls=_UNET_CONTROLS,
    expected=_unet_field_expected,
    steps=[
        Type("row", 0),
        Type("col", 0),  # the corner: a quarter of its window is image
        Type("row", 94),
        Select("padding", "valid", invalid=True),  # 576 is not a valid size for the valid network
        Type("input_size", 572),
        Type("col", 200),
    ],
)

#: the drive of every widget of every lesson, by (notebook, widget name as in the module's WIDGETS)
DRIVES = {
    ("00_start_here", "start"): START,
    ("01_convolution_sizes", "conv"): CONV,
    ("01_convolution_sizes", "field"): FIELD_01,
    ("02_max_pooling", "pool"): POOL,
    ("02_max_pooling", "field"): FIELD_02,
    ("03_up_conv", "upconv"): UPCONV,
    ("04_copy_and_crop", "crop"): CROP,
    ("05_the_1x1_head", "head"): HEAD,
    ("06_the_original_unet", "explorer"): EXPLORER_06,
    ("06_the_original_unet", "field"): FIELD_06,
    ("07_same_padding_unet", "explorer"): EXPLORER_07,
    ("07_same_padding_unet", "field"): FIELD_07,
    ("08_training", "weights"): WEIGHTS,
    ("09_overlap_tile", "tile"): TILE,
    ("explorer", "explorer"): EXPLORER,
}
#: notebooks that need longer than the default to run top to bottom in a browser
RUN_TIMEOUT_S = {"08_training": 300}


def _lesson_drives() -> list[NotebookDrive]:
    """One NotebookDrive per lesson, read from the lesson modules' LESSON and WIDGETS (unet_lesson.lessons)."""
    from unet_lesson import lessons as course

    out = []
    for module in course.modules():
        lesson = module.LESSON
        widgets = []
        for name, widget in module.WIDGETS.items():
            drive = DRIVES[(lesson.notebook, name)]  # a new widget needs a drive here
            assert drive.css == widget.css, f"{lesson.notebook}/{name}: drive for {drive.css}, widget is {widget.css}"
            widgets.append(drive)
        kw = {"run_timeout_s": RUN_TIMEOUT_S[lesson.notebook]} if lesson.notebook in RUN_TIMEOUT_S else {}
        out.append(NotebookDrive(lesson.path, widgets, **kw))
    return out


LESSONS: list[NotebookDrive] = _lesson_drives()

VOILA: list[NotebookDrive] = [
    NotebookDrive("tests/browser/fixtures/fixture_conv.ipynb", [FIXTURE_CONV], run_timeout_s=60),
    next(d for d in LESSONS if d.path == "notebooks/explorer.ipynb"),
]

LAB: list[NotebookDrive] = FIXTURES + LESSONS


def drive_params(drives: list[NotebookDrive]) -> list:
    """pytest parameters, one per notebook."""
    import pytest

    return [pytest.param(d, id=d.name) for d in drives]
