r"""Training a U-Net: batches, the weighted loss, evaluation, checkpoints, resume.

What training is (the notes' "训练过程" walks the *forward* pass; training adds the rest):

1. take a small batch of tiles from the training images (and their masks and weight maps);
2. augment them (elastic deformation, flips, intensity; image and mask together);
3. forward pass -> class scores; softmax + weighted cross-entropy against the mask;
4. backward pass (gradients) and an optimizer step (Adam here; the paper used SGD with
   momentum 0.99 and batch size 1 on large tiles);
5. every few steps, measure Dice on held-out images the network never trains on, keep the
   best weights, write a checkpoint.

Valid padding: the network's output is smaller than its input. We do what the paper does
(overlap-tile): the *input* window is cut from the mirror-padded image so that the *output*
covers exactly the target tile; the target and the weight map are the centre crop of the
window to the output size (:func:`unet_lesson.core.ops.center_crop`, the same offset
``(in - out) // 2`` the network's copy-and-crop uses). No label is ever invented for the mirrored border.

Checkpoints (:mod:`unet_lesson.seg.checkpoints`) are written atomically and read safely;
whole images are segmented by :mod:`unet_lesson.seg.predict`.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core.env import cpu_threads, get_device, seeded
from ..core.model import UNet
from ..core.ops import center_crop, mirror_pad
from ..core.options import options_of
from ..core.search import input_size_for
from ..core.shapes import output_size
from .augment import Augment
from .checkpoints import _cpu_state, load_checkpoint, save_checkpoint
from .data import Dataset
from .losses import SIGMA, W0, weight_map, weighted_cross_entropy
from .metrics import dice, iou
from .predict import predict
from .targets import separate_touching

__all__ = ["LESSON_OPTIONS", "VALID_OPTIONS", "LESSON_DATA", "LESSON_TRAIN", "LESSON_STEPS", "lesson_model",
           "TrainingSet", "prepare", "split", "sample_batch", "evaluate", "otsu_baseline", "History", "TrainResult",
           "train"]

#: The lesson's default network: small, same padding (output = input), trains in seconds on a CPU.
LESSON_OPTIONS = dict(padding="same", base_channels=8, depth=3)
#: The small valid-padding network: the paper's layout (no padding, copy and crop, depth 4, so a
#: margin of 92 px per side as in 572 -> 388) with 4 base channels instead of 64; used by the
#: overlap-tile lesson 09. With batch norm: without it this small net needs many more steps to start.
VALID_OPTIONS = dict(padding="valid", base_channels=4, depth=4, batch_norm=True)
#: The lesson's data: few training images (the paper's point), a separate held-out set.
LESSON_DATA = dict(n_train=12, n_val=8, size=128, train_seed=0, val_seed=1)
#: The lesson's training settings.
LESSON_TRAIN = dict(batch_size=8, tile=64, lr=5e-3, eval_every=10)
#: Steps of the lesson's live run (about 10 s on a 2-core laptop CPU).
LESSON_STEPS = 120

def lesson_model(padding: str = "same", seed: int = 0, **overrides) -> UNet:
    """The lesson's small U-Net (``LESSON_OPTIONS`` or ``VALID_OPTIONS``), its weights drawn from ``seed``
    (inside :func:`unet_lesson.core.env.seeded`: the global RNG is left as it was)."""
    opts = dict(LESSON_OPTIONS if padding == "same" else VALID_OPTIONS)
    opts.update(overrides)
    with seeded(seed):  # reproducible weights, without resetting the student's own RNG
        return UNet(**opts)


# ----------------------------------------------------------------------------------
# data: images, masks and weight maps, cut into tiles
# ----------------------------------------------------------------------------------
@dataclass
class TrainingSet:
    """Images, binary masks and the paper's weight maps, ready to be cut into tiles."""

    images: np.ndarray   # (N, H, W) float32
    masks: np.ndarray    # (N, H, W) uint8
    weights: np.ndarray  # (N, H, W) float32
    w0: float = W0
    sigma: float = SIGMA

    def __len__(self) -> int:
        return len(self.images)


def prepare(dataset: Dataset | TrainingSet, w0: float = W0, sigma: float = SIGMA) -> TrainingSet:
    """The training targets, once before training: the foreground mask with touching objects separated by
    background (:func:`~unet_lesson.seg.targets.separate_touching`, so label images train like the generated
    cells) and every image's weight map from its instances on that mask."""
    if isinstance(dataset, TrainingSet):
        return dataset
    masks = separate_touching(dataset.instances)
    instances = np.where(masks > 0, dataset.instances, 0)
    weights = np.stack([weight_map(inst, w0, sigma) for inst in instances])
    return TrainingSet(dataset.images, masks, weights, w0, sigma)


def split(dataset: Dataset, n_val: int) -> tuple[Dataset, Dataset]:
    """Split a dataset into (training, held-out): the first ``n_val`` samples are held out."""
    n = len(dataset)
    if int(n_val) != n_val or not 1 <= n_val < n:
        raise ValueError(f"n_val must be a whole number from 1 to {n - 1} (the set has {n} samples), got {n_val}")
    n_val = int(n_val)

    def part(sl):
        return Dataset(dataset.images[sl], dataset.instances[sl], dataset.masks[sl], seed=dataset.seed)

    return part(slice(n_val, None)), part(slice(0, n_val))


def _window_plan(tile: int, options) -> tuple[int, int, int]:
    """(input size, output size, margin) for tiles of ``tile`` output pixels."""
    s = input_size_for(tile, options)
    out = output_size(s, options)[0]
    return s, out, (s - out) // 2


def sample_batch(tset: TrainingSet, batch_size: int, tile: int, options, rng: np.random.Generator,
                 augment: Augment | None = None):
    """One batch: input windows ``(B, 1, S, S)``, targets and weights ``(B, T, T)`` (T = output size).

    For valid padding S > T: the input window comes from the mirror-padded image and the target
    and weight map are its centre crop to T (the pixels the output actually covers)."""
    s, t, margin = _window_plan(tile, options)
    n, h, w = tset.images.shape
    if t > h or t > w:
        raise ValueError(f"tiles of {t} px do not fit into {h}x{w} images; use a smaller tile")
    xs, ys, ws = [], [], []
    for _ in range(batch_size):
        i = int(rng.integers(n))
        top, left = int(rng.integers(h - t + 1)), int(rng.integers(w - t + 1))
        img, msk, wts = (a[i] for a in (tset.images, tset.masks, tset.weights))
        if margin:
            img, msk, wts = (mirror_pad(a, margin, s - t - margin, margin, s - t - margin) for a in (img, msk, wts))
        win = (slice(top, top + s), slice(left, left + s))
        img, msk, wts = img[win], msk[win], wts[win]
        if augment is not None:
            img, msk, wts = augment(img, msk, wts, seed=rng)
        xs.append(img)
        ys.append(center_crop(msk, t))
        ws.append(center_crop(wts, t))
    x = torch.from_numpy(np.stack(xs).astype(np.float32))[:, None]
    return x, torch.from_numpy(np.stack(ys).astype(np.int64)), torch.from_numpy(np.stack(ws).astype(np.float32))


# ----------------------------------------------------------------------------------
# prediction and evaluation
# ----------------------------------------------------------------------------------
def evaluate(model: UNet, dataset: Dataset, device=None) -> dict:
    """Dice and IoU of the foreground, pooled over every pixel of the held-out ``dataset``."""
    pred = predict(model, dataset.images, device)
    return {"dice": dice(pred, dataset.masks), "iou": iou(pred, dataset.masks)}


def otsu_baseline(dataset: Dataset) -> dict:
    """The classical baseline: one global threshold per image (Otsu's method), Dice and IoU pooled."""
    from skimage.filters import threshold_otsu

    pred = np.stack([img > threshold_otsu(img) for img in dataset.images])
    return {"dice": dice(pred, dataset.masks), "iou": iou(pred, dataset.masks), "pred": pred.astype(np.uint8)}


# ----------------------------------------------------------------------------------
# checkpoints
# ----------------------------------------------------------------------------------
# ----------------------------------------------------------------------------------
# the loop
# ----------------------------------------------------------------------------------
@dataclass
class History:
    """Loss per step; Dice/IoU on the held-out set at each evaluation, with training seconds."""

    loss: list = field(default_factory=list)
    eval_step: list = field(default_factory=list)
    dice: list = field(default_factory=list)
    iou: list = field(default_factory=list)
    seconds: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(**{k: list(v) for k, v in d.items()})


@dataclass
class TrainResult:
    model: UNet
    history: History
    steps: int                 # optimizer steps done in total (including resumed ones)
    seconds: float             # training time (without evaluation), including resumed runs
    best_dice: float | None
    best_step: int | None
    time_to_target: float | None  # training seconds when held-out Dice first reached target_dice
    interrupted: bool
    device: str

    def __repr__(self) -> str:
        best = "n/a" if self.best_dice is None else f"{self.best_dice:.4f} at step {self.best_step}"
        return (f"TrainResult(steps={self.steps}, {self.seconds:.1f} s on {self.device}, best held-out Dice {best}"
                f"{', interrupted' if self.interrupted else ''})")


def train(model: UNet, train_set, val_set: Dataset | None = None, *, steps: int = LESSON_STEPS,
          batch_size: int = LESSON_TRAIN["batch_size"], tile: int = LESSON_TRAIN["tile"],
          lr: float = LESSON_TRAIN["lr"], seed: int = 0, augment: Augment | None = Augment(),
          w0: float = W0, sigma: float = SIGMA, eval_every: int = LESSON_TRAIN["eval_every"],
          time_limit: float | None = None, target_dice: float | None = None, stop_at_target: bool = False,
          checkpoint_dir=None, resume: bool = False, device=None, progress: bool = True,
          num_threads: int | None = 1, schedule: str | None = "cosine") -> TrainResult:
    """Train ``model`` on ``train_set`` (a :class:`~unet_lesson.seg.data.Dataset` or :class:`TrainingSet`).

    * every ``eval_every`` steps: Dice/IoU on ``val_set``; the best weights are kept (and saved
      to ``checkpoint_dir/best.pt``), the full state to ``checkpoint_dir/last.pt``;
    * ``resume=True`` continues from ``checkpoint_dir/last.pt`` (weights, optimizer, step, history);
      batches depend only on ``(seed, step)``, so a resumed run sees the same batches;
    * stops after ``steps`` steps, or ``time_limit`` training seconds, or (``stop_at_target``)
      when the held-out Dice reaches ``target_dice``;
    * ``schedule="cosine"``: the learning rate falls from ``lr`` to ``lr/20`` along a half cosine over
      ``steps`` (big steps first, fine ones at the end, so the last weights do not jitter); ``None``: constant;
    * ``num_threads``: CPU threads torch uses while training (restored afterwards). 1 by default:
      the lesson's small convolutions gain little from a second thread, and on a busy machine
      two threads spin-wait for each other and run several times *slower*. ``None`` keeps torch's setting;
    * Ctrl-C (KeyboardInterrupt) stops cleanly: the best weights so far are loaded into the model
      and saved; the function returns normally with ``interrupted=True``.

    Returns a :class:`TrainResult`; ``result.model`` holds the best weights (by held-out Dice).
    """
    from tqdm.auto import tqdm

    device = torch.device(device) if device is not None else get_device()
    tset = prepare(train_set, w0, sigma)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history, start, seconds, best_dice, best_step, best_state, hit = History(), 0, 0.0, None, None, None, None
    ckdir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume:
        if ckdir is None:
            raise ValueError("resume=True needs checkpoint_dir (where last.pt was saved)")
        if (ckdir / "last.pt").exists():
            ck = load_checkpoint(ckdir / "last.pt", map_location=device)
            if options_of(ck["options"]) != model.options:
                raise ValueError(f"the checkpoint is for UNet({options_of(ck['options']).describe()}), not "
                                 f"UNet({model.options.describe()})")
            model.load_state_dict(ck["state_dict"])
            opt.load_state_dict(ck["optimizer"])
            start, seconds = int(ck["step"]), float(ck["seconds"])
            history = History.from_dict(ck["history"])
            best_dice, best_step = ck.get("best_dice"), ck.get("best_step")
            hit = ck.get("time_to_target")
            if (ckdir / "best.pt").exists():
                best_state = load_checkpoint(ckdir / "best.pt")["state_dict"]

    def save_last(step):
        if ckdir is not None:
            save_checkpoint(ckdir / "last.pt", model, optimizer=opt.state_dict(), step=step, seconds=seconds,
                            history=history.as_dict(), best_dice=best_dice, best_step=best_step,
                            time_to_target=hit, lr=lr, batch_size=batch_size, tile=tile, seed=seed)

    if schedule not in (None, "cosine"):
        raise ValueError(f"schedule must be 'cosine' or None, got {schedule!r}")

    def lr_at(k):
        if schedule is None:
            return lr
        return lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps)))

    step, interrupted = start, False
    threads = cpu_threads(num_threads if device.type == "cpu" else None)
    threads.__enter__()
    bar = tqdm(total=steps, initial=start, desc=f"training on {device.type}", disable=not progress,
               unit="step", leave=True)
    try:
        while step < steps:
            t0 = time.perf_counter()
            rng = np.random.default_rng([seed, step])
            x, y, wts = sample_batch(tset, batch_size, tile, model.options, rng, augment)
            x, y, wts = x.to(device), y.to(device), wts.to(device)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            model.train()
            loss = weighted_cross_entropy(model(x), y, wts)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if device.type == "cuda":
                torch.cuda.synchronize()
            seconds += time.perf_counter() - t0
            history.loss.append(loss.item())
            bar.update(1)
            if val_set is not None and (step % eval_every == 0 or step == steps):
                m = evaluate(model, val_set, device)
                history.eval_step.append(step)
                history.dice.append(m["dice"])
                history.iou.append(m["iou"])
                history.seconds.append(seconds)
                if best_dice is None or m["dice"] > best_dice:
                    best_dice, best_step = m["dice"], step
                    best_state = _cpu_state(model)
                    if ckdir is not None:
                        save_checkpoint(ckdir / "best.pt", model, step=step, dice=m["dice"], iou=m["iou"])
                if target_dice is not None and hit is None and m["dice"] >= target_dice:
                    hit = seconds
                save_last(step)
                bar.set_postfix(loss=f"{history.loss[-1]:.3f}", dice=f"{m['dice']:.3f}")
                if stop_at_target and hit is not None:
                    break
            if time_limit is not None and seconds >= time_limit:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        threads.__exit__(None, None, None)
    save_last(step)
    if best_state is not None:
        model.load_state_dict(best_state)  # the best held-out weights, also after Ctrl-C
    model.eval()
    return TrainResult(model, history, step, seconds, best_dice, best_step, hit, interrupted, str(device))
