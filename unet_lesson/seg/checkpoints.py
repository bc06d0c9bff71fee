"""Checkpoints: plain dictionaries of tensors and numbers, written atomically, read safely.

* :func:`save_atomic` writes to a temporary file beside the target, then :func:`os.replace` puts it
  in place: a crash or a Ctrl-C in the middle never leaves a half-written file under the real name.
  A temporary file left by a killed save (``.NAME.PID.tmp``) is removed by the next save.
* :func:`load_checkpoint` reads with ``torch.load(..., weights_only=True)``: tensors and plain data
  only, so loading a file never runs code from it. A file that is missing, empty, truncated, not a
  checkpoint, or a checkpoint without the network's options raises one :class:`CheckpointError`
  naming the file and what to do (never advising to load it unsafely).
"""

from __future__ import annotations

import os
import re
import time
import warnings
from pathlib import Path

import torch

from ..core.env import seeded
from ..core.model import UNet
from ..core.options import options_of

__all__ = [
    "FORMAT",
    "CheckpointError",
    "save_atomic",
    "save_checkpoint",
    "load_checkpoint",
    "model_from_checkpoint",
    "remove_stale_temporaries",
]

FORMAT = "unet_lesson.train/1"
#: a temporary file older than this (seconds) is stale even if its process id is in use again
STALE_AFTER = 600.0


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and what to do."""


def remove_stale_temporaries(path) -> list[Path]:
    """Delete the ``.NAME.PID.tmp`` files that killed saves left beside ``path``: those whose process no
    longer runs (or that are older than :data:`STALE_AFTER`). Returns what was removed."""
    path = Path(path)
    removed: list[Path] = []
    if not path.parent.is_dir():
        return removed
    prefix = f".{path.name}."
    for tmp in path.parent.iterdir():
        pid_text = tmp.name[len(prefix) : -len(".tmp")]
        if not (tmp.name.startswith(prefix) and tmp.name.endswith(".tmp") and pid_text.isdigit()):
            continue  # not a temporary file of save_atomic for this path
        pid = int(pid_text)
        if pid == os.getpid():
            continue  # this process's own save in progress
        try:
            if not _running(pid) or time.time() - tmp.stat().st_mtime > STALE_AFTER:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    return removed


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists. On Windows ``os.kill(pid, 0)`` would *send* Ctrl-C, so there only the
    age rule (:data:`STALE_AFTER`) applies."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def save_atomic(obj, path) -> Path:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace`` it into place:
    a crash (or Ctrl-C) in the middle never leaves a half-written checkpoint under ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _cpu_state(model) -> dict:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def save_checkpoint(path, model: UNet, *, state_dict: dict | None = None, **extra) -> Path:
    """Save the network's options and weights (plus any tensors/numbers in ``extra``) atomically.

    ``state_dict``: the weights to save instead of the model's current ones (e.g. the last weights of a
    run while the model already holds its best ones); moved to the CPU."""
    state = _cpu_state(model) if state_dict is None else {k: v.detach().cpu() for k, v in state_dict.items()}
    return save_atomic({"format": FORMAT, "options": model.options.as_dict(), "state_dict": state, **extra}, path)


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint with ``torch.load(..., weights_only=True)`` (loading it never runs code from the
    file); a file that cannot be used raises :class:`CheckpointError` saying which and what to do."""
    path = Path(path)
    remake = (
        "Delete it and train again (or, for a shipped checkpoint, rebuild it with "
        "`python scripts/make_checkpoints.py`)."
    )
    if not path.exists():
        raise CheckpointError(
            f"There is no checkpoint {path}: check the path (train() writes best.pt and "
            "last.pt into its checkpoint_dir)."
        )
    if path.is_dir():
        raise CheckpointError(
            f"{path} is a folder, not a checkpoint file: give the .pt file inside it (e.g. best.pt or last.pt)."
        )
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"The checkpoint {path} is empty (0 bytes): a save was interrupted or the file was truncated. {remake}"
        )
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols are not the student's business
            warnings.simplefilter("ignore")
            ck = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - every reader failure becomes one clear message
        # torch's own text advises loading unsafely (weights_only=False): it is never passed on
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if found:
            raise CheckpointError(
                f"{path} holds Python objects ({found.group(1)}), not only tensors and numbers: reading it would "
                "run code from the file, which this course never does. A unet_lesson checkpoint holds tensors and "
                "numbers only: save one with save_checkpoint(path, model) or train(..., checkpoint_dir=...)."
            ) from None
        raise CheckpointError(
            f"{path} cannot be read as a unet_lesson checkpoint ({type(e).__name__}): it is "
            f"damaged, truncated, or not a checkpoint of this course. {remake}"
        ) from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        bare = isinstance(ck, dict) and ck and all(torch.is_tensor(v) for v in ck.values())
        hint = (
            " It looks like a bare state_dict (torch.save(model.state_dict(), ...)): build the same UNet and "
            "call model.load_state_dict(torch.load(path, weights_only=True)), then save_checkpoint(path, model)."
            if bare
            else ""
        )
        raise CheckpointError(
            f"{path} is not a unet_lesson checkpoint (format {FORMAT!r}): it was written by "
            "something else. Use a file saved by unet_lesson (train(), save_checkpoint)." + hint
        )
    for key in ("options", "state_dict"):
        if not isinstance(ck.get(key), dict):
            raise CheckpointError(f"{path} has no {key!r}: it is an incomplete unet_lesson checkpoint. {remake}")
    return ck


def model_from_checkpoint(ck, device=None) -> UNet:
    """Build ``UNet(**options)`` from a checkpoint (dict or path), load its weights, eval mode.

    Options that describe no network, or weights of another network (missing or extra tensors, other
    shapes), raise :class:`CheckpointError` naming the file and what differs."""
    where = ck if not isinstance(ck, dict) else "the checkpoint"
    if not isinstance(ck, dict):
        ck = load_checkpoint(ck)
    try:
        with seeded(0):  # the initial weights are replaced at once; they must not come from the student's RNG
            model = UNet(**options_of(ck["options"]).as_dict())
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"{where} does not hold the weights of a U-Net: its options do not describe one "
            f"({type(e).__name__}: {_one_line(e)}). Delete it and train again."
        ) from None
    state = ck.get("state_dict")
    differs = _state_differences(model.state_dict(), state) if isinstance(state, dict) else "no state_dict"
    if not differs:
        try:
            model.load_state_dict(state)
        except (RuntimeError, TypeError, ValueError) as e:
            differs = _one_line(e)
    if differs:
        raise CheckpointError(
            f"{where} does not hold the weights of the network its options describe, "
            f"UNet({model.options.describe()}): {differs}. It was saved from another network or "
            "edited by hand. Delete it and train again."
        ) from None
    return model.to(device or "cpu").eval()


def _one_line(e: BaseException, limit: int = 200) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _state_differences(expected: dict, state: dict) -> str:
    """What differs between two state dicts, in a few words ('' when they fit)."""
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    shaped = [k for k in expected if k in state and tuple(getattr(state[k], "shape", ())) != tuple(expected[k].shape)]
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensor(s) missing (e.g. {missing[0]})")
    if extra:
        parts.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
    if shaped:
        k = shaped[0]
        parts.append(
            f"{len(shaped)} of another shape (e.g. {k}: {tuple(state[k].shape)} instead of {tuple(expected[k].shape)})"
        )
    return ", ".join(parts)
