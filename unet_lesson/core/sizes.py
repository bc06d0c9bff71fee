r"""Size arithmetic for the layers of a U-Net, exactly as PyTorch computes it.

Every function here is a pure integer function, tested against the real layer
(``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.ConvTranspose2d``) over a property-based
range of sizes, kernels, strides and paddings.  Each one can also *explain* itself
with the numbers substituted, so a lesson shows the formula, not just the result::

    >>> conv_out(572)
    570
    >>> print(conv_out.explain(572))
    570 = (572 + 2*0 - 3)/1 + 1

The formulas (per spatial dimension, ``H`` the input size):

* convolution: :math:`H_{out} = \left\lfloor \frac{H + 2p - d(k-1) - 1}{s} \right\rfloor + 1`
* max pooling: the same, with :math:`\lceil\cdot\rceil` instead of :math:`\lfloor\cdot\rfloor`
  when ``ceil_mode=True`` (and a last window that must start inside the input)
* transposed convolution ("up-conv"):
  :math:`H_{out} = (H - 1)s - 2p + d(k-1) + p_{out} + 1`

An impossible layer (an output of zero or less, a padding larger than PyTorch
allows, ...) raises :class:`LayerSizeError`, a ``ValueError`` whose message says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .parse import BadValue, flag, size_pair, whole

__all__ = [
    "LayerSizeError",
    "Formula",
    "CropBox",
    "conv_out",
    "pool_out",
    "up_conv_out",
    "center_crop_box",
]


class LayerSizeError(BadValue):
    """A layer cannot be applied to a map of this size (the message says why)."""


@dataclass(frozen=True)
class Formula:
    """A size formula with its numbers substituted.

    ``str(f)`` reads like the notes: ``"570 = (572 + 2*0 - 3)/1 + 1"``;
    ``f.general`` is the rule in symbols; ``f.latex`` is for Markdown/MathJax.
    """

    result: int
    text: str
    general: str
    latex: str

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.text

    def __int__(self) -> int:
        return self.result

    def _repr_html_(self) -> str:
        return f"<code>{self.text}</code>"


def _check_int(name: str, value, minimum: int) -> int:
    """Sizes and hyper-parameters are whole numbers (the one parser, :mod:`unet_lesson.core.parse`)."""
    return whole(value, name, minimum=minimum, error=LayerSizeError)


def _effective_kernel(kernel: int, dilation: int) -> int:
    return dilation * (kernel - 1) + 1


# --------------------------------------------------------------------------
# 3x3 (or any) convolution
# --------------------------------------------------------------------------
def conv_out(size: int, kernel: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    r"""Output size of ``nn.Conv2d`` along one dimension.

    .. math:: H_{out} = \left\lfloor \frac{H + 2p - d(k-1) - 1}{s} \right\rfloor + 1

    ``padding`` is *per side*: ``padding=1`` adds one row on top and one at the bottom.
    The U-Net paper's 3x3 "valid" conv (k=3, s=1, p=0) gives ``H - 2``.
    """
    return _conv(size, kernel, stride, padding, dilation).result


def _conv(size, kernel=3, stride=1, padding=0, dilation=1) -> Formula:
    size = _check_int("size", size, 1)
    kernel = _check_int("kernel", kernel, 1)
    stride = _check_int("stride", stride, 1)
    padding = _check_int("padding", padding, 0)
    dilation = _check_int("dilation", dilation, 1)
    k_eff = _effective_kernel(kernel, dilation)
    padded = size + 2 * padding
    if padded < k_eff:
        what = f"the {kernel}x{kernel} kernel" + (f" (dilated to {k_eff}x{k_eff})" if dilation > 1 else "")
        raise LayerSizeError(
            f"A {size}-pixel map padded by {padding} on each side is {padded} pixels wide, "
            f"smaller than {what}: there is no position where the kernel fits, so the output "
            f"would be empty. Use an input of at least {k_eff - 2 * padding} or more padding."
        )
    out = (padded - k_eff) // stride + 1
    if dilation == 1:
        inner = f"{size} + 2*{padding} - {kernel}"
    else:
        inner = f"{size} + 2*{padding} - {dilation}*({kernel}-1) - 1"
    exact = (padded - k_eff) % stride == 0
    if stride == 1 or exact:
        text = f"{out} = ({inner})/{stride} + 1"
    else:
        text = f"{out} = floor(({inner})/{stride}) + 1"
    general = "H_out = floor((H + 2p - d*(k-1) - 1)/s) + 1" if dilation != 1 else "H_out = floor((H + 2p - k)/s) + 1"
    num_tex = (
        f"{size} + 2\\cdot{padding} - {kernel}"
        if dilation == 1
        else f"{size} + 2\\cdot{padding} - {dilation}\\cdot({kernel}-1) - 1"
    )
    latex = rf"{out} = \left\lfloor \frac{{{num_tex}}}{{{stride}}} \right\rfloor + 1"
    return Formula(out, text, general, latex)


# --------------------------------------------------------------------------
# 2x2 max pooling
# --------------------------------------------------------------------------
def pool_out(
    size: int, kernel: int = 2, stride: int | None = 2, padding: int = 0, ceil_mode: bool = False, dilation: int = 1
) -> int:
    r"""Output size of ``nn.MaxPool2d`` along one dimension.

    .. math:: H_{out} = \left\lfloor \frac{H + 2p - d(k-1) - 1}{s} \right\rfloor + 1

    (ceiling instead of floor with ``ceil_mode=True``; PyTorch then drops a last
    window that would start in the right padding). Pooling has no weights: the
    channel count passes through unchanged. 2x2, stride 2 halves the size; an odd
    size loses its last row (floor) or gets a half window (ceil).
    """
    return _pool(size, kernel, stride, padding, ceil_mode, dilation).result


def _pool(size, kernel=2, stride=2, padding=0, ceil_mode=False, dilation=1) -> Formula:
    if stride is None:
        stride = kernel
    size = _check_int("size", size, 1)
    kernel = _check_int("kernel", kernel, 1)
    stride = _check_int("stride", stride, 1)
    padding = _check_int("padding", padding, 0)
    dilation = _check_int("dilation", dilation, 1)
    ceil_mode = flag(ceil_mode, "ceil_mode", error=LayerSizeError)
    if padding > kernel // 2:
        raise LayerSizeError(
            f"Pooling padding {padding} is more than half the kernel ({kernel}): PyTorch "
            f"refuses it, since a window could then lie entirely in the padding. "
            f"Use padding at most {kernel // 2}."
        )
    k_eff = _effective_kernel(kernel, dilation)
    num = size + 2 * padding - k_eff
    # exactly PyTorch's pooling_output_shape: floor division, or ceiling with a last
    # window that must start inside the input (or its left padding)
    if ceil_mode:
        out = (num + stride - 1) // stride + 1
        if (out - 1) * stride >= size + padding:
            out -= 1
    else:
        out = num // stride + 1
    if out <= 0:
        raise LayerSizeError(
            f"A {size}-pixel map is smaller than the {kernel}x{kernel} pooling window"
            f"{' plus padding' if padding else ''}: the output would be empty. "
            f"Use an input of at least {k_eff - 2 * padding}"
            f"{' or ceil_mode=True' if not ceil_mode and stride > 1 else ''}."
        )
    inner = (
        f"{size} + 2*{padding} - {kernel}" if dilation == 1 else f"{size} + 2*{padding} - {dilation}*({kernel}-1) - 1"
    )
    fn = "ceil" if ceil_mode else "floor"
    exact = num % stride == 0
    text = f"{out} = ({inner})/{stride} + 1" if exact else f"{out} = {fn}(({inner})/{stride}) + 1"
    general = f"H_out = {fn}((H + 2p - k)/s) + 1"
    lf, rf_ = (r"\left\lceil", r"\right\rceil") if ceil_mode else (r"\left\lfloor", r"\right\rfloor")
    latex = rf"{out} = {lf} \frac{{{size} + 2\cdot{padding} - {kernel}}}{{{stride}}} {rf_} + 1"
    return Formula(out, text, general, latex)


# --------------------------------------------------------------------------
# 2x2 up-conv (transposed convolution)
# --------------------------------------------------------------------------
def up_conv_out(
    size: int, kernel: int = 2, stride: int = 2, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    r"""Output size of ``nn.ConvTranspose2d`` along one dimension.

    .. math:: H_{out} = (H - 1)s - 2p + d(k-1) + p_{out} + 1

    U-Net's 2x2 up-conv with stride 2 doubles the size: ``(H-1)*2 + 2 = 2H``.
    """
    return _up(size, kernel, stride, padding, output_padding, dilation).result


def _up(size, kernel=2, stride=2, padding=0, output_padding=0, dilation=1) -> Formula:
    size = _check_int("size", size, 1)
    kernel = _check_int("kernel", kernel, 1)
    stride = _check_int("stride", stride, 1)
    padding = _check_int("padding", padding, 0)
    output_padding = _check_int("output_padding", output_padding, 0)
    dilation = _check_int("dilation", dilation, 1)
    if output_padding >= stride and output_padding >= dilation:
        most = max(stride, dilation) - 1
        raise LayerSizeError(
            f"output_padding ({output_padding}) must be smaller than the stride ({stride}) or the dilation "
            f"({dilation}). It only adds the extra rows that a stride-{stride} conv may have floored away, so it "
            f"can be at most {most}" + (" (with stride 1 there is nothing to add: use 0)." if most == 0 else ".")
        )
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out <= 0:
        full = out + 2 * padding
        k_term = f"{kernel}" if dilation == 1 else f"{dilation}*({kernel}-1) + 1"
        raise LayerSizeError(
            f"padding {padding} empties the output: the copies of the kernel cover {full} pixels "
            f"(= ({size} - 1)*{stride} + {k_term}"
            + (f" + {output_padding}" if output_padding else "")
            + f"), and trimming {padding} from each side leaves {out}. Use padding at most {(full - 1) // 2}."
        )
    k_term = f"{kernel}" if dilation == 1 else f"{dilation}*({kernel}-1) + 1"
    text = f"{out} = ({size} - 1)*{stride} - 2*{padding} + {k_term}"
    if output_padding:
        text += f" + {output_padding}"
    general = "H_out = (H - 1)*s - 2p + k + output_padding"
    latex = rf"{out} = ({size} - 1)\cdot{stride} - 2\cdot{padding} + {kernel}" + (
        rf" + {output_padding}" if output_padding else ""
    )
    return Formula(out, text, general, latex)


# --------------------------------------------------------------------------
# copy and crop: the centre crop of a contracting-path map
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class CropBox:
    """Where a ``target`` window sits inside a larger ``source`` map (centre crop).

    ``top``/``left`` are the offsets of the kept window, ``bottom``/``right`` the rows and
    columns cut away on the far sides.  ``source[..., top:top+height, left:left+width]``
    is the crop.  When the difference is odd, the extra row/column is cut at the
    bottom/right (the crop cannot be centred to half a pixel).
    """

    source: tuple[int, int]
    target: tuple[int, int]
    top: int
    left: int

    @property
    def height(self) -> int:
        return self.target[0]

    @property
    def width(self) -> int:
        return self.target[1]

    @property
    def bottom(self) -> int:
        return self.source[0] - self.top - self.height

    @property
    def right(self) -> int:
        return self.source[1] - self.left - self.width

    @property
    def centered(self) -> bool:
        """True when as much is cut on each side as on the opposite side."""
        return self.top == self.bottom and self.left == self.right

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)

    def explain(self) -> Formula:
        (sh, sw), (th, tw) = self.source, self.target
        if (sh, sw) == (th, tw):
            text = f"{sh}x{sw} already equals {th}x{tw}: nothing to crop"
        else:
            text = (
                f"offset = ({sh} - {th})//2 = {self.top}: keep rows {self.top}..{self.top + th - 1}"
                + ("" if (sh, th) == (sw, tw) else f", columns {self.left}..{self.left + tw - 1}")
                + f" of {sh}"
                + ("" if sh == sw else f"x{sw}")
                + (f" ({self.top} cut on top, {self.bottom} at the bottom)" if self.top != self.bottom else "")
            )
        return Formula(
            th,
            text,
            "offset = (H_src - H_dst) // 2",
            rf"\text{{offset}} = \lfloor ({sh} - {th}) / 2 \rfloor = {self.top}",
        )


def center_crop_box(source, target) -> CropBox:
    """The centre-crop box of a ``source`` map (int or (H, W)) onto a smaller ``target``.

    >>> b = center_crop_box(64, 56); (b.top, b.left, b.bottom, b.right)
    (4, 4, 4, 4)
    """
    (sh, sw), (th, tw) = (
        size_pair(source, "source", error=LayerSizeError),
        size_pair(target, "target", error=LayerSizeError),
    )
    if th > sh or tw > sw:
        raise LayerSizeError(
            f"Cannot crop a {sh}x{sw} map to {th}x{tw}: a crop can only make a map smaller. "
            "In U-Net the copied (contracting-path) map is the larger one; with same padding "
            "the two are equal and no crop is needed."
        )
    return CropBox((sh, sw), (th, tw), (sh - th) // 2, (sw - tw) // 2)


# each size function explains itself: conv_out.explain(572) -> Formula
def _attach(fn: Callable, explainer: Callable) -> None:
    fn.explain = explainer  # type: ignore[attr-defined]


_attach(conv_out, _conv)
_attach(pool_out, _pool)
_attach(up_conv_out, _up)
_attach(center_crop_box, lambda source, target: center_crop_box(source, target).explain())
