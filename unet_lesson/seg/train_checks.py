"""What :func:`~unet_lesson.seg.train.train` checks before it trains: every argument, the data, the run folder.

All of it happens up front, in milliseconds, before any weight map is computed or any weight changes:

* :func:`check_arguments` - each number through the one parser (:mod:`unet_lesson.core.parse`), so
  ``batch_size=0``, ``eval_every=0``, ``lr=nan`` or ``schedule="x"`` get a ``ValueError`` saying what works;
  the training and held-out sets are not empty and hold finite numbers; the tiles fit into the images;
* :func:`check_finite` - NaN or infinite pixels, naming the image and how many (one NaN pixel makes the
  loss NaN, and with it every weight);
* :func:`open_run_folder` - the checkpoint folder: ``resume=True`` needs a ``last.pt`` there (a mistyped
  folder is refused, naming it and what it holds); a new run never replaces an earlier one unless
  ``overwrite=True`` (:class:`RunFolderError` says how to resume or start fresh).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from ..core.options import UNetOptions, options_of
from ..core.parse import BadValue, choice, flag, real, whole
from ..core.search import input_size_for
from ..core.shapes import output_size
from .checkpoints import CheckpointError, load_checkpoint

__all__ = [
    "TrainError",
    "RunFolderError",
    "Settings",
    "SCHEDULES",
    "check_arguments",
    "check_weight_map",
    "check_finite",
    "check_dataset",
    "window_plan",
    "open_run_folder",
    "clear_run_folder",
    "finite_state",
]

#: the learning-rate schedules (``None``: a constant learning rate)
SCHEDULES = {"cosine": "from lr down to lr/20 along a half cosine over the steps"}
#: the files a run writes into its checkpoint folder
RUN_FILES = ("best.pt", "last.pt")


class TrainError(BadValue):
    """An argument of ``train`` that cannot work (a ``ValueError``); the message says what would."""


class RunFolderError(TrainError):
    """The checkpoint folder does not fit the request: nothing to resume, or an earlier run a new one would replace."""


@dataclass(frozen=True)
class Settings:
    """``train``'s arguments, checked (numbers as Python numbers, the folder as a ``Path``, the device as a
    ``torch.device``)."""

    steps: int
    batch_size: int
    tile: int
    lr: float
    seed: int
    w0: float
    sigma: float
    eval_every: int
    time_limit: float | None
    target_dice: float | None
    stop_at_target: bool
    checkpoint_dir: Path | None
    resume: bool
    overwrite: bool
    device: torch.device
    progress: bool
    num_threads: int | None
    schedule: str | None


def _optional(value, check):
    return None if value is None else check(value)


def check_weight_map(w0, sigma) -> tuple[float, float]:
    """The weight map's ``w0`` (>= 0; 0 = class balance only) and ``sigma`` (> 0 px)."""
    w0 = real(w0, "w0", minimum=0.0, error=TrainError, hint="the weight of the gaps between cells; the paper uses 10")
    sigma = real(
        sigma,
        "sigma",
        minimum=0.0,
        strict_minimum=True,
        error=TrainError,
        hint="the width of the gap term in pixels; the paper uses about 5",
    )
    return w0, sigma


def check_finite(images, what: str = "image") -> None:
    """Refuse NaN or infinite values, naming the images (by index) and how many pixels."""
    a = np.asarray(images)
    if not np.issubdtype(a.dtype, np.floating):
        return
    bad = ~np.isfinite(a)
    if not bad.any():
        return
    per = bad.reshape(len(a), -1).sum(axis=1) if a.ndim >= 2 else bad.astype(int)
    which = np.flatnonzero(per)
    listed = ", ".join(f"{what} {i} ({per[i]} pixel{'s' if per[i] != 1 else ''})" for i in which[:5])
    more = f" and {len(which) - 5} more" if len(which) > 5 else ""
    nans, infs = int(np.isnan(a).sum()), int(np.isinf(a).sum())
    raise TrainError(
        f"NaN or infinite values ({nans} NaN, {infs} infinite) in {listed}{more}: one such pixel makes "
        "the loss NaN and then every weight. Repair or drop those images first (e.g. "
        "np.nan_to_num(images, nan=0.0) if the pixels are missing values)."
    )


def check_dataset(data, name: str, role: str) -> None:
    """A dataset ``train`` can use: ``images`` (N, H, W) with N >= 1 and ``masks`` of the same shape, finite."""
    images, masks = getattr(data, "images", None), getattr(data, "masks", None)
    if images is None or masks is None:
        raise TrainError(
            f"{name} must be a Dataset (e.g. make_dataset(...), load_folder(...)) or a TrainingSet, "
            f"got {type(data).__name__}."
        )
    images, masks = np.asarray(images), np.asarray(masks)
    if images.ndim != 3 or len(images) == 0:
        if images.ndim >= 1 and len(images) == 0:
            raise TrainError(
                f"{name} has no images: {role} needs at least one (split(dataset, n_val=...) keeps "
                "n_val images aside and trains on the rest)."
            )
        raise TrainError(f"{name}.images must be a stack (N, H, W) of grey images, got shape {images.shape}.")
    if masks.shape != images.shape:
        raise TrainError(
            f"{name}.masks has shape {masks.shape} but its images {images.shape}: one mask per image, of the same size."
        )
    check_finite(images, f"{name} image")
    check_finite(masks, f"{name} mask")


def window_plan(tile: int, options) -> tuple[int, int, int]:
    """(input size, output size, margin) for tiles of ``tile`` output pixels."""
    s = input_size_for(tile, options)
    out = output_size(s, options)[0]
    return s, out, (s - out) // 2


def _check_tile(tile, options, h: int, w: int) -> int:
    tile = whole(
        tile,
        "tile",
        minimum=1,
        error=TrainError,
        unit="pixels",
        hint="It is the side of the square tiles the loss is computed on (the lesson uses 64).",
    )
    out = window_plan(tile, options)[1] if tile <= max(h, w) else tile
    if out <= min(h, w):
        return tile
    best = next(
        (k for k in range(min(h, w), max(0, min(h, w) - 512), -1) if window_plan(k, options)[1] <= min(h, w)), None
    )
    made = f" (this network makes {out}-pixel output tiles for it)" if out != tile else ""
    use = f"use tile={best} or smaller" if best else "use larger images"
    raise TrainError(f"tile={tile}{made} does not fit into the {h}x{w} training images: {use}.")


def check_arguments(
    model,
    train_set,
    val_set,
    *,
    steps,
    batch_size,
    tile,
    lr,
    seed,
    augment,
    w0,
    sigma,
    eval_every,
    time_limit,
    target_dice,
    stop_at_target,
    checkpoint_dir,
    resume,
    overwrite,
    device,
    progress,
    num_threads,
    schedule,
) -> Settings:
    """Every argument of ``train`` (see its docstring), or a :class:`TrainError` saying what works."""
    E = TrainError
    if not isinstance(getattr(model, "options", None), UNetOptions):
        raise E(
            f"model must be a UNet (e.g. lesson_model('same') or UNet(padding='same', depth=3)), got "
            f"{type(model).__name__}."
        )
    o = model.options
    if o.in_channels != 1 or o.num_classes < 2:
        raise E(
            f"train() feeds grey images (one channel) and two classes (background, cell); this UNet has "
            f"in_channels={o.in_channels}, num_classes={o.num_classes}: build it with in_channels=1, num_classes=2."
        )
    steps = whole(
        steps, "steps", minimum=1, error=E, hint="It is the total number of optimizer steps (the lesson uses 120)."
    )
    batch_size = whole(
        batch_size, "batch_size", minimum=1, error=E, hint="It is the number of tiles per step (the lesson uses 8)."
    )
    lr = real(lr, "lr", minimum=0.0, strict_minimum=True, error=E, hint="the learning rate; the lesson uses 5e-3")
    seed = whole(seed, "seed", minimum=0, error=E, hint="Any whole number from 0 up, e.g. 0.")
    if augment is not None and not callable(augment):
        raise E(f"augment must be an Augment(...) or None (no augmentation), got {type(augment).__name__}.")
    w0, sigma = check_weight_map(w0, sigma)
    eval_every = whole(
        eval_every,
        "eval_every",
        minimum=1,
        error=E,
        hint="It is the number of steps between two held-out evaluations (the lesson uses 10).",
    )
    time_limit = _optional(
        time_limit,
        lambda v: real(
            v, "time_limit", minimum=0.0, strict_minimum=True, error=E, hint="training seconds, or None for no limit"
        ),
    )
    target_dice = _optional(
        target_dice,
        lambda v: real(v, "target_dice", minimum=0.0, maximum=1.0, error=E, hint="a Dice score such as 0.95, or None"),
    )
    stop_at_target = flag(stop_at_target, "stop_at_target", error=E)
    resume, overwrite, progress = (
        flag(v, n, error=E) for v, n in ((resume, "resume"), (overwrite, "overwrite"), (progress, "progress"))
    )
    num_threads = _optional(
        num_threads,
        lambda v: whole(
            v, "num_threads", minimum=1, error=E, hint="It is the number of CPU threads (or None: torch's setting)."
        ),
    )
    if schedule is not None:
        schedule = choice(schedule, "schedule (or None: a constant learning rate)", SCHEDULES, error=E)
    if stop_at_target and target_dice is None:
        raise E("stop_at_target=True needs target_dice (e.g. target_dice=0.95): the Dice to stop at.")
    if val_set is None and (target_dice is not None):
        raise E("target_dice needs val_set: the Dice is measured on held-out images.")
    if checkpoint_dir is not None:
        if not isinstance(checkpoint_dir, (str, os.PathLike)) or str(checkpoint_dir).strip() == "":
            raise E(f"checkpoint_dir must be a folder name such as 'runs/my_run', or None, got {checkpoint_dir!r}.")
        checkpoint_dir = Path(checkpoint_dir)
    if resume and overwrite:
        raise E("resume=True continues the run in checkpoint_dir, overwrite=True replaces it: choose one.")
    if (resume or overwrite) and checkpoint_dir is None:
        which = "resume=True" if resume else "overwrite=True"
        raise E(f"{which} needs checkpoint_dir (the folder where train() saved best.pt and last.pt).")
    device = _device(device)
    check_dataset(train_set, "train_set", "training")
    if val_set is not None:
        check_dataset(val_set, "val_set", "the held-out evaluation (or val_set=None: no Dice, no best.pt)")
    h, w = np.asarray(train_set.images).shape[1:]
    tile = _check_tile(tile, o, h, w)
    checked = locals()  # every argument by its name, each checked above
    return Settings(**{f.name: checked[f.name] for f in fields(Settings)})


def _device(device) -> torch.device:
    from ..core.env import get_device

    if device is None:
        return get_device()
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise TrainError(f"device must be 'cpu' or 'cuda' (or None: CUDA when present), got {device!r}.") from None
    if d.type == "cuda" and not torch.cuda.is_available():
        raise TrainError("device='cuda' but this machine has no usable CUDA GPU: use device='cpu' (or None).")
    return d


# ----------------------------------------------------------------------------------
# the run folder
# ----------------------------------------------------------------------------------
def _contents(folder: Path) -> str:
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if not p.name.startswith("."))
    if not names:
        return f"the folder {folder} is empty"
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return f"{folder} holds {shown} but no last.pt"


def _runs_nearby(folder: Path) -> list[str]:
    parent = folder.parent if str(folder.parent) else Path(".")
    try:
        return sorted(str(p) for p in parent.iterdir() if p.is_dir() and (p / "last.pt").is_file())[:5]
    except OSError:
        return []


def _summary(folder: Path) -> str:
    parts = []
    for name in ("best.pt", "last.pt"):
        p = folder / name
        if not p.exists():
            continue
        try:
            ck = load_checkpoint(p)
        except CheckpointError:
            parts.append(f"{name} (unreadable)")
            continue
        if name == "best.pt" and isinstance(ck.get("dice"), (int, float)):
            parts.append(f"best.pt: held-out Dice {ck['dice']:.3f} at step {ck.get('step')}")
        else:
            parts.append(f"{name}: step {ck.get('step')}")
    return "; ".join(parts)


def _free_name(folder: Path) -> Path:
    k = 2
    while folder.with_name(f"{folder.name}_{k}").exists():
        k += 1
    return folder.with_name(f"{folder.name}_{k}")


def finite_state(state: dict) -> bool:
    """Whether every floating-point tensor of a state dict is finite (no NaN, no infinity)."""
    return all(torch.isfinite(v).all() for v in state.values() if torch.is_tensor(v) and v.is_floating_point())


def open_run_folder(s: Settings, options: UNetOptions) -> tuple[dict | None, dict | None]:
    """Check the checkpoint folder against ``resume``/``overwrite``; for a resume, read and check
    ``last.pt`` (and ``best.pt``). Returns (last checkpoint, best checkpoint), each None when absent."""
    folder = s.checkpoint_dir
    if folder is None:
        return None, None
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(
            f"checkpoint_dir {folder} is a file, not a folder: give a folder name, e.g. '{folder.with_suffix('')}_run'."
        )
    last_path, best_path = folder / "last.pt", folder / "best.pt"
    if not s.resume:
        if s.overwrite or not any((folder / n).exists() for n in RUN_FILES):
            return None, None
        raise RunFolderError(
            f"{folder} already holds a training run ({_summary(folder)}); a new run would replace it. "
            f"To continue that run: resume=True (steps is the total, so give more than it has done). "
            f"To start again: overwrite=True (replaces best.pt and last.pt there), or a new folder, e.g. "
            f"checkpoint_dir='{_free_name(folder).as_posix()}'."
        )
    if not last_path.is_file():
        nearby = [p for p in _runs_nearby(folder) if Path(p) != folder]
        also = f" Folders beside it with a last.pt: {', '.join(nearby)}." if nearby else ""
        raise RunFolderError(
            f"resume=True continues from {last_path}, but {_contents(folder)}: check the folder "
            f"name, or start a new run without resume=True.{also}"
        )
    last = load_checkpoint(last_path, map_location=s.device)
    try:
        theirs = options_of(last["options"])
    except ValueError as e:
        raise RunFolderError(
            f"{last_path} stores options that describe no U-Net ({e}): it cannot be continued. "
            "Start again with overwrite=True, or in a new checkpoint_dir."
        ) from None
    if theirs != options:
        raise RunFolderError(
            f"the checkpoint is for UNet({theirs.describe()}), not UNet({options.describe()}): "
            f"{last_path} cannot continue with this model. Build the model it was trained with "
            f"(UNet(**load_checkpoint('{last_path.as_posix()}')['options'])), or train this one "
            "in a new checkpoint_dir."
        )
    if not finite_state(last["state_dict"]):
        raise RunFolderError(
            f"{last_path} holds NaN or infinite weights (a run that diverged): it cannot be "
            "continued. Start again with overwrite=True and a smaller lr."
        )
    best = load_checkpoint(best_path) if best_path.exists() else None
    if best is not None and options_of(best["options"]) != options:
        raise RunFolderError(
            f"{best_path} is for UNet({options_of(best['options']).describe()}), not "
            f"UNet({options.describe()}): it does not belong to this run. Move it away and resume."
        )
    return last, best


def clear_run_folder(folder: Path | None) -> None:
    """Delete the run files (best.pt, last.pt) of an earlier run (``overwrite=True``); nothing else."""
    if folder is None:
        return
    for name in RUN_FILES:
        p = folder / name
        if p.is_file():
            p.unlink()
