"""Per-lesson logic: each lesson's view functions (its widgets' brains) and exercises.

One module per lesson; a notebook imports its own, e.g. ``from unet_lesson.lessons import l01_convolution_sizes as conv``.
Every function here is plain Python, unit-tested in ``tests/`` without a browser.
"""
