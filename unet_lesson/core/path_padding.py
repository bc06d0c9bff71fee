r"""A U-Net's sizes with a padding per path: the notes' typed recipe, worked through (lesson 07).

The notes' typed summary improves U-Net by giving the 3x3 convs of "steps 2 and 3" (the bottom and the
expanding path) padding 1, and says that the centre crop can then be left out. :func:`padding_trace`
follows one side of such a network with the size formulas of :mod:`unet_lesson.core.sizes`, with a padding
of 0 or 1 for each path::

    >>> t = padding_trace(572, **RECIPE)       # contracting 0, bottom 1, expanding 1
    >>> t.crops                                # (copied, kept), top level first
    [(568, 512), (280, 256), (136, 128), (64, 64)]
    >>> t.output
    512

So only the deepest crop goes. With 0 everywhere it is the paper's network, with 1 everywhere the
same-padding one: the tests compare both with :func:`~unet_lesson.core.shapes.shape_table`, and the recipe
with a real forward pass of a network built that way (``unet_lesson.lessons.l07_same_padding_unet.recipe_unet``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .parse import whole
from .sizes import LayerSizeError, conv_out, pool_out, up_conv_out

__all__ = ["RECIPE", "LevelTrace", "PaddingTrace", "padding_trace"]

#: the typed summary's improvement: 3x3 convs with padding 1 in step 2 (the bottom) and step 3 (the expanding path)
RECIPE = {"contracting": 0, "bottom": 1, "expanding": 1}


@dataclass(frozen=True)
class LevelTrace:
    """One level of the expanding path: the copied map, the up-conv's output, what the crop keeps, the convs' output."""

    level: int
    copied: int
    up: int
    kept: int
    out: int

    @property
    def cuts(self) -> bool:
        return self.copied != self.kept


@dataclass(frozen=True)
class PaddingTrace:
    """The sizes along one side of a U-Net whose 3x3 convs have a padding per path (see :func:`padding_trace`)."""

    input_size: int
    padding: dict
    contracting: tuple  # every size along the contracting path, the input first, the bottom's input last
    bottom: tuple  # the bottom's two convs
    levels: tuple  # LevelTrace, the deepest level first (the order the data flows)
    output: int

    @property
    def crops(self) -> list[tuple[int, int]]:
        """(copied, kept) from the top of the U down, as :attr:`ShapeTable.crops` lists them."""
        return [(lv.copied, lv.kept) for lv in sorted(self.levels, key=lambda lv: lv.level)]

    @property
    def cutting(self) -> int:
        """How many copy-and-crops still cut pixels."""
        return sum(lv.cuts for lv in self.levels)

    def walk(self) -> str:
        c = " → ".join(map(str, self.contracting))
        b = " → ".join(map(str, self.bottom))
        up = " | ".join(
            f"↑ {lv.up} (copy {lv.copied}{' → crop ' + str(lv.kept) if lv.cuts else ', no crop'}) → {lv.out}"
            for lv in self.levels
        )
        return f"{c} | bottom {b} | {up} | output {self.output}"


def padding_trace(input_size=572, contracting=0, bottom=1, expanding=1, depth=4) -> PaddingTrace:
    """The sizes of a U-Net whose 3x3 convs have padding ``contracting`` on the contracting path, ``bottom`` at the
    bottom and ``expanding`` on the expanding path (0: valid, 1: same), by size arithmetic
    (:mod:`unet_lesson.core.sizes`: the formulas tested against nn.Conv2d, nn.MaxPool2d, nn.ConvTranspose2d).

    ``padding_trace(572)`` is the notes' typed recipe (:data:`RECIPE`); all 0 is the paper's network and all 1
    the same-padding one (the tests compare both with :func:`~unet_lesson.shape_table`, and the recipe with a
    real forward pass of :func:`recipe_unet`). A pool floors an odd size (PyTorch's default); an up-conv map
    larger than its copy cannot be cropped and raises ``ValueError``, as does a map too small for a conv.
    """
    n = whole(input_size, "input size", minimum=1, unit="pixels")
    depth = whole(depth, "depth", minimum=1, maximum=8)
    pads = {
        k: whole(v, f"padding of the {k} path", minimum=0, maximum=1)
        for k, v in (("contracting", contracting), ("bottom", bottom), ("expanding", expanding))
    }

    def conv(x, where):
        try:
            return conv_out(x, kernel=3, padding=pads[where])
        except LayerSizeError:
            raise ValueError(f"the map is only {x} pixels at the {where} path: too small for a 3x3 conv") from None

    sizes, copies, x = [n], [], n
    for _ in range(depth):
        x1 = conv(x, "contracting")
        x = conv(x1, "contracting")
        sizes += [x1, x]
        copies.append(x)
        if x < 2:
            raise ValueError(f"the map is only {x} pixel wide before a 2x2 pool")
        x = pool_out(x)
        sizes.append(x)
    b1 = conv(x, "bottom")
    b2 = conv(b1, "bottom")
    x, levels = b2, []
    for level in range(depth, 0, -1):
        up = up_conv_out(x)
        copied = copies[level - 1]
        if up > copied:
            raise ValueError(
                f"at level {level} the up-conv's map ({up}) is larger than the copied map ({copied}): "
                "no crop can fix it"
            )
        x = conv(conv(up, "expanding"), "expanding")
        levels.append(LevelTrace(level, copied, up, up, x))
    return PaddingTrace(n, pads, tuple(sizes), (b1, b2), tuple(levels), x)
