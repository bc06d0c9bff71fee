r"""Copy and crop in numbers: the crop at every level of a U-Net, why the copied map is larger, where the
copied map sits on the input, and the concatenation's shapes; read off :func:`~unet_lesson.core.shapes.shape_table`
and :func:`~unet_lesson.core.sizes.center_crop_box` (lesson 04 arranges them into views).

The crop's offset from the top is :math:`\lfloor (H_{copied} - H_{target}) / 2 \rfloor`; the four crops of the
paper's network at 572 are 568->392, 280->200, 136->104 and 64->56 (offsets 88, 40, 16, 4). Every function
answers any size at once (it is arithmetic); a size above :data:`LARGEST` gets a message.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .model import CropAndConcat
from .options import PADDINGS
from .parse import BadValue, choice, whole
from .shapes import InvalidInputSize, output_size, shape_table
from .sizes import center_crop_box

__all__ = [
    "LARGEST",
    "CONCAT_LIMIT",
    "CropLevel",
    "not_giant",
    "check_padding",
    "check_level",
    "crop_size",
    "crop_options",
    "crop_table",
    "crop_levels",
    "crop_ledger",
    "concat_shapes",
    "odd_input_message",
    "first_odd_pool",
    "input_position",
]

#: the largest value any view computes with: beyond it, a message (no image has a googol pixels)
LARGEST = 10**100
#: the crop-grid picture draws one square per pixel up to this size


@dataclass(frozen=True)
class CropLevel:
    """The copy and crop at one level of the U (level 1 = top)."""

    level: int
    channels: int  # channels of the copied map (= of the up-conv's map)
    source: tuple[int, int]  # copied (contracting-path) map, (H, W)
    target: tuple[int, int]  # expanding-path map = size after the crop, (H, W)
    top: int
    left: int
    bottom: int
    right: int
    formula: str

    @property
    def concat_channels(self) -> int:
        return 2 * self.channels

    @property
    def centered(self) -> bool:
        return self.top == self.bottom and self.left == self.right


def not_giant(value, name: str, hint: str = ""):
    """Refuse a whole number beyond :data:`LARGEST` (either sign) in words, before any message tries to print
    its digits (Python refuses to print more than 4300); anything else passes through unchanged."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > LARGEST:
        digits = int(abs(value).bit_length() * 0.30103) + 1
        raise BadValue(
            f"{name} has about {digits:,} digits: more than 10**100, the largest number the course computes with "
            f"(no feature map comes near it). {hint}".rstrip()
        )
    return value


_SIZES = "Valid sizes of the paper's network are 188 + 16k: 188, 204, ..., 572, 588."


def check_padding(padding: str) -> str:
    return choice(not_giant(padding, "padding"), "padding", PADDINGS)


def crop_size(value, name: str = "input size") -> int:
    """A size through the one parser, and no larger than :data:`LARGEST` (so every message can print it)."""
    n = whole(
        not_giant(value, name, _SIZES),
        name,
        minimum=1,
        unit="pixels",
        hint="A map needs at least one row and one column; the paper's network takes 188 + 16k: 188, 204, ..., 572.",
    )
    return n


def crop_options(padding: str, allow_odd: bool = False, depth: int = 4) -> dict:
    check_padding(padding)
    return dict(padding=padding, depth=depth, mismatch="crop" if allow_odd else "error")


def crop_table(input_size, **options):
    """:func:`shape_table`, after a clear message for a size beyond any image (one number or an (H, W) pair)."""
    for v in input_size if isinstance(input_size, (tuple, list)) else (input_size,):
        crop_size(v)
    return shape_table(input_size, **options)


def crop_levels(
    input_size=572, padding: str = "valid", allow_odd: bool = False, depth: int = 4, base_channels: int = 64
) -> list[CropLevel]:
    """The copy and crop at each level, top of the U first, from :func:`shape_table` and
    :func:`center_crop_box` (raises :class:`InvalidInputSize` for a size the network cannot take)."""
    table = crop_table(input_size, base_channels=base_channels, **crop_options(padding, allow_odd, depth))
    out = []
    for row in sorted(table.where(kind="crop"), key=lambda r: r.level):
        box = center_crop_box(row.in_shape[1:], row.out_shape[1:])
        out.append(
            CropLevel(
                row.level,
                row.in_shape[0],
                box.source,
                box.target,
                box.top,
                box.left,
                box.bottom,
                box.right,
                box.explain().text,
            )
        )
    return out


def crop_ledger(level: int, input_size=572, padding: str = "valid") -> list[tuple[str, int, int]]:
    """What happens to the size between the copy at ``level`` and the crop at the same level.

    Returns ``(operation, size in, size out)`` for every layer from that level's pool down the U
    and back up to its up-conv, read off :func:`shape_table`. With valid padding each 3x3 conv
    on that detour loses 2 pixels, and the up-convs double every loss on the way back, so the
    expanding path's map arrives smaller than the copied one.
    """
    table = crop_table(input_size, **crop_options(padding))
    check_level(level, table.options.depth)
    start = next(r.index for r in table.where(kind="pool", level=level))
    end = next(r.index for r in table.where(kind="up", level=level))
    return [
        (
            f"{r.operation} ({r.path}{'' if r.path == 'bottom' else ', level ' + str(r.level)})",
            r.in_shape[1],
            r.out_shape[1],
        )
        for r in table.rows[start - 1 : end]
        if r.kind in ("conv", "pool", "up")
    ]


def check_level(level, depth: int = 4) -> int:
    return whole(
        not_giant(level, "level"),
        "level",
        minimum=1,
        maximum=depth,
        hint=f"1 is the top of the U, where the 568 map is copied; {depth} the deepest copy, 64x64x512 in the paper.",
    )


#: the largest copied map concat_shapes builds in memory (values; 8 MB of float32: the notes' 64x64x512)
CONCAT_LIMIT = 2**21


@torch.no_grad()
def concat_shapes(skip_size: int = 64, up_size: int = 56, channels: int = 512) -> dict:
    """Run the model's real ``CropAndConcat`` on a copied map and an up-conv map (of zeros).

    Returns the three shapes as the notes write them (H, W, C): the copied map, the up-conv's
    map and the concatenation, e.g. 64x64x512 + 56x56x512 -> 56x56x1024, and ``how``. Beyond
    ``CONCAT_LIMIT`` values the maps are not built: the shapes come from the crop box and the
    channel sum, and ``how`` says so.
    """
    skip_size, up_size = crop_size(skip_size, "skip_size"), crop_size(up_size, "up_size")
    channels = whole(not_giant(channels, "channels"), "channels", minimum=1)
    not_giant(channels, "channels")
    box = center_crop_box(skip_size, up_size)  # explains a skip smaller than the up map
    if channels * skip_size * skip_size <= CONCAT_LIMIT:
        skip = torch.zeros(1, channels, skip_size, skip_size)
        x = torch.zeros(1, channels, up_size, up_size)
        out = CropAndConcat()(x, skip)
        notes = lambda t: (t.shape[2], t.shape[3], t.shape[1])  # noqa: E731 - (H, W, C)
        return {"copied": notes(skip), "up": notes(x), "concat": notes(out), "box": box, "how": "real CropAndConcat"}
    return {
        "copied": (skip_size, skip_size, channels),
        "up": (up_size, up_size, channels),
        "concat": (box.height, box.width, 2 * channels),
        "box": box,
        "how": f"not run: the copied map would hold {channels * skip_size * skip_size:,} values, more than the "
        f"{CONCAT_LIMIT:,} this lesson builds; the shapes come from the crop box and the channel sum",
    }


def odd_input_message(input_size: int = 573, padding: str = "valid") -> str:
    """The message the network gives for a size with an odd map before a pool ('' if it is valid)."""
    try:
        output_size(input_size, **crop_options(padding))
    except InvalidInputSize as e:
        return str(e)
    return ""


def input_position(level: int, input_size=572, padding: str = "valid", allow_odd: bool = False) -> tuple[float, int]:
    """Where the copied map at ``level`` sits on the input image: pixel ``p`` of the copied map is
    centred on input coordinate ``start + p * jump`` (returns ``(start, jump)``).

    Read off the contracting-path rows of :func:`shape_table`: a 3x3 conv with padding ``p``
    moves the start by ``(1 - p)`` steps, a 2x2 pool by half a step and doubles the step.
    """
    table = crop_table(input_size, **crop_options(padding, allow_odd))
    check_level(level, table.options.depth)
    pad = 1 if padding == "same" else 0
    start, jump = 0.0, 1
    for r in table.rows:
        if r.path != "contracting" or r.level > level or (r.level == level and r.kind == "pool"):
            continue
        if r.kind == "conv":
            start += (1 - pad) * jump
        elif r.kind == "pool":
            start += 0.5 * jump
            jump *= 2
    return start, jump


def first_odd_pool(input_size: int = 574) -> int:
    """The first odd map that meets a 2x2 max pool, read off the shape table (mismatch='crop' lets it through)."""
    table = crop_table(input_size, mismatch="crop")
    return next(r.in_shape[1] for r in table.where(kind="pool") if r.in_shape[1] % 2)
