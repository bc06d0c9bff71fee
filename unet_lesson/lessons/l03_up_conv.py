r"""Lesson 03: the transposed convolution, U-Net's "up-conv" (转置卷积, 上采样 upsampling).

The notes: *Transconv: size x2, channel 1/2*, and at the bottom of the U
``28x28x1024 -> up-conv -> 56x56x512``. This module holds everything the lesson shows:

* :func:`scatter_and_sum`: the transposed convolution by hand. Every input pixel paints a copy
  of the kernel, scaled by its value, into the output at stride ``s``; where copies overlap they
  add up; ``padding`` then trims the border. The tests prove it equals ``nn.ConvTranspose2d``
  for many kernels, strides, paddings and output paddings; :func:`conv_transpose_torch` runs
  the real layer on the same numbers.
* :func:`scatter_steps` and :func:`scatter_steps_figure`: the same, one input pixel at a time.
* :func:`overlap_count`, :func:`uneven_overlap`, :func:`checkerboard_figure`: why a kernel that
  the stride does not divide (3x3, stride 2) paints some pixels more often than others (the
  checkerboard artifact) and why U-Net's 2x2, stride 2 does not.
* :func:`layer_facts`: the real layer's weight shape ``(in, out, k, k)``, parameter count and
  output shape (the notes' 28x28x1024 -> 56x56x512).
* :func:`feature_map_demo` / :func:`feature_map_figure`: an up-conv on a real (generated) image.
* :func:`up_modes_check` / :func:`up_modes_html`: the bilinear + 1x1 conv alternative, same shapes.
* :func:`upconv_view`: the widget's view (plain function, tested without a browser).
* ``EX_*``: the exercises, answers computed here.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import numpy as np

from ..ui.exercises import Exercise, same_answer
from ..core.sizes import up_conv_out
from ..ui.widgets import View

__all__ = [
    "EXAMPLE_INPUT", "EXAMPLE_KERNEL", "UNET_KERNEL",
    "scatter_and_sum", "conv_transpose_torch", "ScatterStep", "Scatter", "scatter_steps",
    "scatter_steps_figure", "overlap_count", "uneven_overlap", "overlap_levels", "checkerboard_facts",
    "checkerboard_figure", "upsample_three_ways", "upsample_three_ways_figure",
    "real_layer", "layer_facts", "layer_facts_html", "feature_map_demo", "feature_map_figure", "DEMO_CHANNELS",
    "up_modes_check", "up_modes_html", "upconv_view", "upconv_controls", "max_padding",
    "EX_SHAPE", "EX_PARAMS", "EX_SIZE_RULE", "EX_OVERLAP", "EX_SLIP", "EX_CENTRE", "EXERCISES",
]

# The lesson's tiny example: a 2x2 input and a 3x3 "tent" kernel (the outer product of [1, 2, 1]).
EXAMPLE_INPUT = np.array([[1.0, 2.0], [3.0, 4.0]])
EXAMPLE_KERNEL = np.outer([1.0, 2.0, 1.0], [1.0, 2.0, 1.0])
# U-Net's up-conv is 2x2 with stride 2; four different numbers make each copy recognisable.
UNET_KERNEL = np.array([[1.0, 2.0], [3.0, 4.0]])


# --------------------------------------------------------------------------
# checking what a student typed
# --------------------------------------------------------------------------
_WHAT = {
    "size": "the input map's height and width, in pixels",
    "kernel": "the kernel's height and width",
    "stride": "how far apart (in output pixels) neighbouring input pixels paint their kernel copies",
    "padding": "how many rows and columns are trimmed from each border of the output",
    "output_padding": "extra rows and columns added at the bottom and right of the output",
    "in_channels": "channels of the input map",
    "out_channels": "channels of the output map (kernels of the layer)",
}


def _whole(name: str, value, minimum: int) -> int:
    """A whole number >= minimum, or a ValueError that says what the setting means and what works."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        raise ValueError(f"{name} must be a whole number ({_WHAT.get(name, name)}), got {value!r}.")
    if not isinstance(value, (int, np.integer)):
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a whole number ({_WHAT.get(name, name)}), got {value!r}.") from None
        if not math.isfinite(f) or not f.is_integer():
            near = (f" Try {math.floor(f)} or {math.ceil(f)}." if math.isfinite(f) and math.ceil(f) >= minimum
                    else "")
            raise ValueError(f"{name} must be a whole number ({_WHAT.get(name, name)}): pixels and channels "
                             f"are counted, so {value!r} cannot work.{near}")
        value = int(f)
    value = int(value)
    if value < minimum:
        extra = {
            "size": " A feature map needs at least one row and one column.",
            "kernel": " A kernel has at least one weight.",
            "stride": " A stride of 0 would paint every copy on the same spot; stride 1 is the smallest.",
            "padding": " Padding trims the output, it cannot be negative; use 0 for no trimming.",
            "output_padding": " Use 0 for no extra rows.",
        }.get(name, "")
        raise ValueError(f"{name} must be at least {minimum}, got {value}.{extra}")
    return value


def _pair(value, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be one number or a (height, width) pair, got {value!r}.")
        return _whole(name, value[0], minimum), _whole(name, value[1], minimum)
    v = _whole(name, value, minimum)
    return v, v


def max_padding(size: int, kernel: int, stride: int, output_padding: int = 0) -> int:
    """The largest padding that still leaves at least one output pixel."""
    return ((size - 1) * stride + kernel + output_padding - 1) // 2


def _out_size(size: int, kernel: int, stride: int, padding: int, output_padding: int) -> int:
    """up_conv_out (it explains the two impossible cases: output_padding too large, padding that empties)."""
    return up_conv_out(size, kernel, stride, padding, output_padding)


# --------------------------------------------------------------------------
# the transposed convolution by hand: scatter and sum
# --------------------------------------------------------------------------
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
        raise ValueError(f"the weight's first axis is the input channels ({w.shape[0]}), but x has "
                         f"{x.shape[0]}: a ConvTranspose2d weight is (in, out, k, k).")
    return x, w, flat


def _canvas_and_crop(x: np.ndarray, w: np.ndarray, stride, padding, output_padding):
    """Scatter every input pixel's kernel copy onto a canvas; return it and the output window."""
    (sh, sw), (ph, pw), (oh, ow) = (_pair(stride, "stride", 1), _pair(padding, "padding", 0),
                                    _pair(output_padding, "output_padding", 0))
    _, height, width = x.shape
    _, c_out, kh, kw = w.shape
    h_out = _out_size(height, kh, sh, ph, oh)
    w_out = _out_size(width, kw, sw, pw, ow)
    # the copies cover (H - 1)s + k pixels; output_padding may reach past them (those rows stay 0)
    canvas = np.zeros((c_out, max((height - 1) * sh + kh, ph + h_out), max((width - 1) * sw + kw, pw + w_out)))
    for i in range(height):
        for j in range(width):
            # input pixel (i, j) paints its kernel copy, scaled by its value, with its top-left at (i*s, j*s);
            # with several input channels the copies of all of them are summed
            canvas[:, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.einsum("c,cokl->okl", x[:, i, j], w)
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
    out = canvas[:, top:top + h_out, left:left + w_out].copy()
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64).reshape(-1, 1, 1)
    return out[0] if flat else out


def conv_transpose_torch(x, weight, stride=1, padding=0, output_padding=0, bias=None) -> np.ndarray:
    """The real ``nn.ConvTranspose2d`` on the same numbers (same conventions as :func:`scatter_and_sum`)."""
    import torch
    from torch import nn

    x, w, flat = _as_input(x, weight)
    c_in, c_out, kh, kw = w.shape
    layer = nn.ConvTranspose2d(c_in, c_out, (kh, kw), stride=stride, padding=padding,
                               output_padding=output_padding, bias=bias is not None).double()
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
    window: tuple[int, int, int, int] = (0, 0, 0, 0)   # top, left, height, width

    @property
    def output(self) -> np.ndarray:
        t, l, h, w = self.window
        return self.canvas[t:t + h, l:l + w].copy()


def scatter_steps(x, kernel, stride: int = 2, padding: int = 0, output_padding: int = 0) -> Scatter:
    """The scatter-and-sum of a 2-D ``x`` with a 2-D ``kernel``, one input pixel at a time."""
    x = np.asarray(x, dtype=np.float64)
    k = np.asarray(kernel, dtype=np.float64)
    if x.ndim != 2 or k.ndim != 2:
        raise ValueError("scatter_steps shows one channel: x and kernel must be 2-D.")
    canvas, (top, left, h_out, w_out) = _canvas_and_crop(x[None], k[None, None], stride, padding, output_padding)
    total = np.zeros(canvas.shape[1:])
    sh, sw = _pair(stride, "stride", 1)
    kh, kw = k.shape
    steps = []
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            contribution = np.zeros_like(total)
            contribution[i * sh:i * sh + kh, j * sw:j * sw + kw] = x[i, j] * k
            total = total + contribution
            steps.append(ScatterStep(i, j, float(x[i, j]), i * sh, j * sw, contribution, total.copy()))
    return Scatter(x, k, stride, padding, output_padding, steps, total, (top, left, h_out, w_out))


def _fmt(v: float) -> str:
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else f"{v:.2g}"


def _grid(ax, a, vmax, title, cmap="Blues", annotate=True, box=None, window=None, fontsize=8):
    """Draw a small matrix with its numbers; optionally outline a box and the output window."""
    from matplotlib.patches import Rectangle

    ax.imshow(a, cmap=cmap, vmin=0, vmax=max(vmax, 1e-9), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if max(a.shape) <= 40:  # pixel borders (drawn as two line collections: cheap)
        ax.hlines(np.arange(-0.5, a.shape[0]), -0.5, a.shape[1] - 0.5, colors="#bbbbbb", linewidth=0.5)
        ax.vlines(np.arange(-0.5, a.shape[1]), -0.5, a.shape[0] - 0.5, colors="#bbbbbb", linewidth=0.5)
    if annotate:
        for (r, c), v in np.ndenumerate(a):
            ax.text(c, r, _fmt(v), ha="center", va="center", fontsize=fontsize,
                    color="white" if v > 0.6 * vmax else "black")
    if box is not None:  # (top, left, height, width)
        t, l, h, w = box
        ax.add_patch(Rectangle((l - 0.5, t - 0.5), w, h, fill=False, edgecolor="#d62728", linewidth=2))
    if window is not None and window[2:] != a.shape:
        t, l, h, w = window
        ax.add_patch(Rectangle((l - 0.5, t - 0.5), w, h, fill=False, edgecolor="black", linewidth=1.5,
                               linestyle="--"))
    ax.set_title(title, fontsize=8)


def scatter_steps_figure(x=EXAMPLE_INPUT, kernel=EXAMPLE_KERNEL, stride: int = 2, padding: int = 0,
                         output_padding: int = 0):
    """Top row: each input pixel paints ``value x kernel`` (red box) at stride ``s``. Bottom row: the
    running sum; where copies overlap the numbers add. Last column: the output and how many copies
    painted each pixel. A dashed box marks the output window when ``padding`` trims the border."""
    import matplotlib.pyplot as plt

    sc = scatter_steps(x, kernel, stride, padding, output_padding)
    n = len(sc.steps)
    if n > 9:
        raise ValueError(f"{n} input pixels are too many steps to draw; use an input of at most 3x3.")
    vmax = float(sc.canvas.max())
    ncols = n + 2
    fig, axes = plt.subplots(2, ncols, figsize=(1.55 * ncols, 3.6))
    _grid(axes[0, 0], sc.x, float(sc.x.max()), f"input {sc.x.shape[0]}×{sc.x.shape[1]}", cmap="Oranges")
    _grid(axes[1, 0], sc.kernel, float(sc.kernel.max()),
          f"kernel {sc.kernel.shape[0]}×{sc.kernel.shape[1]}, stride {stride}", cmap="Greens")
    kh, kw = sc.kernel.shape
    for c, step in enumerate(sc.steps, start=1):
        box = (step.top, step.left, kh, kw)
        _grid(axes[0, c], step.contribution, vmax,
              f"x[{step.row},{step.col}]={_fmt(step.value)} paints\n{_fmt(step.value)}×kernel at ({step.top},{step.left})",
              box=box)
        _grid(axes[1, c], step.total, vmax, f"sum after step {c}", box=box, window=sc.window)
    out = sc.output
    count = overlap_count(sc.x.shape, sc.kernel.shape, stride, padding, output_padding)
    _grid(axes[0, -1], out, vmax, f"output {out.shape[0]}×{out.shape[1]}\n(= nn.ConvTranspose2d)")
    _grid(axes[1, -1], count, float(max(count.max(), 4)), "copies per pixel", cmap="Purples")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# overlap and checkerboard artifacts
# --------------------------------------------------------------------------
def _count_at(t: np.ndarray, n: int, k: int, s: int) -> np.ndarray:
    """Copies covering canvas position ``t`` along one axis: the input pixels m (0 <= m < n) whose copy
    [m*s, m*s + k) contains t, i.e. ceil((t - k + 1)/s) <= m <= floor(t/s)."""
    t = np.asarray(t, dtype=np.int64)
    hi = np.minimum(n - 1, t // s)
    lo = np.maximum(0, -((k - 1 - t) // s))
    return np.maximum(hi - lo + 1, 0)


def _count_range(a: int, b: int, n: int, k: int, s: int) -> tuple[int, int]:
    """Exact (min, max) of :func:`_count_at` over canvas positions a..b-1, however long the range: the
    count only ramps within k + s of either end of the canvas and is periodic (period s) in between."""
    end = (n - 1) * s + k
    spots = [np.arange(a, min(b, a + k + 2 * s)), np.arange(max(a, b - k - 2 * s), b),
             np.arange(max(a, 0), min(b, k + 2 * s)), np.arange(max(a, end - k - 2 * s), min(b, end))]
    mid = (a + b) // 2
    spots.append(np.arange(mid, min(b, mid + s)))
    t = np.concatenate([x for x in spots if x.size])
    c = _count_at(t, n, k, s)
    return int(c.min()), int(c.max())


_COUNT_LIMIT = 4096   # largest output side for which overlap_count builds the 2-D map


def overlap_count(size, kernel, stride, padding=0, output_padding=0) -> np.ndarray:
    """How many input pixels' kernel copies cover each output pixel (an integer map).

    Counted directly from the footprints (no convolution); it equals ``nn.ConvTranspose2d``
    with an all-ones kernel on an all-ones input (the tests check this).
    """
    (h, w), (kh, kw) = _pair(size, "size", 1), _pair(kernel, "kernel", 1)
    (sh, sw), (ph, pw), (oh, ow) = (_pair(stride, "stride", 1), _pair(padding, "padding", 0),
                                    _pair(output_padding, "output_padding", 0))
    h_out, w_out = _out_size(h, kh, sh, ph, oh), _out_size(w, kw, sw, pw, ow)
    if max(h_out, w_out) > _COUNT_LIMIT:
        raise ValueError(f"a {h_out}×{w_out} output is too large to count pixel by pixel here "
                         f"(limit {_COUNT_LIMIT} per side); use a smaller size or stride.")
    rows = _count_at(np.arange(ph, ph + h_out), h, kh, sh)
    cols = _count_at(np.arange(pw, pw + w_out), w, kw, sw)
    return np.outer(rows, cols)


def uneven_overlap(kernel: int, stride: int) -> bool:
    """True when the stride does not divide the kernel: then, even far from the borders, some
    output pixels are painted by more kernel copies than their neighbours (checkerboard)."""
    return _whole("kernel", kernel, 1) % _whole("stride", stride, 1) != 0


def overlap_levels(kernel: int, stride: int) -> tuple[int, ...]:
    """The numbers of copies that paint an output pixel away from the borders, along one axis:
    ``(k // s,)`` when ``s`` divides ``k``, else ``(k // s, k // s + 1)`` alternating."""
    k, s = _whole("kernel", kernel, 1), _whole("stride", stride, 1)
    return (k // s,) if k % s == 0 else (k // s, k // s + 1)


def checkerboard_facts(size: int = 6, kernel: int = 3, stride: int = 2, padding: int = 0,
                       output_padding: int = 0) -> dict:
    """How many copies paint an output pixel: min and max over the output, and in the interior (at least
    ``kernel - 1`` pixels from the border of the untrimmed canvas, where the borders' fewer copies do not
    count). Exact for any size: computed along one axis (the 2-D count of a square map is the row's count
    times the column's) at the few positions where it can change."""
    size, kernel, stride = _whole("size", size, 1), _whole("kernel", kernel, 1), _whole("stride", stride, 1)
    padding, output_padding = _whole("padding", padding, 0), _whole("output_padding", output_padding, 0)
    out = _out_size(size, kernel, stride, padding, output_padding)
    end = (size - 1) * stride + kernel
    lo, hi = _count_range(padding, padding + out, size, kernel, stride)
    edge = kernel - 1
    i_lo, i_hi = (_count_range(edge, end - edge, size, kernel, stride) if end - 2 * edge > 0
                  else _count_range(0, end, size, kernel, stride))
    return {"kernel": kernel, "stride": stride, "output": out, "min": lo ** 2, "max": hi ** 2,
            "interior_min": i_lo ** 2, "interior_max": i_hi ** 2, "uneven": i_lo != i_hi}


def checkerboard_figure(size: int = 5, cases=((2, 2), (3, 2), (4, 2)), value: float = 0.5):
    """Top: copies per output pixel for each (kernel, stride). Bottom: the real ``nn.ConvTranspose2d``
    with an all-ones kernel on a constant input (``value`` everywhere): uneven overlap shows up as
    a checkerboard although the input is flat."""
    import matplotlib.pyplot as plt

    counts = [overlap_count(size, k, s) for k, s in cases]
    reals = [conv_transpose_torch(np.full((size, size), value), np.ones((k, k)), stride=s) for k, s in cases]
    cmax, rmax = max(float(c.max()) for c in counts), max(float(r.max()) for r in reals)
    fig, axes = plt.subplots(2, len(cases), figsize=(2.7 * len(cases), 5.6))
    for c, ((k, s), count, real) in enumerate(zip(cases, counts, reals)):
        f = checkerboard_facts(size, k, s)
        inside = (f"inside: {f['interior_min']} to {f['interior_max']} (uneven: checkerboard)" if f["uneven"]
                  else f"inside: {f['interior_min']} everywhere (even)")
        _grid(axes[0, c], count, cmax, f"{k}×{k} kernel, stride {s}: copies per pixel\n{inside}", cmap="Purples",
              annotate=count.shape[0] <= 14, fontsize=6)
        ax = axes[1, c]
        ax.imshow(real, cmap="gray", interpolation="nearest", vmin=0, vmax=rmax)
        ax.set_xticks([])
        ax.set_yticks([])
        values = ", ".join(_fmt(v) for v in np.unique(np.round(real, 9)))
        ax.set_title(f"real nn.ConvTranspose2d, all-ones {k}×{k},\nflat {size}×{size} input of {_fmt(value)}"
                     f" -> {real.shape[0]}×{real.shape[1]}\nvalues: {values}", fontsize=8)
    fig.tight_layout()
    return fig


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


def upsample_three_ways_figure(image, zoom: int | None = 24):
    """Show :func:`upsample_three_ways`; ``zoom`` crops the top-left ``zoom`` output pixels so the
    pixel pattern is visible (``None`` shows everything)."""
    import matplotlib.pyplot as plt

    ways = upsample_three_ways(image)
    fig, axes = plt.subplots(1, len(ways), figsize=(2.5 * len(ways), 2.9))
    for ax, (name, (a, title)) in zip(axes, ways.items()):
        show = a if (zoom is None or name == "input") else a[:zoom, :zoom]
        if name == "input" and zoom is not None:
            show = a[:zoom // 2, :zoom // 2]
        ax.imshow(show, cmap="gray", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title + ("" if zoom is None else f"\n(top-left {show.shape[0]}×{show.shape[1]} shown)"),
                     fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# the real layer: weight shape (in, out, k, k), parameters, channels 1/2
# --------------------------------------------------------------------------
def real_layer(in_channels: int = 1024, out_channels: int = 512, kernel: int = 2, stride: int = 2,
               padding: int = 0, output_padding: int = 0, device: str = "meta"):
    """A real ``nn.ConvTranspose2d``; on the ``meta`` device it has shapes but allocates no memory."""
    from torch import nn

    return nn.ConvTranspose2d(_whole("in_channels", in_channels, 1), _whole("out_channels", out_channels, 1),
                              _whole("kernel", kernel, 1), stride=_whole("stride", stride, 1),
                              padding=_whole("padding", padding, 0),
                              output_padding=_whole("output_padding", output_padding, 0), device=device)


_REAL_PARAMS = 20_000_000     # up to this many parameters the layer is built for real, on the CPU
_REAL_WORK = 2 * 10 ** 9      # and run on a map of zeros while its multiply-adds stay below this


def layer_facts(size: int = 28, in_channels: int = 1024, out_channels: int = 512, kernel: int = 2,
                stride: int = 2, padding: int = 0, output_padding: int = 0) -> dict:
    """Everything about one up-conv, read from the real layer: weight and bias shapes, parameter
    count, and the output shape of a forward pass. Defaults: the notes' bottom up-conv,
    28x28x1024 -> 56x56x512 (a real forward pass on the CPU, a fraction of a second).

    For settings too large to run in a moment, the layer lives on PyTorch's ``meta`` device (shapes
    without memory) and the output size comes from a real 1-channel twin with the same kernel,
    stride and padding; ``how`` says which was used."""
    import torch

    size, kernel, stride = _whole("size", size, 1), _whole("kernel", kernel, 1), _whole("stride", stride, 1)
    padding, output_padding = _whole("padding", padding, 0), _whole("output_padding", output_padding, 0)
    in_channels, out_channels = _whole("in_channels", in_channels, 1), _whole("out_channels", out_channels, 1)
    out = _out_size(size, kernel, stride, padding, output_padding)   # a clear message for an impossible setting
    f = up_conv_out.explain(size, kernel, stride, padding, output_padding)
    n_params = in_channels * out_channels * kernel * kernel + out_channels
    layer = real_layer(in_channels, out_channels, kernel, stride, padding, output_padding,
                       device="cpu" if n_params <= _REAL_PARAMS else "meta")
    with torch.no_grad():
        if n_params <= _REAL_PARAMS and n_params * size * size <= _REAL_WORK:
            c, h, w = layer(torch.zeros(1, in_channels, size, size)).shape[1:]
            how = "real forward pass"
        elif out <= 2048 and (kernel * size) ** 2 <= _REAL_WORK:
            twin = real_layer(1, 1, kernel, stride, padding, output_padding, device="cpu")
            h, w = twin(torch.zeros(1, 1, size, size)).shape[-2:]
            c = layer.out_channels
            how = "real forward pass of a 1-channel twin (same kernel, stride, padding)"
        else:
            try:
                c, h, w = layer.to("meta")(torch.empty(1, in_channels, size, size, device="meta")).shape[1:]
                how = "forward pass on PyTorch's meta device (shapes only)"
            except RuntimeError:  # more elements than PyTorch can count: the formula is all there is
                c, h, w = out_channels, out, out
                how = "from the formula only: PyTorch cannot even describe a map this large"
    return {
        "in_shape_notes": (size, size, in_channels),          # H x W x C, as the notes write it
        "out_shape_notes": (h, w, c),
        "in_shape": (in_channels, size, size),                # C x H x W, as PyTorch stores it
        "out_shape": (c, h, w),
        "weight_shape": tuple(layer.weight.shape),            # (in, out, k, k)
        "bias_shape": tuple(layer.bias.shape),
        "weights": layer.weight.numel(),
        "params": sum(p.numel() for p in layer.parameters()),
        "formula": f.text,
        "output": out,
        "how": how,
        "layer": (f"nn.ConvTranspose2d({in_channels}, {out_channels}, kernel_size={kernel}, stride={stride}"
                  + (f", padding={padding}" if padding else "")
                  + (f", output_padding={output_padding}" if output_padding else "") + ")"),
    }


def layer_facts_html(**kwargs) -> str:
    f = layer_facts(**kwargs)
    (hi, wi, ci), (ho, wo, co) = f["in_shape_notes"], f["out_shape_notes"]
    ws = "×".join(map(str, f["weight_shape"]))
    rows = [
        ("layer", f["layer"]),
        ("input (H×W×C)", f"{hi}×{wi}×{ci}"),
        ("output (H×W×C)", f"{ho}×{wo}×{co}   ({f['how']})"),
        ("size rule", f["formula"]),
        ("weight shape (in, out, k, k)", ws),
        ("parameters", f"{f['weights']:,} weights + {f['bias_shape'][0]:,} biases = {f['params']:,}"),
    ]
    body = "".join(f"<tr><td style='padding:1px 8px'><b>{html.escape(a)}</b></td>"
                   f"<td style='padding:1px 8px;font-family:monospace'>{html.escape(b)}</td></tr>" for a, b in rows)
    return f"<table class='ul-upconv-facts' style='font-size:13px'>{body}</table>"


# --------------------------------------------------------------------------
# an up-conv on a real picture
# --------------------------------------------------------------------------
# hand-set 3x3 kernels, so every channel of the demo can be read: a blur, the pixel itself, two edge detectors
_DEMO_KERNELS = np.array([
    np.full((3, 3), 1 / 9),
    np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]) / 2,
    np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]) / 2,
], dtype=np.float32)
DEMO_CHANNELS = ("blur", "the pixel itself", "dark-to-bright edges, left to right",
                 "dark-to-bright edges, top to bottom")


def feature_map_demo(image, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """A contracting step and an up-conv on a real image: 3x3 valid conv (1 -> 4 channels, hand-set
    kernels: a blur, the pixel itself, two edge detectors) + ReLU, 2x2 max pool (size 1/2), then a 2x2
    stride-2 up-conv 4 -> 2 channels (size x2, channels 1/2), twice: with flat kernels (each output
    channel paints a flat 2x2 block from the mean of two input channels) and with untrained,
    seeded random kernels (as PyTorch initialises them). Returns ``[(label, (C, H, W) array)]``."""
    import torch
    from torch import nn

    from ..core.inspect import as_batch

    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {img.shape}.")
    if min(img.shape) < 4:
        raise ValueError(f"image {img.shape[0]}×{img.shape[1]} is too small: the 3x3 conv and the 2x2 pool "
                         "need at least 4 pixels per side.")
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
    return [("input", x[0].numpy()), ("3x3 conv + ReLU", a[0].numpy()), ("2x2 max pool", b[0].numpy()),
            ("up-conv 2x2, s=2\n(flat kernels)", c[0].numpy()),
            ("up-conv 2x2, s=2\n(untrained, random)", d[0].numpy())]


def feature_map_figure(stages):
    """One row per stage, every panel on the same pixel scale, so a pooled map looks half as big and
    the up-conv's output twice as big as its input."""
    import matplotlib.pyplot as plt

    ncols = max(s[1].shape[0] for s in stages)
    big = max(max(s[1].shape[1:]) for s in stages)
    fig, axes = plt.subplots(len(stages), ncols, figsize=(1.45 * ncols, 1.75 * len(stages)), squeeze=False)
    for r, (label, maps) in enumerate(stages):
        c_, h, w = maps.shape
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xlim(-0.5, big - 0.5)
            ax.set_ylim(big - 0.5, -0.5)
            ax.set_xticks([])
            ax.set_yticks([])
            for sp in ax.spines.values():
                sp.set_visible(False)
            if c < c_:
                ax.imshow(maps[c], cmap="gray" if r == 0 else "viridis", interpolation="nearest")
                title = f"{label}\n{h}×{w}×{c_}, ch 0" if c == 0 else f"\nch {c}"
                if "\n" in label and c:
                    title = "\n" + title
                ax.set_title(title, fontsize=7, loc="left")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------
# the alternative: bilinear upsampling + conv
# --------------------------------------------------------------------------
def up_modes_check(input_size=572, **options) -> list[dict]:
    """Each up step of U-Net in both modes: the shape table's row next to the real ``UpSample`` module
    (its parameters, counted on the meta device, and its output size from a real forward pass of a
    1-channel twin), which must agree."""
    import torch

    from ..core.model import UpSample
    from ..core.shapes import shape_table

    rows = []
    for mode in ("upconv", "bilinear"):
        table = shape_table(input_size, **{**options, "up_mode": mode})
        for r in table.where(kind="up"):
            c_in, h, w = r.in_shape
            with torch.device("meta"):  # the full-size module's parameters, without allocating them
                module = UpSample(c_in, r.out_shape[0], mode)
            last = module.up if mode == "upconv" else module.up[-1]
            with torch.no_grad():  # the output size from a real forward pass of a 1-channel twin
                h_out, w_out = UpSample(1, 1, mode)(torch.zeros(1, 1, h, w)).shape[-2:]
            rows.append({"mode": mode, "level": r.level, "operation": r.operation, "in_shape": r.in_shape,
                         "out_shape": r.out_shape, "params": r.params,
                         "real_out_shape": (last.out_channels, h_out, w_out),
                         "real_params": sum(p.numel() for p in module.parameters())})
    return rows


def up_modes_html(input_size=572, **options) -> str:
    rows = up_modes_check(input_size, **options)
    head = ["mode", "level", "operation", "input (H×W×C)", "output (H×W×C)", "params (table)", "real module agrees"]
    body = []
    for r in rows:
        (ci, hi, wi), (co, ho, wo) = r["in_shape"], r["out_shape"]
        ok = r["real_out_shape"] == r["out_shape"] and r["real_params"] == r["params"]
        cells = [r["mode"], str(r["level"]), r["operation"], f"{hi}×{wi}×{ci}", f"{ho}×{wo}×{co}",
                 f"{r['params']:,}", "yes" if ok else f"NO: {r['real_out_shape']}, {r['real_params']:,}"]
        bg = "#eaf7ea" if r["mode"] == "upconv" else "#e8f1fb"
        body.append(f"<tr style='background:{bg}'>" + "".join(
            f"<td style='padding:1px 8px'>{html.escape(c)}</td>" for c in cells) + "</tr>")
    th = "".join(f"<th style='padding:1px 8px;text-align:left'>{html.escape(h)}</th>" for h in head)
    return (f"<table class='ul-upconv-modes' style='border-collapse:collapse;font-size:12px'>"
            f"<thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>")


# --------------------------------------------------------------------------
# the widget's view
# --------------------------------------------------------------------------
_NUMERIC_LIMIT = 2 * 10 ** 7          # multiply-adds of the numeric check; beyond, check the shape only
_DRAW_LIMIT = 96                       # largest output drawn


def _scatter_picture(size, kernel, stride, padding, output_padding):
    """Left: every input pixel's footprint (its kernel copy) on the canvas, the output window dashed.
    Right: how many copies paint each output pixel."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    counts = overlap_count(size, kernel, stride, padding, output_padding)
    full = overlap_count(size, kernel, stride)  # before trimming and extra rows
    out = counts.shape[0]
    canvas = max((size - 1) * stride + kernel, padding + out)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.2, 3.5))
    # footprints
    a1.set_xlim(-0.5, canvas - 0.5)
    a1.set_ylim(canvas - 0.5, -0.5)
    a1.set_aspect("equal")
    bg = np.zeros((canvas, canvas))
    bg[:full.shape[0], :full.shape[1]] = full
    a1.imshow(bg, cmap="Purples", interpolation="nearest", vmin=0, vmax=max(float(full.max()), 1) * 1.6)
    if size <= 8:  # each input pixel's copy as an outline, inset a little so overlapping copies stay apart
        colours = plt.get_cmap("tab10")
        for i in range(size):
            for j in range(size):
                col = colours((i * size + j) % 10)
                inset = 0.08 + 0.07 * ((i + j) % 3)
                a1.add_patch(Rectangle((j * stride - 0.5 + inset, i * stride - 0.5 + inset), kernel - 2 * inset,
                                       kernel - 2 * inset, fill=False, edgecolor=col, linewidth=1.2))
                a1.plot(j * stride, i * stride, "o", color=col, markersize=3)
    a1.add_patch(Rectangle((padding - 0.5, padding - 0.5), out, out, fill=False, edgecolor="black",
                           linewidth=1.5, linestyle="--"))
    a1.set_xticks([])
    a1.set_yticks([])
    trimmed = f", {padding} trimmed per side" if padding else ""
    extra = f", +{output_padding} at bottom/right" if output_padding else ""
    a1.set_title(f"{size}×{size} input pixels, each paints a {kernel}×{kernel} copy\n"
                 f"{stride} apart; dashed = output{trimmed}{extra}", fontsize=8)
    _grid(a2, counts, float(max(counts.max(), 4)), f"copies per output pixel ({out}×{out})", cmap="Purples",
          annotate=out <= 16, fontsize=7 if out <= 12 else 5)
    fig.tight_layout()
    return fig


def upconv_view(size: int = 4, kernel: int = 2, stride: int = 2, padding: int = 0, output_padding: int = 0,
                in_channels: int = 4, out_channels: int = 2) -> View:
    """The widget: output size and the formula with numbers, the weight shape and parameter count of the
    real layer, the scatter picture, and the real ``nn.ConvTranspose2d`` agreeing with scatter-and-sum."""
    size = _whole("size", size, 1)
    kernel = _whole("kernel", kernel, 1)
    stride = _whole("stride", stride, 1)
    padding = _whole("padding", padding, 0)
    output_padding = _whole("output_padding", output_padding, 0)
    in_channels = _whole("in_channels", in_channels, 1)
    out_channels = _whole("out_channels", out_channels, 1)
    out = _out_size(size, kernel, stride, padding, output_padding)   # raises with a clear message
    formula = up_conv_out.explain(size, kernel, stride, padding, output_padding)

    # the real layer: its output shape, weight shape and parameters
    facts = layer_facts(size, in_channels, out_channels, kernel, stride, padding, output_padding)
    real_shape, params = facts["out_shape"], facts["params"]

    # the real numbers: scatter-and-sum against nn.ConvTranspose2d on seeded random values
    work = size * size * in_channels * out_channels * kernel * kernel
    if work <= _NUMERIC_LIMIT and size <= 64 and out <= 512:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((in_channels, size, size))
        w = rng.standard_normal((in_channels, out_channels, kernel, kernel))
        ours = scatter_and_sum(x, w, stride, padding, output_padding)
        real = conv_transpose_torch(x, w, stride, padding, output_padding)
        max_diff = float(np.abs(ours - real).max())
        agrees = bool(ours.shape == real.shape and max_diff < 1e-9)
        check = (f"scatter-and-sum vs the real nn.ConvTranspose2d on random numbers: largest difference "
                 f"{max_diff:.1e} ({'they agree' if agrees else 'they DISAGREE'}).")
    elif facts["how"].startswith("from the formula"):
        max_diff, agrees = float("nan"), None
        check = ("this map is too large for PyTorch to represent, so nothing can be checked against the real "
                 "layer; the formula is the one the tests check against nn.ConvTranspose2d.")
    else:
        max_diff, agrees = float("nan"), real_shape == (out_channels, out, out)
        check = ("this setting is too large to compare every number in a widget; the real layer's output "
                 f"shape {real_shape} {'agrees' if agrees else 'DISAGREES'} with the formula.")

    f = checkerboard_facts(size, kernel, stride, padding, output_padding)
    ratio = out / size
    if f["interior_min"] == 0:
        overlap = (f"Gaps: the kernel ({kernel}) is smaller than the stride ({stride}), so some output pixels "
                   "are painted by no copy at all and stay 0 (plus the bias).")
    elif f["uneven"]:
        overlap = (f"Uneven overlap: inside the map some pixels are painted by {f['interior_min']} copies and "
                   f"their neighbours by {f['interior_max']} (the stride {stride} does not divide the kernel "
                   f"{kernel}): a checkerboard pattern, even for a flat input.")
    else:
        overlap = (f"Even overlap: away from the borders every output pixel is painted by exactly "
                   f"{f['interior_min']} cop{'y' if f['interior_min'] == 1 else 'ies'} "
                   f"(the stride {stride} divides the kernel {kernel}).")
    lines = [
        f"<p style='font-size:15px'><b>{size}×{size}×{in_channels} → {out}×{out}×{out_channels}</b> "
        f"(size ×{ratio:.3g}, channels ×{out_channels / in_channels:.3g})</p>",
        f"<p>Size rule H<sub>out</sub> = (H − 1)·s − 2p + k + output_padding: "
        f"<code class='ul-formula'>{html.escape(formula.text)}</code></p>",
        f"<p>Real layer: <code>{html.escape(facts['layer'])}</code>, output shape (C, H, W) = {real_shape} "
        f"({html.escape(facts['how'])}); weight shape (in, out, k, k) = {facts['weight_shape']}, "
        f"{params:,} parameters ({facts['weights']:,} weights + {out_channels:,} biases).</p>",
        f"<p>{html.escape(check)}</p>",
        f"<p>{html.escape(overlap)}</p>",
    ]
    canvas = max((size - 1) * stride + kernel, padding + out)
    drawable = canvas <= 2 * _DRAW_LIMIT and out <= _DRAW_LIMIT
    fig = _scatter_picture(size, kernel, stride, padding, output_padding) if drawable else None
    if fig is None:
        lines.append(f"<p><i>The picture is drawn for outputs up to {_DRAW_LIMIT} pixels (copies covering up to "
                     f"{2 * _DRAW_LIMIT}); here the output is {out} and the copies cover {canvas}.</i></p>")
    data = {"output": out, "formula": formula.text, "params": params, "weight_shape": facts["weight_shape"],
            "real_shape": real_shape, "agrees": agrees, "max_diff": max_diff,
            "min_overlap": f["interior_min"], "max_overlap": f["interior_max"], "uneven": f["uneven"]}
    return View(html="".join(lines), figure=fig, data=data)


def upconv_controls() -> dict:
    """The widget's controls: IntText boxes, so any number a student types reaches the view."""
    import ipywidgets as W

    def box(name, value, desc):
        return W.IntText(value=value, description=desc, layout=W.Layout(width="150px"))

    return {"size": box("size", 4, "input size"), "kernel": box("kernel", 2, "kernel"),
            "stride": box("stride", 2, "stride"), "padding": box("padding", 0, "padding"),
            "output_padding": box("output_padding", 0, "output_padding"),
            "in_channels": box("in_channels", 4, "in channels"), "out_channels": box("out_channels", 2, "out channels")}


# --------------------------------------------------------------------------
# exercises (answers computed here, never typed into the notebook)
# --------------------------------------------------------------------------
def _shape_hint(answer) -> str:
    f = layer_facts()
    h, w, c = f["out_shape_notes"]
    if same_answer(answer, (h, w, f["in_shape_notes"][2])):
        return "the size is right, but the channels are the layer's out_channels (the second argument)."
    if same_answer(answer, (c, h, w)):
        return "right numbers, but in PyTorch's C×H×W order; the notes (and this question) write H×W×C."
    if same_answer(answer, (f["in_shape_notes"][0], f["in_shape_notes"][1], c)):
        return "the channels are right; now the size: (H - 1)*s - 2p + k with H=28, s=2, p=0, k=2."
    return "write it as 'HxWxC'. Size: (H - 1)*s - 2p + k; channels: the layer's out_channels."


def _params_hint(answer) -> str:
    f = layer_facts()
    if same_answer(answer, f["weights"]):
        return "that is the weights only: every output channel also has one bias."
    if same_answer(answer, f["params"] - f["bias_shape"][0] + f["in_shape"][0]):
        return "one bias per *output* channel, not per input channel."
    return "weights: in × out × k × k (the weight's shape is (in, out, k, k)); add one bias per output channel."


def _size_hint(answer) -> str:
    h, k, s, p, op = 5, 3, 2, 1, 1
    right = up_conv_out(h, k, s, p, op)
    if same_answer(answer, right - op):
        return "you forgot the output_padding: it adds its rows at the end."
    if same_answer(answer, right + 2 * p):
        return "padding trims p rows from *each* side of the output: subtract 2p."
    if same_answer(answer, right + 1):
        return "no '+ 1' here, and it is not simply H*s: (H - 1)*s - 2p + k + output_padding."
    return "(H - 1)*s - 2p + k + output_padding, with H=5, s=2, p=1, k=3, output_padding=1."


EX_SHAPE = Exercise(
    "3.1",
    "The notes' up-conv: the bottom map 28×28×1024 goes through nn.ConvTranspose2d(1024, 512, kernel_size=2, "
    "stride=2). What comes out? Answer as H×W×C, like the notes (e.g. '10x10x3').",
    expected=lambda: layer_facts()["out_shape_notes"],
    hint=_shape_hint,
    explanation="(28 - 1)*2 + 2 = 56: size ×2, and 512 kernels: channels 1/2, exactly the notes' 56×56×512.",
)

EX_PARAMS = Exercise(
    "3.2",
    "How many learned parameters does that up-conv, nn.ConvTranspose2d(1024, 512, kernel_size=2, stride=2), have?",
    expected=lambda: layer_facts()["params"],
    hint=_params_hint,
    explanation="weight (1024, 512, 2, 2) = 2,097,152 numbers, plus 512 biases: one 2×2 kernel per "
                "(input channel, output channel) pair.",
)

EX_SIZE_RULE = Exercise(
    "3.3",
    "A 5×5 map goes through nn.ConvTranspose2d(..., kernel_size=3, stride=2, padding=1, output_padding=1). "
    "What is the output's height?",
    expected=lambda: up_conv_out(5, kernel=3, stride=2, padding=1, output_padding=1),
    hint=_size_hint,
    explanation="(5 - 1)*2 - 2*1 + 3 + 1 = 10: this common setting also doubles the size (2H), but its "
                "3×3 kernel overlaps unevenly.",
)

_OVERLAP_CHOICES = {"a": (3, 2), "b": (5, 2), "c": (2, 2), "d": (4, 3)}

EX_OVERLAP = Exercise(
    "3.4",
    "Which up-conv paints every output pixel (away from the borders) with the same number of kernel copies, "
    "so that a flat input gives a flat output with an all-ones kernel?",
    expected=lambda: next(letter for letter, (k, s) in _OVERLAP_CHOICES.items() if not uneven_overlap(k, s)),
    hint="copies of width k placed s apart cover a pixel k/s times on average; the count is the same for every "
         "pixel only when s divides k. Try them in the widget and watch the 'copies per pixel' map.",
    explanation="2×2 with stride 2: each input pixel paints its own 2×2 block, the blocks tile the output "
                "without overlap, so nothing is painted twice. That is U-Net's up-conv.",
    choices={letter: f"{k}×{k} kernel, stride {s}" + (" (U-Net's up-conv)" if (k, s) == (2, 2) else "")
             for letter, (k, s) in _OVERLAP_CHOICES.items()},
)

EX_SLIP = Exercise(
    "3.5",
    "Spot the slip: a sketch in the notes reads 16²×1024 → up-conv 2×2 → 64²×512. What size does a 2×2, "
    "stride-2 up-conv really give for a 16×16 map? (one number: its height)",
    expected=lambda: up_conv_out(16, kernel=2, stride=2),
    hint="the notes themselves say 'size ×2': (16 - 1)*2 + 2.",
    explanation="16 -> 32. A 2×2 stride-2 up-conv doubles; it cannot reach 64 from 16. With same padding the "
                "bottom stays 32²×1024, and the up-conv then gives 64²×512, as the notes intended.",
)

EX_CENTRE = Exercise(
    "3.6",
    "In the step-by-step example (input [[1, 2], [3, 4]], the 3×3 kernel [[1, 2, 1], [2, 4, 2], [1, 2, 1]], "
    "stride 2) what is the value of the output's centre pixel, at row 2, column 2?",
    expected=lambda: float(scatter_and_sum(EXAMPLE_INPUT, EXAMPLE_KERNEL, stride=2)[2, 2]),
    hint="all four input pixels paint the centre: each contributes its value × the kernel entry that lands "
         "there (a corner of the kernel, which is 1). Add them up.",
    explanation="1·1 + 2·1 + 3·1 + 4·1 = 10: the centre is where all four copies overlap.",
)

EXERCISES = [EX_SHAPE, EX_PARAMS, EX_SIZE_RULE, EX_OVERLAP, EX_SLIP, EX_CENTRE]
