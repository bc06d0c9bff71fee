r"""The receptive field, seen: pick an output pixel, see the input window that can change it.

Two views (plain functions returning a :class:`~unet_lesson.ui.widgets.View`, tested without a browser)
and the widgets lessons declare with them:

* :func:`stack_field_view` (lessons 01-02): a plain stack of 3x3 convolutions and 2x2 poolings. The window
  grows by :math:`k-1` input pixels per layer, times the stride so far:
  :math:`r = 1 + \sum_l (k_l - 1)\prod_{j<l} s_j`. Two 3x3 convolutions see 5x5, like one 5x5. The window is
  computed by walking the layers back (:func:`~unet_lesson.core.receptive.stack_receptive_field`) and, for
  inputs up to 128 pixels, measured with autograd on real ``nn.Conv2d``/``nn.AvgPool2d`` layers.
* :func:`unet_field_view` (lessons 06-07): the U-Net on the sample picture. With valid padding every output
  pixel sees a whole 188- to 204-pixel window of real image (the size depends on where the pixel sits
  against the pooling grid) and never a padding zero; with same padding the pixels near the border have
  windows that hang over it, and see zeros there.

Every number comes from :mod:`unet_lesson.core.receptive` (the U-Net's field by arithmetic is tested
against autograd on a real :class:`~unet_lesson.core.model.UNet`).
"""

from __future__ import annotations

import html
from functools import lru_cache, partial

from ..core.crops import not_giant
from ..core.parse import choice, whole
from ..core.receptive import (
    MEASURE_LIMIT,
    receptive_field_arithmetic,
    rows_seeing_padding,
    stack_field_size,
    stack_layers,
    stack_receptive_field,
    stack_receptive_field_measured,
)
from ..core.shapes import shape_table
from .tables import html_table
from .widgets import View, Widget, choice_buttons, number_box

__all__ = [
    "LIMITS",
    "stack_field_view",
    "stack_controls",
    "stack_widget",
    "unet_field_view",
    "unet_controls",
    "unet_widget",
]

#: What is drawn or run for real, and up to where (beyond: the numbers, and a word on what was not done).
LIMITS = {
    "stack draw": 256,  # largest input side of the stack drawn as a grid picture
    "stack measure": MEASURE_LIMIT,  # largest input side measured with autograd on real layers
    "stack work": 2 * 10**7,  # multiply-adds of that real forward and backward pass
    "unet draw": 640,  # largest input side of the U-Net drawn on the sample picture
}


def _field_data(field) -> dict:
    """What both views put into their data about the window (``data-ul-*`` for the browser tests)."""
    fh, fw = field.size
    return dict(
        field=fh, field_w=fw, rows=field.rows, cols=field.cols, reach=field.reach, padding_pixels=field.padding_pixels
    )


def _span(lo: int, hi: int) -> str:
    return f"{lo}–{hi}" if lo != hi else f"{lo}"


# ------------------------------------------------------------------------------------------
# a plain stack (lessons 01-02)
# ------------------------------------------------------------------------------------------
def _formula(layers) -> tuple[str, str]:
    """The field size formula with the numbers in it, and its result: ``1 + (3−1)·1 + (3−1)·1 = 5``."""
    terms, jump = [], 1
    for layer in layers:
        terms.append(f"({layer.kernel}−1)·{jump}")
        jump *= layer.stride
    shown = terms if len(terms) <= 10 else terms[:4] + [f"… {len(terms) - 8} more …"] + terms[-4:]
    return "r = 1 + " + " + ".join(shown), stack_field_size(layers)


def _stack_rows(layers, size: int) -> list[tuple]:
    rows, n, jump = [("input", f"{size}×{size}", "", "1")], size, 1
    for idx, layer in enumerate(layers, 1):
        n = layer.out(n)
        rows.append((f"{idx}. {layer}", f"{n}×{n}", f"{jump}", f"{stack_field_size(layers[:idx]):,}"))
        jump *= layer.stride
    return rows


def _stack_work(layers, size: int) -> int:
    work, n = 0, size
    for layer in layers:
        n = layer.out(n)
        work += n * n * layer.kernel**2
    return 2 * work  # the backward pass costs about as much again


def stack_field_view(input_size=16, convs=2, blocks=1, kernel=3, padding=0, row=6, col=6) -> View:
    """The input window output pixel ``(row, col)`` of a plain stack sees: ``blocks`` blocks of ``convs``
    convolutions (``kernel``, stride 1, ``padding``) with a 2x2 max pool between blocks.

    ``data``: ``field`` (the window's height, as cut by the border), ``field_w``, ``formula`` (the size away
    from the borders, :math:`1 + \\sum (k-1) \\prod s`), ``rows``/``cols`` (the input rows and columns),
    ``reach`` (the window before the border cuts it), ``padding_pixels`` (how many of its pixels are padding
    zeros), ``output`` (the output's side), ``measured`` ("agrees", "disagrees" or "" when not run)."""
    size = whole(not_giant(input_size, "input size"), "input size", minimum=1)
    layers = stack_layers(convs, blocks, not_giant(kernel, "kernel"), not_giant(padding, "padding"))
    row = whole(not_giant(row, "output row"), "output row", minimum=0)
    col = whole(not_giant(col, "output column"), "output column", minimum=0)
    field = stack_receptive_field(layers, size, (row, col))  # explains a layer the map is too small for
    out = _stack_rows(layers, size)[-1][1].split("×")[0]
    formula_text, r = _formula(layers)
    formula = f"{r:,}"
    fh, fw = field.size
    measured = ""
    if size <= LIMITS["stack measure"] and _stack_work(layers, size) <= LIMITS["stack work"]:
        m = stack_receptive_field_measured(layers, size, (row, col))
        measured = "agrees" if (m.rows, m.cols) == (field.rows, field.cols) else "disagrees"
        check = (
            f"<div>autograd on real <code>nn.Conv2d</code>/<code>nn.AvgPool2d</code> layers (max pooling's windows, "
            f"with a gradient to every pixel) marks input rows {_span(*m.rows)}, columns {_span(*m.cols)}: "
            + (
                "<span style='color:#1e7b1e'>✓ the same window</span>"
                if measured == "agrees"
                else "<span style='color:#b3261e'>✗ a different window</span>"
            )
            + "</div>"
        )
    else:
        check = (
            f"<div class='ul-note'>Not measured with autograd: that runs real layers on inputs up to "
            f"{LIMITS['stack measure']} pixels a side with at most {LIMITS['stack work']:,} multiply-adds (it reruns "
            "on every change). The window above is exact for any size; the tests check it against autograd.</div>"
        )
    words = [
        f"Output pixel ({row}, {col}) of the {out}×{out} output sees input rows {_span(*field.rows)}, "
        f"columns {_span(*field.cols)}: a <b>{fh}×{fw}</b> window."
    ]
    if fh * fw == 0:
        rh, rw = field.reach
        words = [
            f"Output pixel ({row}, {col}) of the {out}×{out} output sees <b>no image at all</b>: its layers look at a "
            f"{rh}×{rw} window that lies wholly in the padding zeros (a padding of {layers[0].padding} is more than "
            "the kernels can reach back across). PyTorch allows it; the pixel's value comes from the biases alone."
        ]
    elif field.sees_padding:
        rh, rw = field.reach
        words.append(
            f"Its layers look at a {rh}×{rw} window, but the border cuts it: {field.padding_pixels:,} of those "
            "pixels are padding zeros, not image."
        )
    else:
        words.append("All of it is image: no layer reads a padding zero for this pixel.")
    n_convs, k = sum(layer.kind == "conv" for layer in layers), layers[0].kernel
    if n_convs == len(layers) > 1:  # one block: compare with the single convolution of the same window
        words.append(
            f"One {formula}×{formula} convolution would see the same window with {r * r:,} weights per channel "
            f"pair; these {n_convs} {k}×{k} convolutions use {n_convs * k * k:,} (and put a ReLU between them)."
        )
    body = (
        f"<div><b>Receptive field away from the borders: {formula}×{formula}</b> &nbsp; "
        f"<code>{html.escape(formula_text)} = {formula}</code><br>"
        "<span style='color:#555'>each layer adds its kernel minus one, in input pixels per step of its input "
        "(the product of the strides before it)</span></div>"
        f"<div>{' '.join(words)}</div>"
        + check
        + html_table(
            ("layer", "map", "input pixels per step", "field so far"), _stack_rows(layers, size), mono=(1, 2, 3)
        )
    )
    figure = None
    if size <= LIMITS["stack draw"]:
        from .figures.receptive import stack_figure

        image = _picture()[:size, :size] if size > 48 else None  # a grid of cells up to 48, the picture beyond
        figure = stack_figure((size, size), (int(out), int(out)), field, image=image)
    else:
        body += (
            f"<div class='ul-note'>Not drawn: the input is {size:,} pixels a side, more than the picture's "
            f"{LIMITS['stack draw']}.</div>"
        )
    return View(
        html=body,
        figure=figure,
        data=dict(
            **_field_data(field),
            formula=r,
            output=int(out),
            measured=measured,
        ),
    )


def _boxes(d: dict, labels: dict) -> dict:
    """A number box for each control in ``labels`` (name: label), valued from ``d``, its label in full and the box
    as wide as the label needs (a long label must not cover the next box's input: it did in JupyterLab)."""
    return {
        name: number_box(d[name], label, f"{8 * len(label) + 80}px", full_label=True) for name, label in labels.items()
    }


#: the output pixel whose window both widgets show
_PIXEL = {"row": "output row", "col": "output column"}


def stack_controls(**defaults) -> dict:
    d = {"input_size": 16, "convs": 2, "blocks": 1, "kernel": 3, "padding": 0, "row": 6, "col": 6, **defaults}
    labels = {"input_size": "input size", "convs": "convs per block", "blocks": "blocks (pool between)"}
    return _boxes(d, {**labels, "kernel": "kernel k", "padding": "padding p", **_PIXEL})


def stack_widget(**defaults) -> Widget:
    """The plain stack's receptive field as a lesson declares it (``WIDGETS["field"] = stack_widget()``)."""
    title = "The receptive field: which input pixels one output pixel sees"
    return Widget(stack_field_view, partial(stack_controls, **defaults), css="ul-field", title=title)


# ------------------------------------------------------------------------------------------
# the U-Net (lessons 06-07)
# ------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _picture():
    from ..seg.data import sample_image

    return sample_image(LIMITS["unet draw"])  # made once; smaller inputs show its top-left corner


def unet_field_view(input_size=572, padding="valid", depth=4, row=194, col=194) -> View:
    """The input window output pixel ``(row, col)`` of ``UNet(padding=padding, depth=depth)`` sees, on the
    sample picture (drawn up to ``LIMITS["unet draw"]`` pixels), by arithmetic over the shape table.

    ``data``: ``field``/``field_w`` (the window, cut by the border), ``rows``/``cols``, ``reach`` (before the
    cut), ``padding_pixels`` (pixels of the window in the padding zeros), ``output`` (the output's side),
    ``seeing_padding`` (how many output pixels have a window that reaches into the padding)."""
    padding = choice(padding, "padding", ("valid", "same"))
    depth = whole(depth, "depth", minimum=1)
    row = whole(not_giant(row, "output row"), "output row", minimum=0)
    col = whole(not_giant(col, "output column"), "output column", minimum=0)
    options = dict(padding=padding, depth=depth)
    table = shape_table(
        not_giant(input_size, "input size"), **options
    )  # explains a size the network cannot take, and which sizes work
    h, (oh, ow) = table.input_shape[1], table.output_shape[1:]
    field = receptive_field_arithmetic(h, (row, col), **options)
    top, bottom, _ = rows_seeing_padding(h, **options)
    inner = max(oh - top - bottom, 0)
    seeing = oh * ow - inner * inner
    fh, fw = field.size
    words = [
        f"Output pixel ({row}, {col}) of the {oh}×{ow} output sees input rows {_span(*field.rows)}, "
        f"columns {_span(*field.cols)}: a <b>{fh}×{fw}</b> window of the {h}×{h} input."
    ]
    if padding == "valid":
        words.append(
            "All of it is image: valid convolutions never read a padding zero, so every output pixel has its full "
            "context. The price is the border: the output is the centre of the input, "
            f"{(h - oh) // 2} pixels in from each side (overlap-tile, lesson 09, mirrors the image to supply them)."
        )
    elif field.sees_padding:
        rh, rw = field.reach
        words.append(
            f"Its layers look at a {rh}×{rw} window, but the border cuts it: <b>{field.padding_pixels:,}</b> of "
            "those pixels are padding zeros, not image (hatched)."
        )
    else:
        words.append("Its whole window lies inside the image: this pixel sees no padding zeros.")
    if padding == "same":
        words.append(
            f"Output pixels whose window reaches into the padding: {seeing:,} of {oh * ow:,} "
            f"({100 * seeing / (oh * ow):.0f}%): those in the {top} rows and columns nearest the top and left borders "
            f"and the {bottom} nearest the bottom and right."
        )
    body = f"<div>{' '.join(words)}</div>"
    rows = [
        ("network", f"UNet(padding={padding!r}, depth={depth})"),
        ("input → output", f"{h}×{h} → {oh}×{ow}"),
        ("window (cut by the border)", f"{fh}×{fw}: rows {_span(*field.rows)}, columns {_span(*field.cols)}"),
        ("window before the cut", "{}×{}".format(*field.reach)),
        ("padding zeros in it", f"{field.padding_pixels:,}"),
    ]
    body += html_table(None, rows, mono=(1,))
    figure = None
    if h <= LIMITS["unet draw"]:
        from .figures.receptive import unet_figure

        offset = ((h - oh) // 2, (h - ow) // 2)
        figure = unet_figure(_picture()[:h, :h], (oh, ow), offset, field)
    else:
        body += (
            f"<div class='ul-note'>Not drawn: the input is {h:,} pixels a side, more than the picture's "
            f"{LIMITS['unet draw']}. The numbers above hold for any size.</div>"
        )
    return View(
        html=body,
        figure=figure,
        data=dict(
            **_field_data(field),
            output=oh,
            seeing_padding=seeing,
        ),
    )


def unet_controls(**defaults) -> dict:
    d = {"input_size": 572, "padding": "valid", "depth": 4, "row": 194, "col": 194, **defaults}
    return {
        **_boxes(d, {"input_size": "input size"}),
        "padding": choice_buttons(["valid", "same"], d["padding"], "padding", "60px"),
        **_boxes(d, {"depth": "depth (pools)", **_PIXEL}),
    }


def unet_widget(**defaults) -> Widget:
    """The U-Net's receptive field as a lesson declares it (``WIDGETS["field"] = unet_widget()``)."""
    title = "What one output pixel of the U-Net sees"
    return Widget(unet_field_view, partial(unet_controls, **defaults), css="ul-unet-field", title=title)
