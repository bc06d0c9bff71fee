r"""The checker of lesson 09's code exercise: ``margin(depth)``, the overlap-tile margin per side of the
valid U-Net with ``depth`` max pools, against the real network.

For depths 1 to 5 the real number is measured: ``unet_lesson.UNet(depth=d, base_channels=1)`` runs on its
smallest valid input and the margin is ``(input - output) / 2``. Deeper networks are too large to run
in a check, so for depths 6 to 8 it is the package's traced sizes (which ``tests/test_unet.py`` checks
against real forward passes). A known slip (no bottom, one path only, every conv trimming one input
pixel, both sides together) is named when it agrees with every answer given.
"""

from __future__ import annotations

import functools

import torch

from . import solutions
from ._engine import Run, checker
from .sizes import _run_sizes

__all__ = ["check_margin", "MARGIN_CASES", "real_margin"]

#: the paper's depth first (the student's 92), then shallow to deep
MARGIN_CASES = ((4,), (1,), (2,), (3,), (5,), (6,), (7,), (8,))
#: the deepest network the checker runs for real (a 380x380 input, one base channel: milliseconds)
RUN_UP_TO_DEPTH = 5


@functools.lru_cache(maxsize=None)
def real_margin(depth: int) -> int:
    """The margin per side of the valid U-Net of ``depth``: measured by a forward pass up to depth 5."""
    from ...core.env import seeded
    from ...core.model import UNet
    from ...core.search import size_rule
    from ...core.shapes import output_size

    tile = size_rule(depth=depth).first  # the smallest valid input
    if depth > RUN_UP_TO_DEPTH:
        return (tile - output_size(tile, depth=depth)[0]) // 2
    with seeded(0), torch.no_grad():  # the weights do not matter, only the sizes; the student's RNG is untouched
        out = UNet(depth=depth, base_channels=1)(torch.zeros(1, 1, tile, tile)).shape[-1]
    return (tile - out) // 2


def _sum_levels(depth: int) -> int:
    """2 * (1 + 2 + ... + 2**(depth-1)): two convs per level, each trimming 2**level input pixels."""
    return 2 * (2**depth - 1)


_MARGIN_SLIPS = [
    (
        lambda d: 2 * _sum_levels(d),
        "the bottom: its two 3x3 convs work on a map 2**depth times smaller than the input, so they trim the "
        "most input pixels of all.",
    ),
    (
        lambda d: _sum_levels(d) + 2 * 2**d,
        "the expanding path's convs trim too: two at every level on the way up, as on the way down.",
    ),
    (
        lambda d: 2 * (2 * d + 1),
        "a conv deeper down trims one pixel of a smaller map: at level l one pixel is 2**l input pixels.",
    ),
    (
        lambda d: 2 * (2 * _sum_levels(d) + 2 * 2**d),
        "yours counts both sides together: the margin is per side, (input - output)/2.",
    ),
    (
        lambda d: _sum_levels(d) + 2**d,
        "each level has two 3x3 convs (a double conv), not one.",
    ),
]


@checker("the real U-Net", solutions.margin)
def check_margin(run: Run, margin) -> str:
    """Check ``margin(depth)`` against the real valid U-Net's (input - output)/2, depths 1 to 8."""
    _run_sizes(run, margin, MARGIN_CASES, real_margin, "depth", _MARGIN_SLIPS)
    return (
        f"all {len(MARGIN_CASES)} depths agree with the real U-Net: {real_margin(4)} for the paper's depth 4, "
        f"from {real_margin(1)} (depth 1) to {real_margin(8)} (depth 8). It depends on the depth only, never on "
        "the tile size."
    )
