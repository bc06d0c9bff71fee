r"""Segment whole images: mirror-pad to a size the network takes, run once, crop back.

A valid-padding U-Net's output is smaller than its input by a margin on every side (92 px for the
paper's network), and its output pixel ``j`` sits over input pixel ``j + margin``. So the image is
mirror-padded (the paper: "the missing context is extrapolated by mirroring the input image") by
the margin on top and left, and on the bottom and right by the margin plus whatever makes the
padded image a valid input; the output then covers the image exactly, pixel on pixel. A
same-padding U-Net has no margin: the image is padded up to the next valid size and the output
cropped back.

* :func:`pad_for_network` - that padding, for any image size;
* :func:`predict_scores` - one image -> the class scores (num_classes, H, W), before softmax;
* :func:`predict` - a stack of grey images -> binary masks or foreground probabilities;
* :func:`probabilities`, :func:`foreground` - softmax over the classes, and class 1 of it.

Overlap-tile (:mod:`unet_lesson.seg.tiling`) reproduces :func:`predict_scores` tile by tile.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.env import cpu_threads
from ..core.ops import mirror_pad
from ..core.search import input_size_for
from ..core.shapes import output_size

__all__ = ["pad_for_network", "as_image", "as_stack", "predict_scores", "predict", "probabilities", "foreground"]


def pad_for_network(height: int, width: int, options) -> tuple[int, int, int, int]:
    """Mirror padding (top, bottom, left, right) after which the network's output covers an image of
    ``height`` x ``width`` exactly, its pixel (0, 0) over the image's pixel (0, 0)."""
    sh, sw = input_size_for(height, options), input_size_for(width, options)
    oh, ow = output_size((sh, sw), options)
    # the output pixel j sits over input pixel j + (S - out) // 2: pad by that much on top/left
    top, left = (sh - oh) // 2, (sw - ow) // 2
    return top, sh - height - top, left, sw - width - left


def _array(x) -> np.ndarray:
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float32)


def as_image(image, in_channels: int) -> np.ndarray:
    """One image as (C, H, W) float32: (H, W) (repeated over the channels), (C, H, W), or (1, C, H, W)."""
    a = _array(image)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"An image is (H, W) or (C, H, W); got shape {a.shape}.")
    if a.shape[0] != in_channels:
        if a.shape[0] != 1:
            raise ValueError(f"The image has {a.shape[0]} channels but the network expects {in_channels}.")
        a = np.repeat(a, in_channels, axis=0)
    return a


def as_stack(images, in_channels: int) -> tuple[np.ndarray, bool]:
    """A stack (N, C, H, W) float32 from one image (H, W) or a stack (N, H, W) of grey images (for a
    1-channel network) or (N, C, H, W); and whether one image (H, W) was given."""
    a = _array(images)
    if a.ndim == 2:
        return as_image(a, in_channels)[None], True
    if a.ndim == 3 and in_channels == 1:
        return a[:, None], False
    if a.ndim == 4 and a.shape[1] == in_channels:
        return a, False
    raise ValueError(
        f"Images for this network are (H, W){', (N, H, W)' if in_channels == 1 else ''} or "
        f"(N, {in_channels}, H, W); got shape {a.shape}."
    )


@torch.no_grad()
def _scores(model, stack: np.ndarray, batch_size: int, num_threads: int | None) -> np.ndarray:
    """Class scores (N, num_classes, H, W) of a stack (N, C, H, W), one padded forward pass per batch."""
    o = model.options
    h, w = stack.shape[-2:]
    top, bottom, left, right = pad_for_network(h, w, o)
    padded = mirror_pad(stack, top, bottom, left, right)
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None else torch.float32
    was_training = model.training
    model.eval()
    outs = []
    try:
        with cpu_threads(num_threads if device.type == "cpu" else None):
            for k in range(0, len(padded), max(1, int(batch_size))):
                x = torch.from_numpy(np.ascontiguousarray(padded[k : k + batch_size])).to(device, dtype)
                outs.append(model(x)[..., :h, :w].float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(outs)


def predict_scores(model, image, *, num_threads: int | None = 1) -> np.ndarray:
    """The whole image in one forward pass: class scores (num_classes, H, W), float32 (before softmax).

    ``image`` is (H, W) or (C, H, W). This is the reference overlap-tile is compared with."""
    stack = as_image(image, model.options.in_channels)[None]
    return np.ascontiguousarray(_scores(model, stack, 1, num_threads)[0])


def probabilities(scores) -> np.ndarray:
    """Softmax over the class axis of (C, H, W) or (N, C, H, W) scores (a sigmoid for one class)."""
    s = np.asarray(scores, dtype=np.float64)
    axis = -3
    if s.shape[axis] == 1:
        return (1 / (1 + np.exp(-s))).astype(np.float32)
    e = np.exp(s - s.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def foreground(scores) -> np.ndarray:
    """The foreground probability map: class 1 of the softmax (the only class for one), (H, W) or (N, H, W)."""
    p = probabilities(scores)
    return p[..., min(1, p.shape[-3] - 1), :, :]


def predict(
    model, images, device=None, batch_size: int = 8, probabilities: bool = False, num_threads: int | None = 1
) -> np.ndarray:
    """Segment whole images: (H, W), (N, H, W) or (N, C, H, W) -> binary masks (uint8, foreground
    probability > 0.5) of shape (H, W) or (N, H, W); the probabilities themselves with ``probabilities=True``.

    ``device`` moves the model first (default: where it is); ``num_threads``: CPU threads while
    predicting (:func:`unet_lesson.core.env.cpu_threads`)."""
    if device is not None:
        model.to(device)
    stack, single = as_stack(images, model.options.in_channels)
    if stack.shape[0] == 0:
        raise ValueError("There are no images to predict (an empty stack).")
    prob = foreground(_scores(model, stack, batch_size, num_threads))
    out = prob if probabilities else (prob > 0.5).astype(np.uint8)
    return out[0] if single else out
