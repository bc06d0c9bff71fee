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

A student's work is never lost and a wrong result never silent: every argument is checked before
anything runs (:mod:`unet_lesson.seg.train_checks`), a folder holding an earlier run is not replaced
without ``overwrite=True``, Ctrl-C at any moment stops cleanly with the best weights in the model, and
a run whose loss or weights become NaN stops, saying so, without saving them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..core.env import cpu_threads, seeded
from ..core.model import UNet
from ..core.ops import center_crop, mirror_pad
from .augment import Augment
from .checkpoints import _cpu_state, save_checkpoint
from .data import Dataset
from .losses import SIGMA, W0, weight_map, weighted_cross_entropy
from .metrics import dice, iou
from .predict import predict
from .targets import separate_touching
from .train_checks import (
    RunFolderError,
    TrainError,
    check_arguments,
    check_dataset,
    check_finite,
    check_weight_map,
    clear_run_folder,
    open_run_folder,
    window_plan,
)
from .train_run import History, TrainingRun, TrainResult, ctrl_c_once, shielded

__all__ = [
    "LESSON_OPTIONS",
    "VALID_OPTIONS",
    "LESSON_DATA",
    "LESSON_TRAIN",
    "LESSON_STEPS",
    "lesson_model",
    "TrainingSet",
    "prepare",
    "split",
    "sample_batch",
    "evaluate",
    "otsu_baseline",
    "History",
    "TrainResult",
    "train",
    "TrainError",
    "RunFolderError",
]

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

    images: np.ndarray  # (N, H, W) float32
    masks: np.ndarray  # (N, H, W) uint8
    weights: np.ndarray  # (N, H, W) float32
    w0: float = W0
    sigma: float = SIGMA

    def __len__(self) -> int:
        return len(self.images)


def prepare(dataset: Dataset | TrainingSet, w0: float = W0, sigma: float = SIGMA) -> TrainingSet:
    """The training targets, once before training: the foreground mask with touching objects separated by
    background (:func:`~unet_lesson.seg.targets.separate_touching`, so label images train like the generated
    cells) and every image's weight map from its instances on that mask.

    Refuses (``ValueError``) an empty set and NaN or infinite pixels, naming the images and how many pixels:
    one such pixel makes the loss NaN, and after one step every weight."""
    w0, sigma = check_weight_map(w0, sigma)
    if isinstance(dataset, TrainingSet):
        check_dataset(dataset, "the training set", "training")
        check_finite(dataset.weights, "weight map")
        if not np.isin(dataset.masks, (0, 1)).all():
            raise TrainError(
                "a TrainingSet's masks must be binary (0 = background, 1 = cell); got values "
                f"{np.unique(dataset.masks)[:8].tolist()}."
            )
        return dataset
    check_dataset(dataset, "the training set", "training")
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


def sample_batch(
    tset: TrainingSet, batch_size: int, tile: int, options, rng: np.random.Generator, augment: Augment | None = None
):
    """One batch: input windows ``(B, 1, S, S)``, targets and weights ``(B, T, T)`` (T = output size).

    For valid padding S > T: the input window comes from the mirror-padded image and the target
    and weight map are its centre crop to T (the pixels the output actually covers)."""
    s, t, margin = window_plan(tile, options)
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
# the loop
# ----------------------------------------------------------------------------------
def train(
    model: UNet,
    train_set,
    val_set: Dataset | None = None,
    *,
    steps: int = LESSON_STEPS,
    batch_size: int = LESSON_TRAIN["batch_size"],
    tile: int = LESSON_TRAIN["tile"],
    lr: float = LESSON_TRAIN["lr"],
    seed: int = 0,
    augment: Augment | None = Augment(),
    w0: float = W0,
    sigma: float = SIGMA,
    eval_every: int = LESSON_TRAIN["eval_every"],
    time_limit: float | None = None,
    target_dice: float | None = None,
    stop_at_target: bool = False,
    checkpoint_dir=None,
    resume: bool = False,
    overwrite: bool = False,
    device=None,
    progress: bool = True,
    num_threads: int | None = 1,
    schedule: str | None = "cosine",
) -> TrainResult:
    """Train ``model`` on ``train_set`` (a :class:`~unet_lesson.seg.data.Dataset` or :class:`TrainingSet`).

    * every ``eval_every`` steps: Dice/IoU on ``val_set``; the best weights are kept (and saved
      to ``checkpoint_dir/best.pt``), the full state to ``checkpoint_dir/last.pt``;
    * a folder that already holds a run (``best.pt`` or ``last.pt``) is never silently replaced: the call
      is refused, saying what is there; ``resume=True`` continues that run, ``overwrite=True`` deletes its
      ``best.pt`` and ``last.pt`` and starts again (or give a new ``checkpoint_dir``);
    * ``resume=True`` continues from ``checkpoint_dir/last.pt`` (weights, optimizer, step, history);
      batches depend only on ``(seed, step)``, so a resumed run sees the same batches. ``steps`` is the
      total. A folder without ``last.pt`` (a typo) or a checkpoint of another network is refused;
    * stops after ``steps`` steps, or ``time_limit`` training seconds, or (``stop_at_target``)
      when the held-out Dice reaches ``target_dice``;
    * ``schedule="cosine"``: the learning rate falls from ``lr`` to ``lr/20`` along a half cosine over
      ``steps`` (big steps first, fine ones at the end, so the last weights do not jitter); ``None``: constant;
    * ``num_threads``: CPU threads torch uses while training (restored afterwards). 1 by default:
      the lesson's small convolutions gain little from a second thread, and on a busy machine
      two threads spin-wait for each other and run several times *slower*. ``None`` keeps torch's setting;
    * Ctrl-C (KeyboardInterrupt), at any moment, even a second one while saving, stops cleanly: the model
      holds the best weights so far, in eval mode; what is not saved yet is saved; the function returns
      normally with ``interrupted=True`` and prints one line saying where it stopped;
    * a diverging run (the loss or the weights become NaN or infinite, e.g. ``lr`` far too large) stops
      with ``diverged=True`` and a line naming the step and a smaller ``lr``; the model keeps the best
      (or last finite) weights and nothing NaN is saved.

    Every argument is checked first (:mod:`unet_lesson.seg.train_checks`): a value that cannot work
    (``batch_size=0``, ``eval_every=0``, ``lr=0``, a tile larger than the images, an empty set, NaN pixels,
    ``target_dice=1.5``, ...) raises a ``ValueError`` saying what would, before anything is computed.

    Returns a :class:`TrainResult`; ``result.model`` holds the best weights (by held-out Dice).
    """
    arguments = dict(locals())  # every argument above, by name, for the checks (nothing else is defined yet)
    run = TrainingRun(model, save=save_checkpoint, lesson_lr=LESSON_TRAIN["lr"])
    with ctrl_c_once(run):
        try:
            run.s = s = check_arguments(**arguments)
            last, best = open_run_folder(s, model.options)
            tset = prepare(train_set, s.w0, s.sigma)
            model.to(s.device)
            with run.uncut():
                run.opt = torch.optim.Adam(model.parameters(), lr=s.lr)
            run.started = True
            if last is not None:
                with run.uncut():
                    run.restore(last, best)
            elif s.overwrite:
                clear_run_folder(s.checkpoint_dir)
            _loop(run, tset, val_set, augment)
        except KeyboardInterrupt:
            run.stopping = run.interrupted = True
        except BaseException:
            run.stopping = True
            if run.started:  # an unexpected error mid-run: still leave the best weights in the model
                shielded(run, run._close)
                if run.best_state is not None:
                    model.load_state_dict(run.best_state)
                model.eval()
            raise
        return run.finish()


def _loop(run: TrainingRun, tset: TrainingSet, val_set, augment) -> None:
    from tqdm.auto import tqdm

    s, model, opt = run.s, run.model, run.opt
    device, steps = s.device, s.steps

    def lr_at(k):
        if s.schedule is None:
            return s.lr
        return s.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps)))

    run.last_good, run.last_good_step = _cpu_state(model), run.step
    run.threads = cpu_threads(s.num_threads if device.type == "cpu" else None)
    run.threads.__enter__()
    run.bar = bar = tqdm(
        total=steps,
        initial=run.start,
        desc=f"training on {device.type}",
        disable=not s.progress,
        unit="step",
        leave=True,
    )
    while run.step < steps:
        t0 = time.perf_counter()
        rng = np.random.default_rng([s.seed, run.step])
        x, y, wts = sample_batch(tset, s.batch_size, s.tile, model.options, rng, augment)
        x, y, wts = x.to(device), y.to(device), wts.to(device)
        for g in opt.param_groups:
            g["lr"] = lr_at(run.step)
        model.train()
        loss = weighted_cross_entropy(model(x), y, wts)
        value = loss.item()
        if not math.isfinite(value):  # before the step: these weights stay as they are
            return run.diverge(f"at step {run.step + 1} the loss became {value}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with run.uncut():  # the step and its bookkeeping: all or nothing, so last.pt stays consistent
            run.mid_step = True  # should a KeyboardInterrupt come from inside opt.step() all the same
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            run.step += 1
            run.seconds += time.perf_counter() - t0
            run.history.loss.append(value)
            run.mid_step = False
        step = run.step
        bar.update(1)
        checkpoint_now = step % s.eval_every == 0 or step == steps
        if checkpoint_now and not run.finite():
            return run.diverge(f"at step {step} the weights were NaN or infinite (checked every eval_every steps)")
        if val_set is not None and checkpoint_now:
            m = evaluate(model, val_set, device)
            h = run.history
            with run.uncut():  # the history's lists stay the same length, the best is recorded and saved whole
                h.eval_step.append(step)
                h.dice.append(m["dice"])
                h.iou.append(m["iou"])
                h.seconds.append(run.seconds)
                if run.best_dice is None or m["dice"] > run.best_dice:
                    run.best_dice, run.best_step, run.best_metrics, run.best_state = (
                        m["dice"],
                        step,
                        m,
                        _cpu_state(model),
                    )
                    run.save_best()
                if s.target_dice is not None and run.hit is None and m["dice"] >= s.target_dice:
                    run.hit = run.seconds
            run.save_last()
            bar.set_postfix(loss=f"{h.loss[-1]:.3f}", dice=f"{m['dice']:.3f}")
            if s.stop_at_target and run.hit is not None:
                break
        elif checkpoint_now:  # no held-out set: keep the last finite weights, save the state
            run.last_good, run.last_good_step = _cpu_state(model), step
            run.save_last()
        if s.time_limit is not None and run.seconds >= s.time_limit:
            break
