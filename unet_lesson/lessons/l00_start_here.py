"""Lesson 00 (start here): the whole network's input and output, and a first exercise."""
from __future__ import annotations

import html

from ..ui.exercises import Exercise
from ..core.options import UNetOptions
from ..core.shapes import InvalidInputSize, output_size, shape_table
from ..ui.widgets import View

__all__ = ["network_io_view", "controls", "EX_OUTPUT", "EX_CHANNELS", "course_map_html", "LESSONS"]

# (notebook, title, what the student does, the notes' topics it covers: NOTES-MAP.md numbering)
LESSONS = [
    ("00_start_here", "Start here", "course map, widgets, glossary, environment check", "1, 2, 12"),
    ("01_convolution_sizes", "Convolution sizes", "572 -> 570 -> 568: the 3x3 conv and floor((H + 2p - k)/s) + 1",
     "3, 5"),
    ("02_max_pooling", "Max pooling", "2x2 stride 2: size 1/2, channels unchanged, odd sizes", "1, 4, 5"),
    ("03_up_conv", "The up-conv", "transposed convolution: size x2, channels 1/2, scatter and sum", "1, 7"),
    ("04_copy_and_crop", "Copy and crop", "the center crops 64->56 ... 568->392 and concatenation", "8, 9"),
    ("05_the_1x1_head", "The 1x1 head", "channels -> classes, a per-pixel classifier, argmax", "10"),
    ("06_the_original_unet", "The original U-Net", "572x572x1 -> 388x388x2 layer by layer, valid sizes", "2, 5, 6, 9, 12"),
    ("07_same_padding_unet", "The same-padding U-Net", "Conv-BN-ReLU, output size = input size", "11"),
    ("08_training", "Training", "weighted loss, elastic deformation, train to Dice >= 0.95", "12"),
    ("09_overlap_tile", "Overlap-tile", "segment a large image seamlessly with the valid network", "12"),
]


def course_map_html() -> str:
    rows = "".join(f"<tr><td><a href='{nb}.ipynb'>{nb}</a></td><td><b>{html.escape(t)}</b></td>"
                   f"<td>{html.escape(what)}</td><td>{topics}</td></tr>" for nb, t, what, topics in LESSONS)
    return ("<table class='ul-course-map'><thead><tr><th>notebook</th><th>lesson</th><th>what you do</th>"
            f"<th>notes topics</th></tr></thead><tbody>{rows}</tbody></table>")


def network_io_view(input_size: int = 572, padding: str = "valid") -> View:
    """The whole U-Net as a black box: what goes in, what comes out (or why it cannot)."""
    try:
        out_h, out_w = output_size(input_size, padding=padding)
    except InvalidInputSize as e:
        return View(error=str(e), data={"input": input_size, "nearest_below": e.below, "nearest_above": e.above})
    t = shape_table(input_size, padding=padding)
    c, h, w = t.input_shape
    oc, oh, ow = t.output_shape
    text = (f"<div style='font-size:15px'>input <b>{h}×{w}×{c}</b> &rarr; U-Net ({html.escape(UNetOptions(padding=padding).describe())})"
            f" &rarr; segmentation map <b>{oh}×{ow}×{oc}</b></div>"
            f"<div>{'output smaller than input by ' + str(h - oh) + ' pixels' if oh != h else 'output size = input size'}"
            f"; {t.n_conv_layers} conv layers, {t.total_params:,} parameters.</div>")
    return View(html=text, data={"input": h, "output": oh, "params": t.total_params})


def controls():
    import ipywidgets as W

    return {"input_size": W.IntText(value=572, description="input size"),
            "padding": W.Dropdown(options=["valid", "same"], value="valid", description="padding")}


EX_OUTPUT = Exercise(
    "0.1", "The paper's network takes a 572x572 image. How large is its segmentation map (one side, in pixels)?",
    expected=lambda: output_size(572)[0],
    hint="try the widget above with 572 and valid padding; the notes' last line says it too (分割图).",
    explanation="the valid 3x3 convs trim 184 pixels in all, so 572 -> 388 (the notes: 'input & output 不同').")

EX_CHANNELS = Exercise(
    "0.2", "And how many channels does that map have (the notes: '# kernel = num_cls')?",
    expected=lambda: shape_table(572).output_shape[0],
    hint="one channel per class: foreground and background.",
    explanation="two classes, foreground and background (前景 / 背景), so two channels.")
