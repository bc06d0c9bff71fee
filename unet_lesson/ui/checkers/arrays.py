r"""Checkers of the array operations students write by hand (lessons 02-05), against real layers.

* :func:`check_max_pool`: ``max_pool(x, k, s)`` on a 2-D numpy array vs ``nn.MaxPool2d``;
* :func:`check_conv_transpose`: ``conv_transpose(x, w, stride)`` (scatter and sum) vs ``nn.ConvTranspose2d``;
* :func:`check_center_crop`: ``center_crop(skip, target_hw)`` on (C, H, W) tensors vs the package's crop
  (:func:`unet_lesson.core.sizes.center_crop_box` gives the offsets);
* :func:`check_crop_and_concat`: ``crop_and_concat(skip, up)`` on (N, C, H, W) tensors vs
  :class:`unet_lesson.CropAndConcat` (the copied map's channels first);
* :func:`check_head`: ``head(features, weight, bias)``, the 1x1 conv as a matrix product, vs
  ``nn.Conv2d(C_in, C_out, 1)``.

The inputs are small (at most 64×64) and made by a local, seeded numpy generator.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ...core.model import CropAndConcat
from ...core.sizes import center_crop_box
from . import solutions
from ._engine import Run, as_array, checker, compare_arrays, shape_words

__all__ = [
    "check_max_pool",
    "check_conv_transpose",
    "check_center_crop",
    "check_crop_and_concat",
    "check_head",
    "MAX_POOL_CASES",
    "CONV_TRANSPOSE_CASES",
    "CROP_CASES",
    "CONCAT_CASES",
    "HEAD_CASES",
]


def _ints(shape, seed: int, low: int = -9, high: int = 9) -> np.ndarray:
    """Small whole numbers as floats, from a local generator (the global RNG is never touched)."""
    return np.random.default_rng(seed).integers(low, high + 1, size=shape).astype(np.float64)


# ---- lesson 02: max_pool(x, k, s) -------------------------------------------------------------
# (H, W, k, s, all values negative), a row per kind of case
# fmt: off
MAX_POOL_CASES = (
    (4, 4, 2, 2, False), (6, 6, 2, 2, False),                       # 2x2/2 on even squares
    (5, 5, 2, 2, False), (4, 6, 2, 2, False), (7, 5, 2, 2, False),  # odd (last row dropped), rectangles
    (6, 6, 3, 2, False), (7, 7, 3, 2, False), (5, 8, 3, 2, False),  # k=3, s=2: windows overlap
    (3, 3, 3, 3, False), (5, 5, 2, 1, False), (2, 2, 2, 2, False),  # one window, stride 1
    (4, 4, 2, 2, True),                                             # every value negative
)
# fmt: on


def _real_max_pool(x: np.ndarray, k: int, s: int, ceil_mode: bool = False) -> np.ndarray:
    with torch.no_grad():
        return F.max_pool2d(torch.from_numpy(x)[None, None], k, s, ceil_mode=ceil_mode)[0, 0].numpy()


def _pool_by(x: np.ndarray, k: int, s: int, reduce, ceil: bool = False, start=None) -> np.ndarray:
    """A slip's pooling: ``reduce`` over each window (windows hanging over the edge with ``ceil``)."""
    h, w = x.shape
    n_h = -(-(h - k) // s) + 1 if ceil else (h - k) // s + 1
    n_w = -(-(w - k) // s) + 1 if ceil else (w - k) // s + 1
    out = np.empty((n_h, n_w))
    for i in range(n_h):
        for j in range(n_w):
            win = x[i * s : i * s + k, j * s : j * s + k]
            out[i, j] = reduce(win) if start is None else max(start, reduce(win))
    return out


def _pool_shape_hint(yours: tuple, real: tuple) -> str:
    if len(yours) == 2 and yours == real[::-1]:
        return "rows and columns are swapped: the first index is the row (height), the second the column."
    if len(yours) == 2 and yours[0] == real[0]:
        return "the rows are right, the columns not: the width W gives its own count, (W - k) // s + 1."
    if len(yours) == 2 and yours[1] == real[1]:
        return "the columns are right, the rows not: the height H gives its own count, (H - k) // s + 1."
    return ""


@checker("nn.MaxPool2d", solutions.max_pool)
def check_max_pool(run: Run, max_pool) -> str:
    """Check ``max_pool(x, k, s)`` on 2-D arrays against ``nn.MaxPool2d(k, s)``."""
    for n, (h, w, k, s, negative) in enumerate(run.each(MAX_POOL_CASES)):
        x = -_ints((h, w), n, 1, 9) if negative else _ints((h, w), n)
        case = f"a {h}×{w} input{' of negative numbers' if negative else ''}, k={k}, s={s}"
        real = _real_max_pool(x, k, s)
        yours = run.call(case, max_pool, x.copy(), k, s)
        slips = [
            (
                lambda: _pool_by(x, k, s, np.max, start=0.0),
                "yours starts the maximum at 0: with negative numbers the maximum is below 0; start from the "
                "window's first value (or use window.max()).",
            ),
            (lambda: _pool_by(x, k, s, np.mean), "that is average pooling: a max pool keeps the largest value."),
            (lambda: _real_max_pool(x, k, 1), "the stride: the windows start s pixels apart, not 1."),
            (
                lambda: _real_max_pool(x, k, s, ceil_mode=True),
                "a window that hangs over the edge is dropped (floor, PyTorch's default): the last row of an odd map "
                "is not pooled.",
            ),
            (
                lambda: _real_max_pool(x.T.copy(), k, s).T,
                "rows and columns are swapped: the first index is the row (height), the second the column.",
            ),
        ]
        compare_arrays(
            run, case, yours, real, slips=slips, shape_hint=lambda shape: _pool_shape_hint(shape, real.shape)
        )
    return run.agreed("odd sizes, rectangles, k=3 with s=2, stride 1, negative numbers.")


# ---- lesson 03: conv_transpose(x, w, stride) --------------------------------------------------
# (H, W, k, stride), a row per kind of case
# fmt: off
CONV_TRANSPOSE_CASES = (
    (2, 2, 2, 2), (3, 3, 2, 2), (2, 3, 2, 2),                     # U-Net's 2x2/2 (no overlap), a rectangle
    (2, 2, 3, 2), (3, 2, 3, 2),                                   # 3x3/2: uneven overlap
    (3, 3, 3, 1), (2, 4, 3, 1),                                   # 3x3/1: heavy overlap
    (1, 1, 3, 2), (3, 3, 1, 2),                                   # a 1x1 input (the kernel itself), a 1x1 kernel (gaps)
    (2, 2, 4, 2), (3, 3, 2, 1),                                   # 4x4/2, 2x2/1
)
# fmt: on


def _real_conv_transpose(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    with torch.no_grad():
        return F.conv_transpose2d(torch.from_numpy(x)[None, None], torch.from_numpy(w)[None, None], stride=stride)[
            0, 0
        ].numpy()


def _scatter(x: np.ndarray, w: np.ndarray, step: int, add: bool = True, size=None) -> np.ndarray:
    """A slip's scatter: copies ``step`` apart, added or overwritten, on a canvas of ``size``."""
    (h, wd), (kh, kw) = x.shape, w.shape
    canvas = np.zeros(((h - 1) * step + kh, (wd - 1) * step + kw))
    for i in range(h):
        for j in range(wd):
            block = canvas[i * step : i * step + kh, j * step : j * step + kw]
            block[...] = block + x[i, j] * w if add else x[i, j] * w
    return canvas if size is None else canvas[: size[0], : size[1]]


@checker("nn.ConvTranspose2d", solutions.conv_transpose)
def check_conv_transpose(run: Run, conv_transpose) -> str:
    """Check ``conv_transpose(x, w, stride)`` (x: (H, W), w: (k, k)) against ``nn.ConvTranspose2d``."""
    for n, (h, w_, k, s) in enumerate(run.each(CONV_TRANSPOSE_CASES)):
        x = _ints((h, w_), 100 + n, -3, 4)
        kernel = _ints((k, k), 200 + n, -2, 3)
        kernel[0, -1] += 5  # never symmetric: a flipped kernel shows
        case = f"a {h}×{w_} input, a {k}×{k} kernel, stride {s}"
        real = _real_conv_transpose(x, kernel, s)
        yours = run.call(case, conv_transpose, x.copy(), kernel.copy(), s)
        slips = [
            (
                lambda: _real_conv_transpose(x, kernel[::-1, ::-1].copy(), s),
                "yours flips the kernel: a transposed convolution paints each copy of the kernel as it is.",
            ),
            (
                lambda: _scatter(x, kernel, s, add=False),
                "where copies of the kernel overlap, add them (+=); yours overwrites the earlier copy.",
            ),
            (
                lambda: _scatter(x, kernel, s, size=(h * s, w_ * s)),
                "the last copy hangs over: the output is (H - 1)·s + k wide, not H·s.",
            ),
            (lambda: _real_conv_transpose(x, kernel, 1), "the stride: the copies are s pixels apart."),
            (lambda: _scatter(x, kernel, k), "the copies are s (the stride) pixels apart, not k."),
        ]
        compare_arrays(run, case, yours, real, slips=slips)
    return run.agreed("2×2 and 3×3 kernels with strides 1 and 2, rectangles, a 1×1 input and a 1×1 kernel.")


# ---- lesson 04: center_crop(skip, target_hw) and crop_and_concat(skip, up) --------------------
# ((C, H, W), (h, w)), a row per kind of case
# fmt: off
CROP_CASES = (
    ((1, 8, 8), (4, 4)), ((2, 64, 64), (56, 56)),                 # even differences, the paper's 64 -> 56
    ((1, 7, 7), (4, 4)), ((1, 9, 8), (4, 5)),                     # odd differences (the extra row goes to the bottom)
    ((3, 5, 5), (5, 5)),                                          # equal sizes: nothing to crop
    ((1, 6, 9), (6, 5)), ((2, 10, 7), (3, 6)), ((1, 3, 3), (1, 1)),  # rectangles, one axis only, one pixel
)
# fmt: on


def _package_crop(skip: torch.Tensor, target) -> torch.Tensor:
    rows, cols = center_crop_box(tuple(skip.shape[-2:]), tuple(target)).slices
    return skip[..., rows, cols]


def _numbered(shape, negative: bool = False) -> torch.Tensor:
    """0, 1, 2, ... (or -1, -2, ...) in a tensor of ``shape``: each value says where it came from."""
    t = torch.arange(int(np.prod(shape)), dtype=torch.float32).reshape(shape)
    return -1 - t if negative else t


def _crop_hint(skip: torch.Tensor, target, yours: Any) -> str:
    """Where the student's crop starts, when it is a window of the input: name the slip."""
    arr = as_array(yours)
    (h, w), (th, tw) = skip.shape[-2:], target
    box = center_crop_box((h, w), (th, tw))
    if arr is None or arr.ndim < 2 or arr.size == 0:
        return ""
    if arr.shape[-2:] == (th, w):
        return "yours crops the rows only: the width has to be cropped too."
    if arr.shape[-2:] == (h, tw):
        return "yours crops the columns only: the height has to be cropped too."
    if arr.shape[-2:] != (th, tw):
        return ""
    first = int(arr.reshape(-1)[0])
    top, left = divmod(first % (h * w), w)
    if not torch.equal(torch.from_numpy(arr).float(), skip[..., top : top + th, left : left + tw]):
        return ""
    where = f"yours starts at row {top}, column {left}; the centre crop at row {box.top}, column {box.left}: "
    if (top, left) == (0, 0):
        return where + "yours crops from the top-left corner; cut the same from both sides."
    if (top, left) == ((h - th + 1) // 2, (w - tw + 1) // 2):
        return where + (
            "yours rounds the offset up (as torchvision's center_crop does); the package rounds "
            "down, (H - h) // 2, so an odd extra row is cut at the bottom."
        )
    if (top, left) == (h - th, w - tw):
        return where + "that is the whole cut; half of it goes on top (and on the left)."
    if (top, left) == ((w - tw) // 2, (h - th) // 2):
        return where + "the rows' offset comes from the heights, the columns' from the widths."
    return where.rstrip(": ") + "."


@checker("the package's centre crop", solutions.center_crop)
def check_center_crop(run: Run, center_crop) -> str:
    """Check ``center_crop(skip, (h, w))`` on (C, H, W) tensors against ``center_crop_box``'s window."""
    for shape, target in run.each(CROP_CASES):
        skip = _numbered(shape)
        c, h, w = shape
        case = f"a {h}×{w} map ({c} channel{'s' if c > 1 else ''}) cropped to {target[0]}×{target[1]}"
        real = _package_crop(skip, target).numpy().astype(np.float64)
        yours = run.call(case, center_crop, skip.clone(), tuple(target))
        hint = _crop_hint(skip, target, yours)
        compare_arrays(run, case, yours, real, hint=hint)
    return run.agreed(
        "even and odd differences (the extra row goes to the bottom), rectangles, equal sizes.",
        real="unet_lesson's centre crop",
    )


# ((N, C_copied, H, W), (C_up, h, w)), a row per kind of case
# fmt: off
CONCAT_CASES = (
    ((1, 2, 6, 6), (2, 4, 4)), ((1, 3, 7, 7), (2, 4, 4)),         # equal and different channels, an odd difference
    ((2, 2, 9, 8), (1, 4, 5)), ((1, 2, 5, 5), (3, 5, 5)),         # a batch of 2 and a rectangle, equal sizes
    ((2, 4, 64, 64), (4, 56, 56)),                                # the paper's level 1: 64 -> 56
)
# fmt: on


def _concat_error_hint(exc: BaseException) -> str:
    text = str(exc)
    if "Sizes of tensors must match except in dimension 1" in text:
        return "crop the copied map to the up-conv map's height and width first; then the channels can be stacked."
    if "Sizes of tensors must match except in dimension" in text:
        return "concatenate along the channels, dim=1 (dim 0 is the batch, dims 2 and 3 the height and width)."
    return ""


@checker(
    "unet_lesson.CropAndConcat",
    solutions.crop_and_concat,
    needs=(solutions.center_crop,),
    error_hint=_concat_error_hint,
)
def check_crop_and_concat(run: Run, crop_and_concat) -> str:
    """Check ``crop_and_concat(skip, up)`` on (N, C, H, W) tensors against ``unet_lesson.CropAndConcat``."""
    module = CropAndConcat()
    for skip_shape, (c_up, h, w) in run.each(CONCAT_CASES):
        skip = _numbered(skip_shape)
        up = _numbered((skip_shape[0], c_up, h, w), negative=True)
        case = f"a copied map of shape {tuple(skip_shape)} and an up-conv map of shape {tuple(up.shape)}"
        with torch.no_grad():
            real = module(up, skip).numpy().astype(np.float64)
        yours = run.call(case, crop_and_concat, skip.clone(), up.clone())
        cropped = _package_crop(skip, (h, w))
        slips = [
            (
                lambda: torch.cat([up, cropped], dim=1),
                "the copied map comes first: torch.cat([copied, up], dim=1), as unet_lesson.CropAndConcat does.",
            ),
            (lambda: torch.cat([cropped, up], dim=0), "that stacks along dim 0, the batch; the channels are dim=1."),
            (
                lambda: torch.cat([up, cropped], dim=0),
                "that stacks along dim 0, the batch; the channels are dim=1 (and the copied map comes first).",
            ),
            (lambda: torch.cat([cropped, up], dim=2), "that stacks along the height (dim 2); the channels are dim=1."),
            (lambda: torch.cat([cropped, up], dim=3), "that stacks along the width (dim 3); the channels are dim=1."),
        ]
        compare_arrays(run, case, yours, real, slips=slips)
    return run.agreed(
        "the copied map cropped and put first, batches of 1 and 2, different channel counts, odd differences, "
        "equal sizes."
    )


# ---- lesson 05: head(features, weight, bias) --------------------------------------------------
# (C_in, C_out, H, W): first a square weight on a map as wide as C_out (so a transposed weight and a bias
# added along the width give wrong numbers, not an error), then fewer and more channels out, rectangles,
# one pixel, the paper's 64 -> 2
HEAD_CASES = ((2, 2, 3, 2), (3, 2, 4, 4), (3, 4, 2, 4), (1, 3, 2, 5), (4, 1, 1, 1), (64, 2, 6, 6))


def _real_head(features: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return F.conv2d(
            torch.from_numpy(features)[None], torch.from_numpy(weight)[:, :, None, None], torch.from_numpy(bias)
        )[0].numpy()


def _head_error_hint(exc: BaseException) -> str:
    if "broadcast" in str(exc) or "operand" in str(exc) or "mismatch" in str(exc) or "shape" in str(exc):
        return (
            "check the shapes: features (C_in, H, W), weight (C_out, C_in), bias (C_out,); numpy lines shapes "
            "up from the last axis, so the bias needs the shape (C_out, 1, 1) to be added per channel."
        )
    return ""


@checker("nn.Conv2d(C_in, C_out, 1)", solutions.head, error_hint=_head_error_hint)
def check_head(run: Run, head) -> str:
    """Check ``head(features (C_in, H, W), weight (C_out, C_in), bias (C_out,))`` against a 1x1 ``nn.Conv2d``."""
    for n, (c_in, c_out, h, w) in enumerate(run.each(HEAD_CASES)):
        features = _ints((c_in, h, w), 300 + n)
        weight = _ints((c_out, c_in), 400 + n, -3, 3)
        bias = _ints((c_out,), 500 + n, 1, 5)  # never 0: a missing bias shows
        case = (
            f"features of shape {shape_words((c_in, h, w))} (C_in={c_in}), weight {shape_words((c_out, c_in))}, "
            f"bias ({c_out},)"
        )
        real = _real_head(features, weight, bias)
        yours = run.call(case, head, features.copy(), weight.copy(), bias.copy())
        slips = [
            (
                lambda: real - bias[:, None, None],
                "yours differs from nn.Conv2d by exactly the bias: add bias[o] to every pixel of output channel o.",
            ),
            (
                lambda: _real_head(features, weight.T.copy(), bias) if c_in == c_out else None,
                "yours uses the transposed weight: output channel o is sum over i of weight[o, i] · features[i].",
            ),
            (
                lambda: real - bias[:, None, None] + bias,
                "the bias was added along the width (numpy broadcasts from the last axis): reshape it to "
                "(C_out, 1, 1), bias[:, None, None].",
            ),
            (
                lambda: (weight[:, :, None, None] * features[None]).sum(axis=0) + bias[:, None, None],
                "that sums over the output channels; sum over the input channels (axis 1 of weight[:, :, None, None] "
                "* features[None]), one sum per output channel.",
            ),
        ]
        compare_arrays(
            run,
            case,
            yours,
            real,
            slips=slips,
            shape_hint=lambda shape: (
                "sum over the input channels (axis 0 of features): the output has one map per output channel, "
                "(C_out, H, W)."
            ),
        )
    return run.agreed(
        "fewer, as many and more output channels, rectangles, one pixel, the paper's 64 -> 2.", real="a 1×1 nn.Conv2d"
    )
