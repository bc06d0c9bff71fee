"""Small pretrained U-Nets shipped with the course (``unet_lesson/checkpoints/*.pt``).

* ``load_pretrained("same")``: the lesson's small same-padding U-Net (``LESSON_OPTIONS``), used by
  the explorer to show meaningful feature maps and by lesson 08 to compare with a live run;
* ``load_pretrained("valid")``: a small valid-padding U-Net (``VALID_OPTIONS``), used by the
  overlap-tile lesson 09.

Both are trained on the course's generated cell images (:mod:`unet_lesson.seg.data`), with fixed
seeds, by one command from the repository root::

    python scripts/make_checkpoints.py

Each file is a plain dictionary (weights, ``model.options``, metadata), read with
``torch.load(..., weights_only=True)``. ``PRETRAINED_INFO[padding]`` is the metadata: the
UNet options, the training recipe and data seeds, and the held-out Dice/IoU it reached.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ..core.model import UNet
from .train import (LESSON_DATA, LESSON_OPTIONS, LESSON_TRAIN, VALID_OPTIONS, evaluate, lesson_model,
                    load_checkpoint, model_from_checkpoint, otsu_baseline, save_checkpoint, train)

__all__ = ["CHECKPOINT_DIR", "FILES", "RECIPES", "COMMAND", "checkpoint_path", "load_pretrained",
           "pretrained_info", "make_checkpoint", "PRETRAINED_INFO"]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
FILES = {"same": "unet_same.pt", "valid": "unet_valid.pt"}
COMMAND = "python scripts/make_checkpoints.py"

#: How each shipped checkpoint is made (fixed seeds; CPU, one thread, so it is reproducible).
RECIPES = {
    "same": dict(options=dict(LESSON_OPTIONS), init_seed=0, train_seed=0, steps=400,
                 **{k: v for k, v in LESSON_TRAIN.items() if k != "eval_every"}, eval_every=20),
    "valid": dict(options=dict(VALID_OPTIONS), init_seed=0, train_seed=0, steps=600,
                  **{k: v for k, v in LESSON_TRAIN.items() if k != "eval_every"}, eval_every=25),
}


def _check_padding(padding: str) -> str:
    if padding not in FILES:
        raise ValueError(f"there is a pretrained model for padding 'same' and 'valid', not {padding!r}")
    return padding


def checkpoint_path(padding: str = "same", directory=None) -> Path:
    return Path(directory or CHECKPOINT_DIR) / FILES[_check_padding(padding)]


def load_pretrained(padding: str = "same", device=None, directory=None) -> UNet | None:
    """The shipped model for ``padding`` ("same" or "valid"), in eval mode, built from the options
    stored with it; ``None`` if the file is not there (run ``python scripts/make_checkpoints.py``)."""
    path = checkpoint_path(padding, directory)
    if not path.exists():
        return None
    return model_from_checkpoint(load_checkpoint(path), device=device)


def pretrained_info(padding: str = "same", directory=None) -> dict | None:
    """Metadata of the shipped model: options, recipe, data seeds, held-out Dice/IoU (None if no file)."""
    path = checkpoint_path(padding, directory)
    if not path.exists():
        return None
    ck = load_checkpoint(path)
    return {"options": dict(ck["options"]), **ck.get("meta", {}), "file": str(path),
            "size_kb": round(path.stat().st_size / 1024, 1)}


def __getattr__(name):  # PRETRAINED_INFO is read from the files on first use
    if name == "PRETRAINED_INFO":
        return {p: pretrained_info(p) for p in FILES}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_checkpoint(padding: str = "same", directory=None, steps: int | None = None, progress: bool = True) -> dict:
    """Train the shipped model for ``padding`` from its recipe and save it (atomically). Returns its metadata."""
    from .data import make_dataset

    recipe = dict(RECIPES[_check_padding(padding)])
    if steps is not None:
        recipe["steps"] = int(steps)
    d = LESSON_DATA
    tr = make_dataset(d["n_train"], d["size"], seed=d["train_seed"])
    va = make_dataset(d["n_val"], d["size"], seed=d["val_seed"])
    model = lesson_model(padding, seed=recipe["init_seed"], **{k: v for k, v in recipe["options"].items()
                                                               if k != "padding"})
    t0 = time.perf_counter()
    res = train(model, tr, va, steps=recipe["steps"], batch_size=recipe["batch_size"], tile=recipe["tile"],
                lr=recipe["lr"], seed=recipe["train_seed"], eval_every=recipe["eval_every"], device="cpu",
                num_threads=1, progress=progress)
    wall = time.perf_counter() - t0
    m = evaluate(res.model, va)
    meta = {"recipe": {k: v for k, v in recipe.items() if k != "options"}, "data": dict(d),
            "held_out_dice": round(m["dice"], 4), "held_out_iou": round(m["iou"], 4),
            "otsu_dice": round(otsu_baseline(va)["dice"], 4), "best_step": res.best_step,
            "train_seconds": round(res.seconds, 1), "wall_seconds": round(wall, 1),
            "torch": torch.__version__.split("+")[0], "command": COMMAND}
    save_checkpoint(checkpoint_path(padding, directory), res.model, meta=meta)
    return {"options": dict(res.model.options), **meta}
