r"""The knobs of a U-Net, as one frozen dataclass: :class:`UNetOptions`.

``UNetOptions()`` is the 2015 paper's layout (Fig. 1): one input channel, two classes, 64 channels
after the first double conv, four 2x2 max pools, valid 3x3 convolutions without batch norm, 2x2
up-convs, and a centre crop of every copied map. Every function that needs the network's layout
takes one (``shape_table(572, options)``, ``UNet(**...)`` builds ``model.options``), or the same knobs
as keywords (``shape_table(572, padding="same")``), checked here once::

    >>> o = UNetOptions(padding="same")
    >>> o.batch_norm, o.depth
    (True, 4)
    >>> o.replace(depth=3).describe()
    'same padding, depth 3, base 64 channels, batch norm'

``skips=False`` removes the skip connections (no copy and crop: the expanding path is fed only from
below), for the experiment that shows what they are for; every other setting keeps the paper's wiring.

Two settings change how the network is built but not its shapes or its parameter count:
``dropout`` (the paper's "drop-out layers at the end of the contracting path"; 0 = none, the
course's default) and ``init`` (``"pytorch"``: PyTorch's default initialisation, the course's
default; ``"he"``: the paper's Gaussian with standard deviation :math:`\sqrt{2/N}`, N the number
of inputs of one output unit, e.g. :math:`N = 9 \cdot 64 = 576` for a 3x3 conv over 64 channels).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from .parse import BadValue, choice, flag, real, whole

__all__ = ["UNetOptions", "options_of", "PADDINGS", "UP_MODES", "MISMATCHES", "INITS", "MAX_DEPTH"]

PADDINGS = {
    "valid": "the paper: no padding, every 3x3 conv trims 2 pixels, copy and crop",
    "same": "padding 1, every 3x3 conv keeps the size, output size = input size",
}
UP_MODES = {"upconv": "2x2 transposed conv with stride 2, the paper", "bilinear": "bilinear x2 followed by a 1x1 conv"}
MISMATCHES = {
    "error": "refuse an input size that leaves an odd map before a pool",
    "crop": "centre-crop the copied map to the expanding path's map",
    "pad": "zero-pad the expanding path's map up to the copied map (same padding only)",
}
INITS = {
    "pytorch": "PyTorch's default initialisation",
    "he": "the paper's Gaussian with std sqrt(2/N), N = inputs of one output unit",
}
#: the deepest U the options accept (2**8 = 256-pixel steps); building one is bounded separately
MAX_DEPTH = 8


class OptionError(BadValue):
    """A U-Net option that cannot work (a ``ValueError``); the message says which values would."""


@dataclass(frozen=True)
class UNetOptions:
    """The layout of a U-Net. The defaults are the paper's; see the module docstring.

    ``batch_norm=None`` means "the variant's usual choice": off for valid padding (the paper has
    none), on for same padding (the notes' modern Conv-BN-ReLU). After construction it is a bool.
    """

    in_channels: int = 1
    num_classes: int = 2
    base_channels: int = 64
    depth: int = 4
    padding: str = "valid"
    batch_norm: bool | None = None
    up_mode: str = "upconv"
    mismatch: str = "error"
    dropout: float = 0.0
    init: str = "pytorch"
    skips: bool = True

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        for name in ("in_channels", "num_classes", "base_channels"):
            put(name, whole(getattr(self, name), name, minimum=1, error=OptionError))
        put(
            "depth",
            whole(self.depth, "depth (the number of 2x2 max pools)", minimum=1, maximum=MAX_DEPTH, error=OptionError),
        )
        put("padding", choice(self.padding, "padding", PADDINGS, error=OptionError))
        if self.batch_norm is None:
            put("batch_norm", self.padding == "same")
        else:
            put("batch_norm", flag(self.batch_norm, "batch_norm", error=OptionError))
        put("up_mode", choice(self.up_mode, "up_mode", UP_MODES, error=OptionError))
        put("mismatch", choice(self.mismatch, "mismatch", MISMATCHES, error=OptionError))
        if self.mismatch == "pad" and self.padding == "valid":
            raise OptionError(
                "mismatch='pad' is for same padding: with valid padding the copied map is always "
                "larger, so it is cropped (use mismatch='crop' to allow odd sizes before a pool)."
            )
        put(
            "dropout",
            real(
                self.dropout,
                "dropout",
                minimum=0.0,
                maximum=0.99,
                error=OptionError,
                hint="the probability of zeroing a feature; the paper does not give its value, 0.5 is usual",
            ),
        )
        put("init", choice(self.init, "init", INITS, error=OptionError))
        put("skips", flag(self.skips, "skips", error=OptionError))

    # ---- derived facts ---------------------------------------------------------------
    @property
    def conv_padding(self) -> int:
        """The padding of every 3x3 conv: 0 (valid) or 1 (same)."""
        return 1 if self.padding == "same" else 0

    @property
    def channels(self) -> tuple[int, ...]:
        """Channels after each level's double conv, top first, the bottom last: (64, 128, 256, 512, 1024)."""
        return tuple(self.base_channels * 2**level for level in range(self.depth + 1))

    @property
    def grid(self) -> int:
        """``2**depth``: after ``depth`` 2x2 pools the network looks at its input on this pixel grid."""
        return 2**self.depth

    def replace(self, **changes) -> "UNetOptions":
        """A copy with some knobs changed (checked again)."""
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise OptionError(_unknown_message(unknown))
        if "padding" in changes and "batch_norm" not in changes:
            changes["batch_norm"] = None  # the new variant's usual choice, unless asked
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """Plain ``{name: value}`` (what a checkpoint stores; ``UNet(**d)`` rebuilds the same network)."""
        return {f: getattr(self, f) for f in FIELDS}

    def describe(self) -> str:
        """In words: ``'valid padding, depth 4, base 64 channels'`` (and what differs from the usual)."""
        parts = [f"{self.padding} padding", f"depth {self.depth}", f"base {self.base_channels} channels"]
        if self.batch_norm:
            parts.append("batch norm")
        if self.up_mode == "bilinear":
            parts.append("bilinear upsampling")
        if self.dropout:
            parts.append(f"dropout {self.dropout:g}")
        if self.init == "he":
            parts.append("He init")
        if not self.skips:
            parts.append("no skip connections")
        return ", ".join(parts)

    def __str__(self) -> str:
        return self.describe()


FIELDS = tuple(f.name for f in dataclasses.fields(UNetOptions))


def _unknown_message(unknown) -> str:
    return f"unknown U-Net option(s) {sorted(unknown)}; the options are {', '.join(FIELDS)}"


def options_of(options: UNetOptions | Mapping[str, Any] | None = None, /, **overrides) -> UNetOptions:
    """The options a function was given: an :class:`UNetOptions`, a plain mapping (e.g. a checkpoint's),
    or nothing (the paper's), each with keyword ``overrides`` applied."""
    if options is None:
        base: dict = {}
    elif isinstance(options, UNetOptions):
        if not overrides:
            return options
        return options.replace(**overrides)
    elif isinstance(options, Mapping):
        base = dict(options)
    else:
        raise OptionError(
            f"options must be a UNetOptions (e.g. model.options), got {type(options).__name__}: "
            "give the knobs as keywords instead, e.g. padding='same'"
        )
    merged = {**base, **overrides}
    unknown = set(merged) - set(FIELDS)
    if unknown:
        raise OptionError(_unknown_message(unknown))
    return UNetOptions(**merged)
