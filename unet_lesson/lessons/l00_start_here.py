"""Lesson 00 (start here): the course map, the whole network's input and output, and a first prediction.

The experiment of this lesson checks the paper's sentence "Due to the unpadded convolutions, the output
image is smaller than the input by a constant border width" (Sect. 3) on real forward passes.
"""

from __future__ import annotations

import html
from itertools import islice

import torch

from ..core.env import cpu_threads, seeded
from ..core.model import UNet
from ..core.options import UNetOptions
from ..core.parse import choice, whole
from ..core.shapes import output_size, shape_table
from ..ui.course import course_map_html
from ..ui.exercises import whole_reading
from ..ui.tables import html_table
from ..ui.widgets import View, Widget, number_box
from ._text import lesson_text

TEXT = lesson_text(__name__)

__all__ = [
    "LESSON",
    "WIDGETS",
    "EXERCISES",
    "MAX_PIXELS",
    "network_io_view",
    "border_view",
    "controls",
    "course_map",
    "EX_OUTPUT",
    "EX_CHANNELS",
]

LESSON = TEXT.lesson

#: border_view runs real forward passes while the inputs hold at most this many pixels together
MAX_PIXELS = 600_000


def course_map() -> str:
    """The course map: every lesson's notebook, title, time, what you do and the notes' topics."""
    from . import lessons

    return course_map_html(lessons())


def network_io_view(input_size: int = 572, padding: str = "valid") -> View:
    """The whole U-Net as a black box: what goes in, what comes out (an impossible size raises
    :class:`~unet_lesson.InvalidInputSize`, saying where it breaks and the nearest sizes that work).
    Arithmetic only (the shape table), so any size answers at once."""
    padding = choice(padding, "padding", ("valid", "same"))
    t = shape_table(input_size, padding=padding)
    c, h, w = t.input_shape
    oc, oh, ow = t.output_shape
    text = (
        f"<div style='font-size:15px'>input <b>{h}×{w}×{c}</b> &rarr; "
        f"U-Net ({html.escape(UNetOptions(padding=padding).describe())})"
        f" &rarr; segmentation map <b>{oh}×{ow}×{oc}</b></div>"
        f"<div>{'output smaller than input by ' + str(h - oh) + ' pixels' if oh != h else 'output size = input size'}"
        f"; {t.n_conv_layers} conv layers, {t.total_params:,} parameters (computed; the paper gives no count).</div>"
    )
    return View(html=text, data={"input": h, "output": oh, "params": t.total_params})


def controls():
    import ipywidgets as W

    return {
        "input_size": number_box(572, "input size"),
        "padding": W.Dropdown(options=["valid", "same"], value="valid", description="padding"),
    }


WIDGETS = {"start": Widget(network_io_view, controls, css="ul-start", title="The whole U-Net as a black box")}


# ------------------------------------------------------------------------------------------
# the experiment: "smaller than the input by a constant border width"
# ------------------------------------------------------------------------------------------
def border_view(sizes=(188, 380, 572)) -> View:
    """Real forward passes through the paper's layout (depth 4, valid padding) with one base channel (sizes do
    not depend on the channels): for each input size, the output size and the border it lost.

    The shape table answers every size; the real network runs while the inputs hold at most ``MAX_PIXELS``
    pixels together (one base channel: about a second on a laptop CPU). ``data``: ``sizes``, ``outputs`` (the
    real network's, or the table's when not run), ``borders`` (input - output), ``ran``."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
        raise ValueError(f"sizes must be a few whole numbers, e.g. (188, 380, 572); got {sizes!r}.")
    sizes = tuple(islice(sizes, 7))  # at most one more than allowed: an endless iterable is refused, not read
    if not 1 <= len(sizes) <= 6:
        got = "more than 6" if len(sizes) > 6 else len(sizes)
        raise ValueError(f"give 1 to 6 sizes, e.g. (188, 380, 572); got {got}.")
    sizes = tuple(whole(s, "each size", minimum=1) for s in sizes)
    table_out = [output_size(s)[0] for s in sizes]  # raises InvalidInputSize for a size the network cannot take
    ran = sum(s * s for s in sizes) <= MAX_PIXELS
    outputs = table_out
    if ran:
        with seeded(0):  # the weights do not matter for the sizes; they must not come from the student's RNG
            net = UNet(base_channels=1).eval()
        with torch.no_grad(), cpu_threads(1):
            outputs = [int(net(torch.zeros(1, 1, s, s)).shape[-1]) for s in sizes]
    borders = [s - o for s, o in zip(sizes, outputs)]
    rows = [(f"{s}×{s}", f"{o}×{o}", b, (b // 2)) for s, o, b in zip(sizes, outputs, borders)]
    how = "a real forward pass" if ran else f"the shape table (not run: more than {MAX_PIXELS:,} input pixels)"
    html_ = html_table(["input", f"output ({how})", "input - output", "border per side"], rows, mono=(0, 1, 2, 3))
    return View(
        html=html_,
        data={"sizes": sizes, "outputs": tuple(outputs), "borders": tuple(borders), "ran": ran},
    )


# ------------------------------------------------------------------------------------------
# exercises
# ------------------------------------------------------------------------------------------
def _output_hint(answer) -> str:
    n = whole_reading(answer)
    if n is None:
        return "give one whole number: the side of the square output map, in pixels."
    if n == 572:
        return "that would be same padding (lesson 07); the paper's convs are valid: '输入 & 输出不同'."
    if n > 572:
        return "the output is smaller than the input: every valid 3×3 conv trims the map (lesson 01)."
    if n in (570, 568):
        return "that is after one or two of the network's convs; there are many more, and pools and up-convs."
    return ""


EX_OUTPUT = TEXT.exercise("0.1", expected=lambda: output_size(572)[0], hint=_output_hint)


def _channels_hint(answer) -> str:
    n = whole_reading(answer)
    if n == 64:
        return "64 is the map before the last layer; the last 1×1 conv makes one channel per class."
    if n == 1:
        return "one channel would hold one number per pixel; the network gives one score per class."
    return ""


EX_CHANNELS = TEXT.exercise("0.2", expected=lambda: shape_table(572).output_shape[0], hint=_channels_hint)

EXERCISES = [EX_OUTPUT, EX_CHANNELS]
