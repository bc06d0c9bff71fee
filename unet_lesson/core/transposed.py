r"""The transposed convolution ("up-conv", 转置卷积) by hand, and why its kernel and stride matter.

* :func:`scatter_and_sum` - every input pixel paints a copy of the kernel, scaled by its value, into
  the output at stride ``s``; where copies overlap they add up; ``padding`` then trims the border.
  The tests prove it equals ``nn.ConvTranspose2d`` for many kernels, strides, paddings and output
  paddings; :func:`conv_transpose_torch` runs the real layer on the same numbers.
* :func:`scatter_steps` - the same, one input pixel at a time (for the step-by-step picture).
* :func:`overlap_count`, :func:`uneven_overlap`, :func:`checkerboard_facts` - how many kernel copies
  paint each output pixel: a kernel the stride does not divide (3x3, stride 2) paints some pixels
  more often than others (the checkerboard artifact); U-Net's 2x2, stride 2 paints each exactly once.
* :func:`upsample_three_ways` - doubling an image with flat kernels three ways (3x3 up-conv, 2x2
  up-conv, bilinear).

Size rule (:func:`unet_lesson.core.sizes.up_conv_out`):
:math:`H_{out} = (H - 1)s - 2p + d(k - 1) + p_{out} + 1`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .env import seeded
from .parse import size_pair, whole
from .sizes import up_conv_out

__all__ = [
    "max_padding",
    "scatter_and_sum",
    "conv_transpose_torch",
    "ScatterStep",
    "Scatter",
    "scatter_steps",
    "overlap_count",
    "uneven_overlap",
    "overlap_levels",
    "checkerboard_facts",
    "upsample_three_ways",
    "DEMO_CHANNELS",
    "feature_map_demo",
    "conv_matrix",
    "conv_by_matrix",
    "matching_output_padding",
    "conv_transpose_by_matrix",
    "zero_insert",
    "ZeroInsertion",
    "zero_insertion",
]


def max_padding(size: int, kernel: int, stride: int, output_padding: int = 0) -> int:
    """The largest padding that still leaves at least one output pixel."""
    return ((size - 1) * stride + kernel + output_padding - 1) // 2


def _as_input(x, weight):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    flat = x.ndim == 2 and w.ndim == 2
    if x.ndim == 2:
        x = x[None]
    if w.ndim == 2:
        w = w[None, None]
    if x.ndim != 3:
        raise ValueError(f"x must be (H, W) or (C_in, H, W), got shape {x.shape}.")
    if w.ndim != 4:
        raise ValueError(f"weight must be (k, k) or (C_in, C_out, k, k), got shape {w.shape}.")
    if w.shape[0] != x.shape[0]:
        raise ValueError(
            f"the weight's first axis is the input channels ({w.shape[0]}), but x has "
            f"{x.shape[0]}: a ConvTranspose2d weight is (in, out, k, k)."
        )
    return x, w, flat


def _canvas_and_crop(x: np.ndarray, w: np.ndarray, stride, padding, output_padding):
    """Scatter every input pixel's kernel copy onto a canvas; return it and the output window."""
    (sh, sw), (ph, pw), (oh, ow) = (
        size_pair(stride, "stride", minimum=1),
        size_pair(padding, "padding", minimum=0),
        size_pair(output_padding, "output_padding", minimum=0),
    )
    _, height, width = x.shape
    _, c_out, kh, kw = w.shape
    h_out = up_conv_out(height, kh, sh, ph, oh)
    w_out = up_conv_out(width, kw, sw, pw, ow)
    # the copies cover (H - 1)s + k pixels; output_padding may reach past them (those rows stay 0)
    canvas = np.zeros((c_out, max((height - 1) * sh + kh, ph + h_out), max((width - 1) * sw + kw, pw + w_out)))
    for i in range(height):
        for j in range(width):
            # input pixel (i, j) paints its kernel copy, scaled by its value, with its top-left at (i*s, j*s);
            # with several input channels the copies of all of them are summed
            canvas[:, i * sh : i * sh + kh, j * sw : j * sw + kw] += np.einsum("c,cokl->okl", x[:, i, j], w)
    return canvas, (ph, pw, h_out, w_out)


def scatter_and_sum(x, weight, stride=1, padding=0, output_padding=0, bias=None) -> np.ndarray:
    """The transposed convolution as scatter and sum, in plain numpy.

    ``x`` is ``(H, W)`` or ``(C_in, H, W)``; ``weight`` is ``(k, k)`` or ``(C_in, C_out, kh, kw)``,
    the layout of ``nn.ConvTranspose2d.weight``. ``stride``, ``padding`` and ``output_padding`` are
    one number or a (height, width) pair, as in PyTorch.

    Each input pixel paints ``value * kernel`` into a canvas with its top-left corner at
    ``(i*s, j*s)``; overlapping copies add up. The output is the canvas with ``padding`` rows and
    columns trimmed from each border; ``output_padding`` adds rows and columns at the bottom and
    right. Returns ``(H_out, W_out)`` for 2-D ``x`` and ``weight``, otherwise ``(C_out, H_out, W_out)``.
    """
    x, w, flat = _as_input(x, weight)
    canvas, (top, left, h_out, w_out) = _canvas_and_crop(x, w, stride, padding, output_padding)
    out = canvas[:, top : top + h_out, left : left + w_out].copy()
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64).reshape(-1, 1, 1)
    return out[0] if flat else out


def conv_transpose_torch(x, weight, stride=1, padding=0, output_padding=0, bias=None) -> np.ndarray:
    """The real ``nn.ConvTranspose2d`` on the same numbers (same conventions as :func:`scatter_and_sum`)."""
    import torch
    from torch import nn

    x, w, flat = _as_input(x, weight)
    c_in, c_out, kh, kw = w.shape
    layer = nn.ConvTranspose2d(
        c_in, c_out, (kh, kw), stride=stride, padding=padding, output_padding=output_padding, bias=bias is not None
    ).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        if bias is not None:
            layer.bias.copy_(torch.as_tensor(np.asarray(bias, dtype=np.float64).reshape(-1)))
        out = layer(torch.from_numpy(x)[None])[0].numpy()
    return out[0] if flat else out


@dataclass
class ScatterStep:
    """One input pixel's turn: where it paints, what it adds, and the sum so far (canvas coordinates)."""

    row: int
    col: int
    value: float
    top: int
    left: int
    contribution: np.ndarray
    total: np.ndarray


@dataclass
class Scatter:
    """The scatter-and-sum of one 2-D input, step by step, and the output window after ``padding``."""

    x: np.ndarray
    kernel: np.ndarray
    stride: int
    padding: int
    output_padding: int
    steps: list[ScatterStep] = field(default_factory=list)
    canvas: np.ndarray | None = None
    window: tuple[int, int, int, int] = (0, 0, 0, 0)  # top, left, height, width

    @property
    def output(self) -> np.ndarray:
        t, lft, h, w = self.window
        return self.canvas[t : t + h, lft : lft + w].copy()


def scatter_steps(x, kernel, stride: int = 2, padding: int = 0, output_padding: int = 0) -> Scatter:
    """The scatter-and-sum of a 2-D ``x`` with a 2-D ``kernel``, one input pixel at a time."""
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    if x.ndim != 2 or k.ndim != 2:
        raise ValueError("scatter_steps shows one channel: x and kernel must be 2-D.")
    canvas, (top, left, h_out, w_out) = _canvas_and_crop(x[None], k[None, None], stride, padding, output_padding)
    total = np.zeros(canvas.shape[1:])
    sh, sw = size_pair(stride, "stride", minimum=1)
    kh, kw = k.shape
    steps = []
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            contribution = np.zeros_like(total)
            contribution[i * sh : i * sh + kh, j * sw : j * sw + kw] = x[i, j] * k
            total = total + contribution
            steps.append(ScatterStep(i, j, float(x[i, j]), i * sh, j * sw, contribution, total.copy()))
    return Scatter(x, k, stride, padding, output_padding, steps, total, (top, left, h_out, w_out))


def _count_at(t: np.ndarray, n: int, k: int, s: int) -> np.ndarray:
    """Copies covering canvas position ``t`` along one axis: the input pixels m (0 <= m < n) whose copy
    [m*s, m*s + k) contains t, i.e. ceil((t - k + 1)/s) <= m <= floor(t/s)."""
    t = np.asarray(t, dtype=np.int64)
    hi = np.minimum(n - 1, t // s)
    lo = np.maximum(0, -((k - 1 - t) // s))
    return np.maximum(hi - lo + 1, 0)


def _count_range(a: int, b: int, n: int, k: int, s: int) -> tuple[int, int]:
    """Exact (min, max) of :func:`_count_at` over canvas positions a..b-1, in a few evaluations however
    large the numbers.

    Along one axis the count is ``min(n-1, t//s) - max(0, ceil((t-k+1)/s)) + 1``. It has four regimes,
    split at ``t = k`` (below, no copy has started to end) and ``t = (n-1)s`` (from there on, no copy
    starts): rising, constant, falling, or periodic with period ``s`` (both bounds free). In a periodic
    stretch it only changes where ``t % s == 0`` (a copy starts) or ``(t - k) % s == 0`` (one ends), so
    its start, its end and the first such points after its start show every value it takes; in the
    other regimes the ends do. No array as long as the map is ever built."""
    if b <= a:
        return 0, 0
    cuts = sorted({a, b, *(c for c in (k, (n - 1) * s) if a < c < b)})
    spots = []
    for u, v in zip(cuts, cuts[1:]):
        first_start = u + (-u) % s  # the first t >= u where a copy starts
        first_end = u + (k - u) % s  # the first t >= u where a copy has just ended
        spots += [t for t in (u, v - 1, first_start, first_end) if u <= t < v]
    c = [max(min(n - 1, t // s) - max(0, -((k - 1 - t) // s)) + 1, 0) for t in spots]  # Python ints: no overflow
    return min(c), max(c)


_COUNT_LIMIT = 4096  # largest output side for which overlap_count builds the 2-D map


def overlap_count(size, kernel, stride, padding=0, output_padding=0) -> np.ndarray:
    """How many input pixels' kernel copies cover each output pixel (an integer map).

    Counted directly from the footprints (no convolution); it equals ``nn.ConvTranspose2d``
    with an all-ones kernel on an all-ones input (the tests check this).
    """
    (h, w), (kh, kw) = size_pair(size, "size", minimum=1), size_pair(kernel, "kernel", minimum=1)
    (sh, sw), (ph, pw), (oh, ow) = (
        size_pair(stride, "stride", minimum=1),
        size_pair(padding, "padding", minimum=0),
        size_pair(output_padding, "output_padding", minimum=0),
    )
    h_out, w_out = up_conv_out(h, kh, sh, ph, oh), up_conv_out(w, kw, sw, pw, ow)
    if max(h_out, w_out) > _COUNT_LIMIT:
        raise ValueError(
            f"a {h_out}×{w_out} output is too large to count pixel by pixel here "
            f"(limit {_COUNT_LIMIT} per side); use a smaller size or stride."
        )
    rows = _count_at(np.arange(ph, ph + h_out), h, kh, sh)
    cols = _count_at(np.arange(pw, pw + w_out), w, kw, sw)
    return np.outer(rows, cols)


def uneven_overlap(kernel: int, stride: int) -> bool:
    """True when the stride does not divide the kernel: then, even far from the borders, some
    output pixels are painted by more kernel copies than their neighbours (checkerboard)."""
    return whole(kernel, "kernel", minimum=1) % whole(stride, "stride", minimum=1) != 0


def overlap_levels(kernel: int, stride: int) -> tuple[int, ...]:
    """The numbers of copies that paint an output pixel away from the borders, along one axis:
    ``(k // s,)`` when ``s`` divides ``k``, else ``(k // s, k // s + 1)`` alternating."""
    k, s = whole(kernel, "kernel", minimum=1), whole(stride, "stride", minimum=1)
    return (k // s,) if k % s == 0 else (k // s, k // s + 1)


# checkerboard_facts looks at O(kernel + stride) positions, so those two are bounded; the size may be huge
_FACTS_SIZE, _FACTS_KERNEL = 10**12, 10**5
_FACTS_HINT = "Away from the borders the counts repeat with period stride, so larger values show nothing new."


def checkerboard_facts(
    size: int = 6, kernel: int = 3, stride: int = 2, padding: int = 0, output_padding: int = 0
) -> dict:
    """How many copies paint an output pixel: min and max over the output, and in the interior (at least
    ``kernel - 1`` pixels from the border of the untrimmed canvas, where the borders' fewer copies do not
    count). Exact for any size: computed along one axis (the 2-D count of a square map is the row's count
    times the column's) at the few positions where it can change."""
    size, kernel, stride = (
        whole(size, "size", minimum=1, maximum=_FACTS_SIZE, hint=_FACTS_HINT),
        whole(kernel, "kernel", minimum=1, maximum=_FACTS_KERNEL, hint=_FACTS_HINT),
        whole(stride, "stride", minimum=1, maximum=_FACTS_KERNEL, hint=_FACTS_HINT),
    )
    padding = whole(padding, "padding", minimum=0, maximum=_FACTS_SIZE, hint=_FACTS_HINT)
    output_padding = whole(output_padding, "output_padding", minimum=0, maximum=_FACTS_KERNEL, hint=_FACTS_HINT)
    out = up_conv_out(size, kernel, stride, padding, output_padding)
    end = (size - 1) * stride + kernel
    lo, hi = _count_range(padding, padding + out, size, kernel, stride)
    edge = kernel - 1
    i_lo, i_hi = (
        _count_range(edge, end - edge, size, kernel, stride)
        if end - 2 * edge > 0
        else _count_range(0, end, size, kernel, stride)
    )
    return {
        "kernel": kernel,
        "stride": stride,
        "output": out,
        "min": lo**2,
        "max": hi**2,
        "interior_min": i_lo**2,
        "interior_max": i_hi**2,
        "uneven": i_lo != i_hi,
    }


def upsample_three_ways(image) -> dict:
    """Double the size of a 2-D image three ways, each with *equal* weights (no learning involved):
    a 3x3 stride-2 transposed conv (padding 1, output_padding 1), U-Net's 2x2 stride-2 up-conv,
    and bilinear interpolation. Each transposed-conv kernel is scaled by ``(s/k)^2`` so the average
    brightness is kept. Returns ``{name: (array, description)}``."""
    import torch
    from torch import nn

    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {img.shape}.")
    out = {"input": (img, f"input {img.shape[0]}×{img.shape[1]}")}
    for k, p, op in ((3, 1, 1), (2, 0, 0)):
        kernel = np.full((k, k), (2 / k) ** 2)
        a = conv_transpose_torch(img, kernel, stride=2, padding=p, output_padding=op)
        name = f"up-conv {k}×{k}, stride 2"
        out[name] = (a, f"{name}\n{a.shape[0]}×{a.shape[1]}" + (" (uneven overlap)" if uneven_overlap(k, 2) else ""))
    with torch.no_grad():
        b = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)(torch.from_numpy(img)[None, None])
    b = b[0, 0].numpy()
    out["bilinear ×2"] = (b, f"bilinear ×2\n{b.shape[0]}×{b.shape[1]}")
    return out


# --------------------------------------------------------------------------
# why "transposed": the convolution as a matrix C, the up-conv as C^T, and zero insertion
# --------------------------------------------------------------------------
_MATRIX_LIMIT = 2**20  # entries of the largest matrix C built here (8 MB of float64)


def _pairs(stride, padding, output_padding=0):
    return (
        size_pair(stride, "stride", minimum=1),
        size_pair(padding, "padding", minimum=0),
        size_pair(output_padding, "output_padding", minimum=0),
    )


def _kernel_2d(kernel) -> np.ndarray:
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"the kernel must be a 2-D array (k, k), got shape {k.shape}.")
    return k


def conv_matrix(kernel, in_size, stride=1, padding=0) -> np.ndarray:
    r"""The convolution ``nn.Conv2d(1, 1, k, stride, padding, bias=False)`` on an ``in_size`` map,
    written as a matrix :math:`C`: flatten the input row by row into a vector :math:`x`, and the
    flattened output is :math:`y = C x`.

    Row ``i * W_out + j`` of :math:`C` is output pixel ``(i, j)``: it holds the kernel's weights at
    the columns of the input pixels the kernel covers there, and zeros everywhere else (a kernel
    position that falls on the zero padding has no column: it adds nothing). So :math:`C` has
    :math:`H_{out} W_{out}` rows and :math:`H W` columns, and it is mostly zeros.
    """
    k = _kernel_2d(kernel)
    (h, w) = size_pair(in_size, "in_size", minimum=1)
    (sh, sw), (ph, pw), _ = _pairs(stride, padding)
    kh, kw = k.shape
    from .sizes import conv_out

    h_out, w_out = conv_out(h, kh, sh, ph), conv_out(w, kw, sw, pw)
    if h_out * w_out * h * w > _MATRIX_LIMIT:
        raise ValueError(
            f"C would have {h_out * w_out:,} rows and {h * w:,} columns, more than {_MATRIX_LIMIT:,} entries: "
            "this matrix is for tiny maps; use a smaller in_size."
        )
    c = np.zeros((h_out * w_out, h * w))
    for i in range(h_out):
        for j in range(w_out):
            for a in range(kh):
                for b in range(kw):
                    # kernel entry (a, b) at output (i, j) lands on input (i*s + a - p, j*s + b - p)
                    r, q = i * sh + a - ph, j * sw + b - pw
                    if 0 <= r < h and 0 <= q < w:  # on the padding it multiplies a zero: no entry
                        c[i * w_out + j, r * w + q] += k[a, b]
    return c


def conv_by_matrix(x, kernel, stride=1, padding=0) -> np.ndarray:
    """The convolution of a 2-D ``x`` as the matrix product ``C @ x.ravel()``, reshaped to the output map."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D map (H, W), got shape {x.shape}.")
    c = conv_matrix(kernel, x.shape, stride, padding)
    k = _kernel_2d(kernel)
    (sh, sw), (ph, pw), _ = _pairs(stride, padding)
    from .sizes import conv_out

    return (c @ x.ravel()).reshape(conv_out(x.shape[0], k.shape[0], sh, ph), conv_out(x.shape[1], k.shape[1], sw, pw))


def matching_output_padding(in_size, kernel_size, stride=1, padding=0) -> tuple[int, int]:
    r"""The ``output_padding`` that makes ``nn.ConvTranspose2d`` give back exactly ``in_size``, the size
    the convolution started from: :math:`(H + 2p - k) \bmod s` (the rows the convolution's floor dropped)."""
    (h, w), (kh, kw) = size_pair(in_size, "in_size"), size_pair(kernel_size, "kernel_size")
    (sh, sw), (ph, pw), _ = _pairs(stride, padding)
    return (h + 2 * ph - kh) % sh, (w + 2 * pw - kw) % sw


def conv_transpose_by_matrix(y, kernel, in_size, stride=1, padding=0) -> np.ndarray:
    r"""The transposed convolution as :math:`C^T y`: the matrix of the convolution that maps an ``in_size``
    map to ``y``'s size, transposed, so it maps ``y``'s size back to ``in_size``.

    Column ``i * W_out + j`` of :math:`C` holds the kernel's weights where output pixel ``(i, j)`` read
    its inputs; as a row of :math:`C^T` it *paints* ``y[i, j]`` times the kernel onto those same pixels:
    scatter and sum. It equals ``nn.ConvTranspose2d(1, 1, k, stride, padding, output_padding=op)`` with
    the same kernel, ``op`` from :func:`matching_output_padding` (the tests check it)."""
    y = np.asarray(y, dtype=np.float64)
    c = conv_matrix(kernel, in_size, stride, padding)
    if y.ndim != 2 or y.size != c.shape[0]:
        raise ValueError(
            f"y must be the convolution's output map, {c.shape[0]} pixels for in_size {in_size}; got shape {y.shape}."
        )
    (h, w) = size_pair(in_size, "in_size")
    return (c.T @ y.ravel()).reshape(h, w)


def zero_insert(x, stride=2) -> np.ndarray:
    """``stride - 1`` zeros between neighbouring pixels of a 2-D map: H becomes (H - 1)·s + 1."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D map (H, W), got shape {x.shape}.")
    (sh, sw), _, _ = _pairs(stride, 0)
    out_h, out_w = (x.shape[0] - 1) * sh + 1, (x.shape[1] - 1) * sw + 1
    if out_h * out_w > _MATRIX_LIMIT:
        raise ValueError(f"a {out_h}×{out_w} map with the zeros inserted is too large here; use a smaller map.")
    z = np.zeros((out_h, out_w))
    z[::sh, ::sw] = x
    return z


@dataclass
class ZeroInsertion:
    """The transposed convolution as an ordinary convolution, step by step."""

    inserted: np.ndarray  # x with stride - 1 zeros between its pixels
    padded: np.ndarray  # then padded by k - 1 - p on each side (+ output_padding at the bottom and right)
    flipped: np.ndarray  # the kernel turned by 180 degrees
    output: np.ndarray  # the valid convolution (cross-correlation, as nn.Conv2d) of padded with flipped
    pad: tuple[int, int]  # k - 1 - p per axis (negative: that many rows are cut instead)


def zero_insertion(x, kernel, stride=2, padding=0, output_padding=0) -> ZeroInsertion:
    r"""The transposed convolution in three ordinary steps: insert :math:`s - 1` zeros between the pixels of
    ``x``, pad by :math:`k - 1 - p` on every side (and ``output_padding`` more at the bottom and right), then
    run a plain valid convolution with the kernel **flipped** (turned by 180 degrees). The output has
    :math:`(H - 1)s + 1 + 2(k - 1 - p) + p_{out} - k + 1 = (H - 1)s - 2p + k + p_{out}` rows, the up-conv's
    size rule, and equals ``nn.ConvTranspose2d`` (the tests check it over strides, kernels and paddings).

    Why flipped: in :math:`C^T`, input pixel ``(i, j)`` paints kernel entry ``(a, b)`` onto output
    ``(i s + a - p, j s + b - p)``; gathered from the output's side, output pixel ``(r, q)`` reads input
    ``((r + p - a)/s, ...)``: the kernel index runs against the image index, which is a convolution with the
    kernel reversed."""
    k = _kernel_2d(kernel)
    (sh, sw), (ph, pw), (oh, ow) = _pairs(stride, padding, output_padding)
    x = np.asarray(x, dtype=np.float64)
    h_out = up_conv_out(x.shape[0] if x.ndim == 2 else 1, k.shape[0], sh, ph, oh)  # a clear message first
    w_out = up_conv_out(x.shape[1] if x.ndim == 2 else 1, k.shape[1], sw, pw, ow)
    z = zero_insert(x, (sh, sw))
    kh, kw = k.shape
    pad = (kh - 1 - ph, kw - 1 - pw)
    # pad by k - 1 - p; a larger padding p than k - 1 cuts rows instead of adding them
    big = np.zeros((z.shape[0] + 2 * max(pad[0], 0) + oh, z.shape[1] + 2 * max(pad[1], 0) + ow))
    top, left = max(pad[0], 0), max(pad[1], 0)
    big[top : top + z.shape[0], left : left + z.shape[1]] = z
    cut_h, cut_w = max(-pad[0], 0), max(-pad[1], 0)
    padded = big[cut_h : big.shape[0] - cut_h, cut_w : big.shape[1] - cut_w]
    if padded.size * k.size > 50 * _MATRIX_LIMIT:
        raise ValueError("this map is too large for the step-by-step zero insertion; use a smaller one.")
    flipped = k[::-1, ::-1]
    out = np.zeros((h_out, w_out))
    for a in range(kh):  # a valid convolution, one kernel entry at a time
        for b in range(kw):
            out += flipped[a, b] * padded[a : a + h_out, b : b + w_out]
    return ZeroInsertion(z, padded.copy(), flipped.copy(), out, pad)


# --------------------------------------------------------------------------
# an up-conv on a real picture
# --------------------------------------------------------------------------
# hand-set 3x3 kernels, so every channel of the demo can be read: a blur, the pixel itself, two edge detectors
_DEMO_KERNELS = np.array(
    [
        np.full((3, 3), 1 / 9),
        np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
        np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 2,
        np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]) / 2,
    ],
    dtype=np.float32,
)
DEMO_CHANNELS = (
    "blur",
    "the pixel itself",
    "dark-to-bright edges, left to right",
    "dark-to-bright edges, top to bottom",
)


def feature_map_demo(image, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """A contracting step and an up-conv on a real image: 3x3 valid conv (1 -> 4 channels, hand-set
    kernels: a blur, the pixel itself, two edge detectors) + ReLU, 2x2 max pool (size 1/2), then a 2x2
    stride-2 up-conv 4 -> 2 channels (size x2, channels 1/2), twice: with flat kernels (each output
    channel paints a flat 2x2 block from the mean of two input channels) and with untrained,
    seeded random kernels (as PyTorch initialises them). Returns ``[(label, (C, H, W) array)]``."""
    import torch
    from torch import nn

    from .inspect import as_batch

    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {img.shape}.")
    if min(img.shape) < 4:
        raise ValueError(
            f"image {img.shape[0]}×{img.shape[1]} is too small: the 3x3 conv and the 2x2 pool "
            "need at least 4 pixels per side."
        )
    with seeded(seed):  # every weight is set below; the default init must not draw from the student's RNG
        conv = nn.Conv2d(1, 4, 3)
        flat = nn.ConvTranspose2d(4, 2, kernel_size=2, stride=2)
        rand = nn.ConvTranspose2d(4, 2, kernel_size=2, stride=2)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(_DEMO_KERNELS)[:, None])
        conv.bias.zero_()
        flat.weight.zero_()
        for c_in in range(4):  # output channel c_in // 2 paints the mean of input channels (0, 1) or (2, 3)
            flat.weight[c_in, c_in // 2] = 0.5
        flat.bias.zero_()
        bound = 1 / math.sqrt(rand.weight[0].numel())  # PyTorch's default range, seeded
        rand.weight.copy_(torch.rand(rand.weight.shape, generator=gen) * 2 * bound - bound)
        rand.bias.zero_()
        x = as_batch(img)
        a = torch.relu(conv(x))
        b = nn.MaxPool2d(2)(a)
        c, d = flat(b), rand(b)
    return [
        ("input", x[0].numpy()),
        ("3x3 conv + ReLU", a[0].numpy()),
        ("2x2 max pool", b[0].numpy()),
        ("up-conv 2x2, s=2\n(flat kernels)", c[0].numpy()),
        ("up-conv 2x2, s=2\n(untrained, random)", d[0].numpy()),
    ]
