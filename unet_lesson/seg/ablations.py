r"""Lesson 08's three ablations: controlled comparisons that *show* what a part of U-Net's recipe does.

Each ablation trains the same small network twice, on the same images, from the same initial weights,
with the same batches and the same number of steps; only one thing differs:

* ``"skips"``: the skip connections (copy and crop) on, or off (``UNet(skips=False)``: the expanding path
  is fed only from below);
* ``"w0"``: the weight map's border term, the paper's :math:`w_0 = 10`, or :math:`w_0 = 0` (class balance only);
* ``"augment"``: elastic deformation (the paper's 3x3 grid, 10 px) or no augmentation at all, trained on
  two small images.

Both arms are scored on the lesson's held-out images with pixel scores (Dice, IoU) and object scores
(:func:`unet_lesson.seg.metrics.object_scores`: matched cells, merged, split). The trained weights ship as
small checkpoints (``ablation_<name>_<arm>.pt`` beside the lesson's models) so the lesson loads them in
a second; ``python scripts/make_checkpoints.py --which ablations`` rebuilds them bit for bit (CPU, one
thread, fixed seeds). ``--seed-study`` repeats every ablation with other seeds and stores the scores
(``ablation_seeds.json``), so the lesson can say whether a difference is more than one seed's luck.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from .augment import Augment
from .checkpoints import CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint
from .data import Dataset, make_dataset
from .metrics import dice, iou, object_scores
from .predict import predict
from .pretrained import CHECKPOINT_DIR
from .train import LESSON_DATA, LESSON_TRAIN, lesson_model, train

__all__ = [
    "ABLATION_OPTIONS",
    "ABLATIONS",
    "Arm",
    "Ablation",
    "SEEDS",
    "STUDY_FILE",
    "ablation_data",
    "held_out",
    "checkpoint_file",
    "train_arm",
    "make_ablation_checkpoint",
    "load_arm",
    "score",
    "compare",
    "shipped_arms",
    "seed_study",
    "save_seed_study",
    "foreground_probability",
    "load_seed_study",
]

#: The ablations' network: the lesson's same-padding U-Net with 4 base channels (30,474 parameters, a
#: 120 kB checkpoint): small enough to train six of them in a few minutes and ship them.
ABLATION_OPTIONS = dict(padding="same", base_channels=4, depth=3)
#: The seeds of the seed study (seed 0 is the shipped pair).
SEEDS = (0, 1, 2)
STUDY_FILE = "ablation_seeds.json"
COMMAND = "python scripts/make_checkpoints.py --which ablations"

#: No augmentation at all (the "off" arm of the augmentation ablation).
NO_AUGMENT = Augment(p_elastic=0.0, flips=False, intensity=False)
#: Elastic deformation only, the paper's 3x3 grid and 10 px, on half the tiles (as the lesson's training).
ELASTIC_ONLY = Augment(p_elastic=0.5, grid=3, std=10.0, flips=False, intensity=False)


@dataclass(frozen=True)
class Arm:
    """One side of an ablation: its label, the UNet options it changes and the train() arguments it changes."""

    key: str
    label: str
    options: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    #: (ablation, arm) of another arm with exactly this recipe: its checkpoint is shared, not shipped twice
    same_as: tuple[str, str] | None = None


@dataclass(frozen=True)
class Ablation:
    """A controlled comparison: two arms, and everything they share."""

    name: str
    title: str
    arms: tuple[Arm, Arm]
    steps: int = 200
    n_train: int = LESSON_DATA["n_train"]
    crop: int | None = None  # train on the top-left crop x crop pixels of each training image
    shared: dict = field(default_factory=dict)  # train() arguments both arms use

    def arm(self, key: str) -> Arm:
        for a in self.arms:
            if a.key == key:
                return a
        raise ValueError(f"the {self.name!r} ablation has the arms {[a.key for a in self.arms]}, not {key!r}")

    def describe(self) -> str:
        data = f"{self.n_train} training images" + (f" ({self.crop}x{self.crop} px)" if self.crop else "")
        return f"{data}, {self.steps} steps of {LESSON_TRAIN['batch_size']} tiles, same seed, same batches"


ABLATIONS = {
    "skips": Ablation(
        "skips",
        "skip connections on / off",
        (Arm("on", "with skip connections"), Arm("off", "no skip connections", options={"skips": False})),
    ),
    "w0": Ablation(
        "w0",
        "the border term: w0 = 10 / w0 = 0",
        (
            # the same recipe as the skips ablation's "on" arm (w0 = 10 is train()'s default): one file for both
            Arm("10", "w0 = 10 (the paper)", train={"w0": 10.0}, same_as=("skips", "on")),
            Arm("0", "w0 = 0 (class balance only)", train={"w0": 0.0}),
        ),
    ),
    "augment": Ablation(
        "augment",
        "elastic deformation / no augmentation, on two small images",
        (
            Arm("elastic", "elastic deformation (3x3 grid, 10 px, half the tiles)", train={"augment": ELASTIC_ONLY}),
            Arm("none", "no augmentation", train={"augment": NO_AUGMENT}),
        ),
        steps=300,
        n_train=2,
        crop=64,
    ),
}


def _ablation(name: str) -> Ablation:
    if name not in ABLATIONS:
        raise ValueError(f"the ablations are {sorted(ABLATIONS)}, not {name!r}")
    return ABLATIONS[name]


@lru_cache(maxsize=1)
def held_out() -> Dataset:
    """The lesson's held-out images (``LESSON_DATA``: 8 pictures of 128x128, seed 1), shared by every arm."""
    d = LESSON_DATA
    return make_dataset(d["n_val"], d["size"], seed=d["val_seed"])


def ablation_data(name: str) -> Dataset:
    """The training images of ablation ``name``: the first ``n_train`` of the lesson's training set (cropped)."""
    a = _ablation(name)
    d = LESSON_DATA
    full = make_dataset(d["n_train"], d["size"], seed=d["train_seed"])
    box = (slice(0, a.n_train), slice(0, a.crop), slice(0, a.crop))
    return Dataset(*(np.ascontiguousarray(x[box]) for x in (full.images, full.instances, full.masks)), seed=full.seed)


def train_arm(name: str, arm: str, seed: int = 0, progress: bool = False, steps: int | None = None):
    """Train one arm of ablation ``name`` from scratch: CPU, one thread, the last weights (no held-out
    set is looked at while training, so nothing is picked by its held-out score). Returns the TrainResult.
    ``steps`` overrides the ablation's steps (for tests)."""
    a = _ablation(name)
    steps = a.steps if steps is None else steps
    side = a.arm(arm)
    opts = {**ABLATION_OPTIONS, **side.options}
    model = lesson_model(opts["padding"], seed=seed, **{k: v for k, v in opts.items() if k != "padding"})
    kwargs = {**a.shared, **side.train}
    return train(
        model,
        ablation_data(name),
        None,
        steps=steps,
        seed=seed,
        eval_every=steps,
        device="cpu",
        num_threads=1,
        progress=progress,
        **kwargs,
    )


def checkpoint_file(name: str, arm: str, directory=None) -> Path:
    """The checkpoint of one arm (an arm with ``same_as`` shares the other arm's file)."""
    side = _ablation(name).arm(arm)
    if side.same_as is not None:
        name, arm = side.same_as
    return Path(directory or CHECKPOINT_DIR) / f"ablation_{name}_{arm}.pt"


def _recipe(name: str, arm: str, seed: int) -> dict:
    a = _ablation(name)
    side = a.arm(arm)
    train_args = {k: (repr(v) if isinstance(v, Augment) else v) for k, v in {**a.shared, **side.train}.items()}
    return {
        "ablation": name,
        "arm": arm,
        "options": {**ABLATION_OPTIONS, **side.options},
        "train": train_args,
        "steps": a.steps,
        "n_train": a.n_train,
        "crop": a.crop,
        "seed": seed,
        **{k: v for k, v in LESSON_TRAIN.items() if k != "eval_every"},
    }


def score(model, dataset: Dataset | None = None) -> dict:
    """Pixel and object scores of ``model`` on ``dataset`` (the held-out images by default)."""
    ds = held_out() if dataset is None else dataset
    pred = predict(model, ds.images)
    objs = object_scores(pred, ds.instances)
    return {
        "dice": dice(pred, ds.masks),
        "iou": iou(pred, ds.masks),
        "f1": objs.f1,
        "precision": objs.precision,
        "recall": objs.recall,
        "merged": objs.merged,
        "split": objs.split,
        "n_true": objs.n_true,
        "n_pred": objs.n_pred,
        "matched": objs.matched,
    }


def make_ablation_checkpoint(name: str, arm: str, directory=None, progress: bool = False) -> dict:
    """Train one arm (seed 0) and save it; returns its metadata (recipe, held-out scores, seconds)."""
    t0 = time.perf_counter()
    res = train_arm(name, arm, seed=0, progress=progress)
    s = score(res.model)
    meta = {
        "recipe": _recipe(name, arm, 0),
        "held_out": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()},
        "train_seconds": round(res.seconds, 1),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "torch": torch.__version__.split("+")[0],
        "command": COMMAND,
    }
    save_checkpoint(checkpoint_file(name, arm, directory), res.model, meta=meta)
    return meta


def load_arm(name: str, arm: str, directory=None):
    """``(model, meta)`` of a shipped arm, or ``(None, why)`` when its file is missing or unreadable."""
    path = checkpoint_file(name, arm, directory)
    if not path.exists():
        return None, f"{path.name} is not there: rebuild it with `{COMMAND}`"
    try:
        ck = load_checkpoint(path)
        return model_from_checkpoint(ck), ck.get("meta", {})
    except CheckpointError as e:
        return None, str(e)


def compare(name: str, directory=None) -> dict:
    """Both arms of ablation ``name``, loaded from their checkpoints and scored on the held-out images now.

    ``{"ablation", "arms": {key: {"label", "model", "scores", "meta"}}, "missing": [why, ...]}``; an arm whose
    file is missing has ``model`` None and its reason in ``missing``."""
    a = _ablation(name)
    arms, missing = {}, []
    for side in a.arms:
        model, meta = load_arm(name, side.key, directory)
        if model is None:
            missing.append(meta)
            arms[side.key] = {"label": side.label, "model": None, "scores": None, "meta": {}}
            continue
        arms[side.key] = {"label": side.label, "model": model, "scores": score(model), "meta": meta}
    return {"ablation": a, "arms": arms, "missing": missing}


def foreground_probability(model, images) -> np.ndarray:
    """The model's probability of "cell" for every pixel of ``images`` ((N, H, W) -> (N, H, W))."""
    return predict(model, images, probabilities=True)


def shipped_arms() -> list[tuple[str, str]]:
    """The (ablation, arm) pairs that have a checkpoint of their own (an arm with ``same_as`` has none)."""
    return [(a.name, side.key) for a in ABLATIONS.values() for side in a.arms if side.same_as is None]


def seed_study(names=None, seeds=SEEDS, progress: bool = False, known: dict | None = None) -> dict:
    """Train every arm of the ablations ``names`` with every seed in ``seeds`` and score it (minutes).
    An arm with ``same_as`` reuses the scores of the arm it equals (it would train the same network).
    ``known``: ``{((ablation, arm), seed): scores}`` already computed (the shipped seed-0 arms' metadata),
    not trained again: training is deterministic, so the scores would be the same."""
    rows, done = [], dict(known or {})
    for name in names or list(ABLATIONS):
        for seed in seeds:
            for side in _ablation(name).arms:
                source = side.same_as or (name, side.key)
                if (source, seed) not in done:
                    res = train_arm(*source, seed=seed, progress=progress)
                    done[(source, seed)] = _rounded(score(res.model))
                rows.append({"ablation": name, "arm": side.key, "seed": int(seed), **done[(source, seed)]})
    return {
        "seeds": [int(s) for s in seeds],
        "rows": rows,
        "torch": torch.__version__.split("+")[0],
        "command": COMMAND,
    }


def _rounded(s: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()}


def save_seed_study(study: dict, directory=None) -> Path:
    path = Path(directory or CHECKPOINT_DIR) / STUDY_FILE
    path.write_text(json.dumps(study, indent=1) + "\n")
    return path


def load_seed_study(directory=None) -> dict | None:
    """The stored seed study, or None when the file is not there."""
    path = Path(directory or CHECKPOINT_DIR) / STUDY_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
