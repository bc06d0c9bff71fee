"""Look inside a network: the feature maps every layer produces for one image."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

__all__ = ["feature_maps", "as_batch", "recorded_shapes"]


def as_batch(image, channels: int = 1, device=None) -> torch.Tensor:
    """A 2-D image (H, W), (C, H, W) array or tensor as a float batch (1, C, H, W) (a copy for a read-only
    array, such as the course's cached sample picture, so the tensor never shares memory it may not write)."""
    if torch.is_tensor(image):
        t = image.float()
    else:
        a = np.asarray(image, dtype=np.float32)
        t = torch.from_numpy(a if a.flags.writeable else a.copy())
    if t.ndim == 2:
        t = t[None]
    if t.ndim == 3:
        t = t[None]
    if t.shape[1] == 1 and channels > 1:
        t = t.repeat(1, channels, 1, 1)
    return t.to(device) if device is not None else t


@contextmanager
def _hooks(model: nn.Module, names, store: dict, keep_tensors: bool):
    handles = []
    modules = dict(model.named_modules())
    for name in names:
        if name not in modules:
            raise KeyError(f"{name!r} is not a submodule; try one of {[n for n in modules if n][:12]}...")

        def hook(_m, _inp, out, name=name):
            store[name] = out.detach() if keep_tensors else tuple(out.shape)

        handles.append(modules[name].register_forward_hook(hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def feature_maps(model: nn.Module, image, modules: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Run ``model`` once on ``image`` and return the output of each named submodule (on the CPU).

    ``modules`` defaults to every row of the U-Net's shape table (convs, pools, up-convs, crops,
    concatenations, head), in forward order.
    """
    if modules is None:
        from .shapes import shape_table  # local: avoids a cycle

        x = as_batch(image)
        modules = [r.module for r in shape_table(tuple(x.shape[-2:]), model.options)]
    store: dict = {}
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with _hooks(model, modules, store, keep_tensors=True):
            model(as_batch(image, device=device))
    finally:
        model.train(was_training)
    return {name: store[name].cpu() for name in modules if name in store}


@torch.no_grad()
def recorded_shapes(model: nn.Module, x: torch.Tensor, modules: list[str]) -> dict[str, tuple]:
    """The output shape of each named submodule in one real forward pass (used to prove the shape table)."""
    store: dict = {}
    with _hooks(model, modules, store, keep_tensors=False):
        model(x)
    return store
