r"""The receptive field of one output pixel: which input pixels can change it.

Two independent ways, tested against each other on many settings:

* :func:`receptive_field` measures it with autograd on a real :class:`~unet_lesson.core.model.UNet`
  (one channel per level, positive weights, average pooling so every window passes a gradient);
* :func:`receptive_field_arithmetic` walks the shape table backwards with interval arithmetic
  (a 3x3 conv widens by one pixel each side, a pool doubles, an up-conv halves, a crop shifts, a
  concatenation takes the union), no tensor at all.

For the paper's network an output pixel sees 188 or 204 input pixels along each axis, by where it sits
on the 16-pixel grid of the four pools (the centre pixel of the smallest valid input, 188, sees all of it). With
same padding the border pixels' windows are cut off by the image border,
where the network sees only the zero padding.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from .model import UNet
from .options import options_of
from .parse import size_pair, whole
from .shapes import ShapeTable, output_size, shape_table
from .sizes import conv_out, pool_out

__all__ = [
    "ReceptiveField",
    "StackLayer",
    "receptive_field",
    "receptive_field_arithmetic",
    "rows_seeing_padding",
    "stack_field_size",
    "stack_layers",
    "stack_receptive_field",
    "stack_receptive_field_measured",
    "MEASURE_LIMIT",
]


@dataclass(frozen=True)
class ReceptiveField:
    """The input rows/columns that can influence output pixel ``position`` (inclusive ranges).

    ``reach_rows``/``reach_cols`` are the window the layers *look at*, before the image border cuts it:
    equal to ``rows``/``cols`` when no layer pads (valid convolutions), larger where a padded layer's
    window hangs over the border. The part of the reach outside the image is what that pixel sees of
    the padding zeros. (``None`` when not computed, e.g. by autograd, which only sees real pixels.)
    """

    position: tuple[int, int]
    rows: tuple[int, int]
    cols: tuple[int, int]
    reach_rows: tuple[int, int] | None = None
    reach_cols: tuple[int, int] | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.rows[1] - self.rows[0] + 1, self.cols[1] - self.cols[0] + 1

    @property
    def reach(self) -> tuple[int, int]:
        """Height and width of the window before the border cuts it."""
        (r0, r1), (c0, c1) = self.reach_rows or self.rows, self.reach_cols or self.cols
        return r1 - r0 + 1, c1 - c0 + 1

    @property
    def padding_pixels(self) -> int:
        """How many pixels of the reach lie outside the image (in the padding zeros)."""
        return self.reach[0] * self.reach[1] - self.size[0] * self.size[1]

    @property
    def sees_padding(self) -> bool:
        return self.padding_pixels > 0


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
    i, j = _position(position, oh, ow)
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


def _interval_back(table: ShapeTable, lo: int, hi: int, dim: int = 1, clip: bool = True) -> tuple[int, int]:
    """The input interval that output rows lo..hi depend on, walking the table backwards.

    With ``clip=False`` the border does not cut the windows: the interval may reach below 0 or past the
    last row, into the padding (what a padded conv looks at)."""

    def cut(lo: int, hi: int, n: int) -> tuple[int, int]:
        return (max(0, lo), min(n - 1, hi)) if clip else (lo, hi)

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
            return back(idx - 1, *cut(lo - pad, hi + k - 1 - pad, n_in))
        if r.kind == "pool":
            return back(idx - 1, *cut(2 * lo, 2 * hi + 1, n_in))
        if r.kind == "up":
            if o.up_mode == "upconv":
                return back(idx - 1, lo // 2, hi // 2)

            # bilinear x2, align_corners=False: output i reads input (i+0.5)/2-0.5, floor and the next one
            def src(i):
                s = max(0.0, (i + 0.5) / 2 - 0.5)
                i0 = int(s)
                return (i0, min(i0 + 1, n_in - 1)) if s > i0 else (i0, i0)

            # bilinear clamps at the border (no padding of its own); rows outside its output are the next
            # conv's padding, which stand for input rows outside the image at half the distance
            n_out = r.out_shape[dim]
            new_lo = src(lo)[0] if lo >= 0 else lo // 2
            new_hi = src(hi)[1] if hi < n_out else n_in - 1 + -(-(hi - n_out + 1) // 2)
            return back(idx - 1, new_lo, new_hi)
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
    i, j = _position(position, oh, ow)
    rows, cols = _interval_back(table, i, i, dim=1), _interval_back(table, j, j, dim=2)
    reach = _interval_back(table, i, i, dim=1, clip=False), _interval_back(table, j, j, dim=2, clip=False)
    return ReceptiveField((i, j), rows, cols, *reach)


def rows_seeing_padding(input_size: int = 576, options=None, **overrides) -> tuple[int, int, int]:
    """How many output rows at the top and at the bottom have a window that reaches past the border (into the
    padding zeros), and the output's height: ``(top, bottom, rows)``. For a square input the columns are the
    same, so ``rows**2 - (rows - top - bottom)**2`` output pixels see some padding.

    A window's first row never decreases as the output row grows (and its last row likewise), so the rows
    reaching above the image are a run at the top and those reaching below it a run at the bottom: a binary
    search finds each end in a few dozen walks of the table, for any size."""
    table = shape_table(input_size, options_of(options, **overrides))
    h, oh = table.input_shape[1], table.output_shape[1]

    def first(pred) -> int:  # the first output row in 0..oh where pred holds (pred is monotone)
        lo, hi = 0, oh
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if pred(mid) else (mid + 1, hi)
        return lo

    top = first(lambda i: _interval_back(table, i, i, 1, clip=False)[0] >= 0)
    bottom = oh - first(lambda i: _interval_back(table, i, i, 1, clip=False)[1] > h - 1)
    return top, bottom, oh


def _position(position, oh: int, ow: int) -> tuple[int, int]:
    """An output pixel (row, column), checked against the ``oh`` x ``ow`` output; the centre by default."""
    if position is None:
        return oh // 2, ow // 2
    i, j = size_pair(position, "output pixel", minimum=0)
    if i >= oh or j >= ow:
        raise ValueError(
            f"output pixel {(i, j)} is outside the {oh}x{ow} output: rows 0 to {oh - 1}, columns 0 to {ow - 1}."
        )
    return i, j


# ---- a plain stack of convolutions and poolings (lessons 01-02) -------------------------------------------
NOTHING = (0, -1)  #: the empty range of rows or columns: a window that holds no pixel of the image
STACK_LIMIT = 64  #: the most layers :func:`stack_receptive_field` takes (a teaching stack has a handful)


@dataclass(frozen=True)
class StackLayer:
    """One layer of a plain stack: a convolution or a pooling (``kind``), square kernel, stride, padding."""

    kind: str
    kernel: int
    stride: int = 1
    padding: int = 0

    def __post_init__(self):
        if self.kind not in ("conv", "pool"):
            raise ValueError(f"a stack layer is 'conv' or 'pool', got {self.kind!r}.")
        object.__setattr__(self, "kernel", whole(self.kernel, f"{self.kind} kernel", minimum=1))
        object.__setattr__(self, "stride", whole(self.stride, f"{self.kind} stride", minimum=1))
        object.__setattr__(self, "padding", whole(self.padding, f"{self.kind} padding", minimum=0))

    def out(self, n: int) -> int:
        op = conv_out if self.kind == "conv" else pool_out
        return op(n, self.kernel, self.stride, self.padding)

    def __str__(self) -> str:
        pad = f", p={self.padding}" if self.padding else ""
        return f"{self.kind} {self.kernel}x{self.kernel}, s={self.stride}{pad}"


def stack_layers(convs: int = 2, blocks: int = 1, kernel: int = 3, padding: int = 0) -> list[StackLayer]:
    r"""A VGG-like plain stack: ``blocks`` blocks of ``convs`` convolutions (``kernel``, stride 1, ``padding``),
    a 2x2 max pooling (stride 2) between two blocks, like U-Net's contracting path without the copies."""
    convs = whole(convs, "convs per block", minimum=1, maximum=STACK_LIMIT // 2)
    blocks = whole(blocks, "blocks", minimum=1, maximum=STACK_LIMIT // (convs + 1) or 1)
    layers: list[StackLayer] = []
    for b in range(blocks):
        if b:
            layers.append(StackLayer("pool", 2, 2))
        layers += [StackLayer("conv", kernel, 1, padding) for _ in range(convs)]
    return layers


def stack_field_size(layers) -> int:
    r"""The receptive field of a stack away from the borders:
    :math:`r = 1 + \sum_l (k_l - 1) \prod_{j<l} s_j` (each layer adds its kernel minus one, in units of the
    input pixels its stride-so-far makes one step)."""
    r, jump = 1, 1
    for layer in layers:
        r += (layer.kernel - 1) * jump
        jump *= layer.stride
    return r


def stack_receptive_field(layers, input_size: int = 32, position: tuple[int, int] | None = None) -> ReceptiveField:
    """The input window one output pixel of a plain stack sees, by the same backward interval walk as the
    U-Net's: output rows lo..hi of a layer with kernel k, stride s, padding p read rows
    ``lo*s - p`` to ``hi*s - p + k - 1`` of its input (cut at the border; the reach is not cut)."""
    layers = list(layers)
    if not 1 <= len(layers) <= STACK_LIMIT:
        raise ValueError(f"a stack of 1 to {STACK_LIMIT} layers, got {len(layers)}.")
    h, w = size_pair(input_size, "input size", minimum=1)
    sizes = [(h, w)]
    for layer in layers:
        try:
            sizes.append((layer.out(sizes[-1][0]), layer.out(sizes[-1][1])))
        except ValueError as e:
            raise ValueError(f"layer {len(sizes)} ({layer}) gets a {sizes[-1][0]}x{sizes[-1][1]} map: {e}") from None
    i, j = _position(position, *sizes[-1])

    def back(lo: int, hi: int, dim: int, clip: bool) -> tuple[int, int]:
        for layer, n_in in zip(reversed(layers), reversed([s[dim] for s in sizes[:-1]])):
            lo, hi = lo * layer.stride - layer.padding, hi * layer.stride - layer.padding + layer.kernel - 1
            if clip:
                lo, hi = max(0, lo), min(n_in - 1, hi)
                if lo > hi:  # the window lies wholly in the padding: this pixel sees no image at all
                    return NOTHING
        return lo, hi

    rows, cols = back(i, i, 0, True), back(j, j, 1, True)
    if NOTHING in (rows, cols):  # a window with no rows (or no columns) of image holds no pixel of it
        rows = cols = NOTHING
    return ReceptiveField((i, j), rows, cols, back(i, i, 0, False), back(j, j, 1, False))


MEASURE_LIMIT = 128  #: the largest input side :func:`stack_receptive_field_measured` runs real layers on


def stack_receptive_field_measured(layers, input_size: int = 32, position: tuple[int, int] | None = None):
    """The same window measured with autograd on real layers (no arithmetic): ``nn.Conv2d`` with positive
    weights and ``nn.AvgPool2d`` for each pooling (max pooling's windows, but a gradient to every pixel);
    the input pixels with a non-zero gradient of output pixel ``position`` are its receptive field.
    Returns a :class:`ReceptiveField` (no reach: autograd only sees real pixels). Runs on inputs up to
    ``MEASURE_LIMIT`` pixels a side."""
    layers = list(layers)
    field = stack_receptive_field(layers, input_size, position)  # parses and explains every bad value first
    h, w = size_pair(input_size, "input size", minimum=1)
    if max(h, w) > MEASURE_LIMIT:
        raise ValueError(
            f"measuring with autograd runs real layers on inputs up to {MEASURE_LIMIT} pixels a side, got {h}x{w}; "
            "stack_receptive_field gives the same window by arithmetic for any size."
        )
    mods = []
    for layer in layers:
        if layer.kind == "conv":
            m = nn.Conv2d(1, 1, layer.kernel, layer.stride, layer.padding, bias=False, dtype=torch.float64)
            with torch.no_grad():
                m.weight.fill_(1.0 / layer.kernel**2)
        else:
            m = nn.AvgPool2d(layer.kernel, layer.stride, layer.padding)
        mods.append(m)
    x = torch.ones(1, 1, h, w, dtype=torch.float64, requires_grad=True)
    y = nn.Sequential(*mods)(x)
    i, j = field.position
    y[0, 0, i, j].backward()
    nz = (x.grad[0, 0] != 0).nonzero()
    if not len(nz):  # no input pixel changes it: its window lies wholly in the padding
        return ReceptiveField((i, j), NOTHING, NOTHING)
    (r0, c0), (r1, c1) = nz.min(0).values.tolist(), nz.max(0).values.tolist()
    return ReceptiveField((i, j), (r0, r1), (c0, c1))
