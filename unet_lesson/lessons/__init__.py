"""One module per notebook: ``lNN_<topic>`` for ``notebooks/NN_<topic>.ipynb``, and ``explorer``.

Each module follows the same contract (:mod:`unet_lesson.ui.course`, checked by ``tests/test_lessons.py``):

* ``LESSON``: a :class:`~unet_lesson.ui.course.Lesson` (notebook, title, minutes, the notes' topics), read
  with the exercises' words from ``text/NN_topic.toml`` (:mod:`._text`: prose in the text file, code here);
* ``WIDGETS``: ``{name: Widget}``, each a view (plain function, tested without a browser), a factory of
  controls, a CSS class; a view raises ``ValueError`` for a setting that cannot work and the widget
  layer shows the message;
* ``EXERCISES``: every exercise of the lesson, each named ``EX_...`` with a key ``"<lesson>.<n>"``.

The notebook explains and calls its module; the module arranges what the lower layers compute.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MODULES", "modules", "lessons"]

#: the lesson modules, in the order of the course
MODULES = (
    "l00_start_here",
    "l01_convolution_sizes",
    "l02_max_pooling",
    "l03_up_conv",
    "l04_copy_and_crop",
    "l05_the_1x1_head",
    "l06_the_original_unet",
    "l07_same_padding_unet",
    "l08_training",
    "l09_overlap_tile",
    "explorer",
)


def modules() -> list[ModuleType]:
    """Every lesson module, imported, in course order."""
    return [importlib.import_module(f"{__name__}.{name}") for name in MODULES]


def lessons():
    """Every lesson's :class:`~unet_lesson.ui.course.Lesson`, in course order."""
    return [m.LESSON for m in modules()]
