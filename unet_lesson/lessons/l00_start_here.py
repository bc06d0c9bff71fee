"""Lesson 00 (start here): the course map, the whole network's input and output, and a first exercise."""

from __future__ import annotations

import html

from ..core.options import UNetOptions
from ..core.shapes import output_size, shape_table
from ..ui.course import Lesson, course_map_html
from ..ui.exercises import Exercise
from ..ui.widgets import View, Widget

__all__ = ["LESSON", "WIDGETS", "EXERCISES", "network_io_view", "controls", "course_map", "EX_OUTPUT", "EX_CHANNELS"]

LESSON = Lesson(
    0,
    "00_start_here",
    "Start here",
    minutes=20,
    topics=(1, 2, 12),
    summary="the course map, how widgets and exercises work, the glossary of the notes' terms, an environment check",
)


def course_map() -> str:
    """The course map: every lesson's notebook, title, time, what you do and the notes' topics."""
    from . import lessons

    return course_map_html(lessons())


def network_io_view(input_size: int = 572, padding: str = "valid") -> View:
    """The whole U-Net as a black box: what goes in, what comes out (an impossible size raises
    :class:`~unet_lesson.InvalidInputSize`, saying where it breaks and the nearest sizes that work)."""
    t = shape_table(input_size, padding=padding)
    c, h, w = t.input_shape
    oc, oh, ow = t.output_shape
    text = (
        f"<div style='font-size:15px'>input <b>{h}×{w}×{c}</b> &rarr; "
        f"U-Net ({html.escape(UNetOptions(padding=padding).describe())})"
        f" &rarr; segmentation map <b>{oh}×{ow}×{oc}</b></div>"
        f"<div>{'output smaller than input by ' + str(h - oh) + ' pixels' if oh != h else 'output size = input size'}"
        f"; {t.n_conv_layers} conv layers, {t.total_params:,} parameters.</div>"
    )
    return View(html=text, data={"input": h, "output": oh, "params": t.total_params})


def controls():
    import ipywidgets as W

    return {
        "input_size": W.IntText(value=572, description="input size"),
        "padding": W.Dropdown(options=["valid", "same"], value="valid", description="padding"),
    }


WIDGETS = {"start": Widget(network_io_view, controls, css="ul-start", title="The whole U-Net as a black box")}


EX_OUTPUT = Exercise(
    "0.1",
    "The paper's network takes a 572x572 image. How large is its segmentation map (one side, in pixels)?",
    expected=lambda: output_size(572)[0],
    hint="try the widget above with 572 and valid padding; the notes' last line says it too (分割图).",
    explanation="the valid 3x3 convs trim 184 pixels in all, so 572 -> 388 (the notes: 'input & output 不同').",
)

EX_CHANNELS = Exercise(
    "0.2",
    "And how many channels does that map have (the notes: '# kernel = num_cls')?",
    expected=lambda: shape_table(572).output_shape[0],
    hint="one channel per class: foreground and background.",
    explanation="two classes, foreground and background (前景 / 背景), so two channels.",
)

EXERCISES = [EX_OUTPUT, EX_CHANNELS]
