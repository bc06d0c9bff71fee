"""Small pretrained U-Nets shipped with the course (``unet_lesson/checkpoints/*.pt``).

* ``load_pretrained("same")``: the lesson's small same-padding U-Net (``LESSON_OPTIONS``), used by
  the explorer to show meaningful feature maps and by lesson 08 to compare with a live run;
* ``load_pretrained("valid")``: a small valid-padding U-Net (``VALID_OPTIONS``), used by the
  overlap-tile lesson 09.

Both are trained on the course's generated cell images (:mod:`unet_lesson.seg.data`), with fixed
seeds, by one command from the repository root::

    python scripts/make_checkpoints.py

Each file is a plain dictionary (weights, ``model.options``, metadata), read with
``torch.load(..., weights_only=True)``. ``pretrained_info(padding)`` is the metadata: the
UNet options, the training recipe and data seeds, and the held-out Dice/IoU it reached.

:func:`trained_or_random` is the one way a lesson gets a network to look at: the shipped checkpoint
when it is there and readable, otherwise a network with random weights drawn from a fixed seed,
and a note saying which (so a missing or damaged file never breaks a page).
"""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path

import torch

from ..core.env import seeded
from ..core.model import UNet
from ..core.options import options_of
from .checkpoints import CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint
from .train import (
    LESSON_DATA,
    LESSON_OPTIONS,
    LESSON_TRAIN,
    VALID_OPTIONS,
    evaluate,
    lesson_model,
    otsu_baseline,
    train,
)

__all__ = [
    "CHECKPOINT_DIR",
    "FILES",
    "RECIPES",
    "COMMAND",
    "checkpoint_path",
    "load_pretrained",
    "pretrained_info",
    "trained_or_random",
    "make_checkpoint",
]

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
FILES = {"same": "unet_same.pt", "valid": "unet_valid.pt"}
COMMAND = "python scripts/make_checkpoints.py"


def _recipe(options: dict, steps: int, eval_every: int) -> dict:
    """A shipped checkpoint's recipe: the lesson's training settings, fixed seeds, its own options and length."""
    train = {k: v for k, v in LESSON_TRAIN.items() if k != "eval_every"}
    return dict(options=dict(options), init_seed=0, train_seed=0, steps=steps, **train, eval_every=eval_every)


#: How each shipped checkpoint is made (fixed seeds; CPU, one thread, so it is reproducible).
RECIPES = {
    "same": _recipe(LESSON_OPTIONS, steps=400, eval_every=20),
    "valid": _recipe(VALID_OPTIONS, steps=600, eval_every=25),
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
    return {
        "options": options_of(ck["options"]).as_dict(),
        **ck.get("meta", {}),
        "file": str(path),
        "size_kb": round(path.stat().st_size / 1024, 1),
    }


@lru_cache(maxsize=4)
def _shipped(padding: str):
    """(model, why not): the shipped checkpoint of this padding, read once per session."""
    try:
        model = load_pretrained(padding)
    except CheckpointError as e:
        return None, f"the shipped checkpoint could not be loaded: {e}"
    if model is None:
        return None, f"no trained {padding}-padding checkpoint ships with the course (run {COMMAND})"
    return model, ""


def trained_or_random(
    padding: str = "same", *, seed: int = 0, device=None, must_match: dict | None = None, **fallback
) -> tuple[UNet, str, str]:
    """The network a lesson looks at: ``(model, weights, note)``, in eval mode.

    The shipped trained model of this padding when its file is there and readable, and its options
    agree with ``must_match`` (e.g. ``{"depth": 4}``): ``weights == "trained"``. Otherwise a
    ``UNet(padding=padding, **fallback)`` with random weights drawn inside
    :func:`~unet_lesson.core.env.seeded` (``weights == "random"``; the student's RNG is left alone),
    and ``note`` says why. A trained model is shared: treat it as read-only.
    """
    model, why = _shipped(_check_padding(padding))
    if model is not None:
        m = model.options
        differ = {k: getattr(m, k) for k, v in (must_match or {}).items() if getattr(m, k) != v}
        if not differ:
            note = f"trained weights (the course's shipped {padding}-padding model, {m.describe()})"
            return model.to(device or "cpu").eval(), "trained", note
        why = (
            "the shipped trained model has "
            + ", ".join(f"{k} {v}" for k, v in differ.items())
            + "; choose that to see trained features"
        )
    with seeded(seed):
        net = UNet(padding=padding, **fallback)
    return net.to(device or "cpu").eval(), "random", f"random weights (seed {seed}): {why}"


def make_checkpoint(padding: str = "same", directory=None, steps: int | None = None, progress: bool = True) -> dict:
    """Train the shipped model for ``padding`` from its recipe and save it (atomically). Returns its metadata."""
    from .data import make_dataset

    recipe = dict(RECIPES[_check_padding(padding)])
    if steps is not None:
        recipe["steps"] = int(steps)
    d = LESSON_DATA
    tr = make_dataset(d["n_train"], d["size"], seed=d["train_seed"])
    va = make_dataset(d["n_val"], d["size"], seed=d["val_seed"])
    model = lesson_model(
        padding, seed=recipe["init_seed"], **{k: v for k, v in recipe["options"].items() if k != "padding"}
    )
    t0 = time.perf_counter()
    res = train(
        model,
        tr,
        va,
        steps=recipe["steps"],
        batch_size=recipe["batch_size"],
        tile=recipe["tile"],
        lr=recipe["lr"],
        seed=recipe["train_seed"],
        eval_every=recipe["eval_every"],
        device="cpu",
        num_threads=1,
        progress=progress,
    )
    wall = time.perf_counter() - t0
    m = evaluate(res.model, va)
    meta = {
        "recipe": {k: v for k, v in recipe.items() if k != "options"},
        "data": dict(d),
        "held_out_dice": round(m["dice"], 4),
        "held_out_iou": round(m["iou"], 4),
        "otsu_dice": round(otsu_baseline(va)["dice"], 4),
        "best_step": res.best_step,
        "train_seconds": round(res.seconds, 1),
        "wall_seconds": round(wall, 1),
        "torch": torch.__version__.split("+")[0],
        "command": COMMAND,
    }
    save_checkpoint(checkpoint_path(padding, directory), res.model, meta=meta)
    return {"options": res.model.options.as_dict(), **meta}
