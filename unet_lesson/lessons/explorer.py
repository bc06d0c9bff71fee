"""The explorer page (``notebooks/explorer.ipynb``, also served by Voila): every knob of the U-Net on one page.

The widget itself is :mod:`unet_lesson.ui.explorer` (lessons 06 and 07 show it too); this module declares
the page in the lesson contract, so it appears in the course map, the README and the browser tests.
"""

from __future__ import annotations

from ..ui import explorer
from ..ui.course import Lesson

__all__ = ["LESSON", "WIDGETS", "EXERCISES"]

LESSON = Lesson(
    None,
    "explorer",
    "The explorer",
    minutes=10,
    topics=(2, 11),
    summary="every knob of the network on one page (also a standalone Voila page)",
)

WIDGETS = {"explorer": explorer.widget(feature_maps=True)}

EXERCISES: list = []
