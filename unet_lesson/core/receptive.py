r"""The receptive field of one output pixel: which input pixels can change it.

Two independent ways, tested against each other on many settings:

* :func:`receptive_field` measures it with autograd on a real :class:`~unet_lesson.core.model.UNet`
  (one channel per level, positive weights, average pooling so every window passes a gradient);
* :func:`receptive_field_arithmetic` walks the shape table backwards with interval arithmetic
  (a 3x3 conv widens by one pixel each side, a pool doubles, an up-conv halves, a crop shifts, a
  concatenation takes the union), no tensor at all.

For the paper's network every output pixel sees a 188x188 window of the input: exactly the
smallest valid input. With same padding the border pixels' windows are cut off by the image border,
where the network sees only the zero padding.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from .model import UNet
from .options import options_of
from .shapes import ShapeTable, output_size, shape_table

__all__ = ["ReceptiveField", "receptive_field", "receptive_field_arithmetic"]


@dataclass(frozen=True)
class ReceptiveField:
    """The input rows/columns that can influence output pixel ``position`` (inclusive ranges)."""

    position: tuple[int, int]
    rows: tuple[int, int]
    cols: tuple[int, int]

    @property
    def size(self) -> tuple[int, int]:
        return self.rows[1] - self.rows[0] + 1, self.cols[1] - self.cols[0] + 1


@contextmanager
def _avg_pools(model):
    """Swap each 2x2 max pool for a 2x2 average pool: the same window, but every pixel gets a gradient."""
    saved = list(model.down_samples)
    try:
        for i in range(len(saved)):
            model.down_samples[i] = nn.AvgPool2d(2, 2)
        yield model
    finally:
        for i, m in enumerate(saved):
            model.down_samples[i] = m


def receptive_field(
    input_size: int = 188, position: tuple[int, int] | None = None, options=None, **overrides
) -> ReceptiveField:
    """The receptive field of one output pixel, measured with autograd.

    A copy of ``UNet(**options)`` with one channel per level gets positive weights (every
    conv weight ``1/fan_in``, biases 0, so no ReLU ever cuts a path) and average pooling
    in place of max pooling (same 2x2 windows, but a gradient to all four pixels). The
    gradient of the chosen output pixel with respect to the input is then non-zero exactly
    on the pixels that can influence it. ``position`` defaults to the output's centre.
    """
    o = options_of(options, **overrides).replace(base_channels=1, in_channels=1, num_classes=1)
    oh, ow = output_size(input_size, o)
    i, j = position if position is not None else (oh // 2, ow // 2)
    if not (0 <= i < oh and 0 <= j < ow):
        raise ValueError(f"position {(i, j)} is outside the {oh}x{ow} output.")
    model = UNet(**o.as_dict()).double().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                fan_in = m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.weight.shape[0]
                m.weight.fill_(1.0 / fan_in)
                if m.bias is not None:
                    m.bias.zero_()
    x = torch.ones(1, 1, input_size, input_size, dtype=torch.float64, requires_grad=True)
    with _avg_pools(model):
        y = model(x)
    y[0, 0, i, j].backward()
    nz = (x.grad[0, 0] != 0).nonzero()
    r0, c0 = nz.min(0).values.tolist()
    r1, c1 = nz.max(0).values.tolist()
    return ReceptiveField((i, j), (r0, r1), (c0, c1))


def _interval_back(table: ShapeTable, lo: int, hi: int, dim: int = 1) -> tuple[int, int]:
    """The input interval that output rows lo..hi depend on, walking the table backwards."""
    rows = list(table)
    o = table.options
    skip_row = {}  # crop row index -> the contracting conv row whose output is copied
    for r in rows:
        if r.kind == "crop":
            skip_row[r.index] = table.where(path="contracting", kind="conv", level=r.level)[-1].index

    def back(idx: int, lo: int, hi: int) -> tuple[int, int]:
        """Interval of the network input feeding rows lo..hi of row ``idx``'s output (idx 0 = the input)."""
        if idx == 0:
            return lo, hi
        r = rows[idx - 1]
        n_in = r.in_shape[dim]
        if r.kind in ("conv", "head"):
            k = 3 if r.kind == "conv" else 1
            pad = o.conv_padding if r.kind == "conv" else 0
            return back(idx - 1, max(0, lo - pad), min(n_in - 1, hi + k - 1 - pad))
        if r.kind == "pool":
            return back(idx - 1, 2 * lo, min(n_in - 1, 2 * hi + 1))
        if r.kind == "up":
            if o.up_mode == "upconv":
                return back(idx - 1, lo // 2, hi // 2)

            # bilinear x2, align_corners=False: output i reads input (i+0.5)/2-0.5, floor and the next one
            def src(i):
                s = max(0.0, (i + 0.5) / 2 - 0.5)
                i0 = int(s)
                return (i0, min(i0 + 1, n_in - 1)) if s > i0 else (i0, i0)

            return back(idx - 1, src(lo)[0], src(hi)[1])
        if r.kind == "crop":
            if o.mismatch == "pad":
                raise ValueError("the arithmetic receptive field does not handle mismatch='pad'")
            offset = (r.in_shape[dim] - r.out_shape[dim]) // 2
            return back(skip_row[r.index], lo + offset, hi + offset)
        if r.kind == "concat":  # both halves: the copied (cropped) map and the up-conv's map
            a = back(idx - 1, lo, hi)  # the crop row
            b = back(idx - 2, lo, hi)  # the up row
            return min(a[0], b[0]), max(a[1], b[1])
        raise AssertionError(r.kind)  # pragma: no cover

    return back(len(rows), lo, hi)


def receptive_field_arithmetic(
    input_size: int = 188, position: tuple[int, int] | None = None, options=None, **overrides
) -> ReceptiveField:
    """The same receptive field by interval arithmetic over the shape table (no tensors at all).

    Walk the table backwards from the output pixel: a 3x3 conv widens the interval by one
    pixel each side (clipped at the border with same padding), a 2x2 pool doubles it, a
    2x2 up-conv halves it (each output pixel comes from one input pixel), a crop shifts it
    by the crop offset, and a concatenation takes the union of its two inputs.
    """
    table = shape_table(input_size, options_of(options, **overrides))
    oh, ow = table.output_shape[1:]
    i, j = position if position is not None else (oh // 2, ow // 2)
    rows = _interval_back(table, i, i, dim=1)
    cols = _interval_back(table, j, j, dim=2)
    return ReceptiveField((i, j), rows, cols)
