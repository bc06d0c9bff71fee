"""The explorer page (``notebooks/explorer.ipynb``, also served by Voila): every knob of the U-Net on one page.

The widget itself is :mod:`unet_lesson.ui.explorer` (lessons 06 and 07 show it too); this module declares
the page in the lesson contract, so it appears in the course map, the README and the browser tests.
"""

from __future__ import annotations

from ..ui import explorer
from ._text import lesson_text

TEXT = lesson_text(__name__)

__all__ = ["LESSON", "WIDGETS", "EXERCISES"]

LESSON = TEXT.lesson

WIDGETS = {"explorer": explorer.widget(feature_maps=True)}

EXERCISES: list = []
