r"""The checker of lesson 08's code exercise: the weighted cross-entropy, against the package's loss.

The student writes ``weighted_loss(logits, target, weights)``: the paper's pixel-wise softmax and
cross-entropy (Eq. 1), each pixel weighted by the weight map, reduced the course's way, as the weighted
*mean* :math:`\sum_x w(x)\,\ell(x) / \sum_x w(x)` with :math:`\ell(x) = -\log p_{\ell(x)}(x)`.
:func:`check_weighted_loss` runs it on small seeded cases (two and three classes, one pixel weighted
heavily, weights of zero, large scores) against :func:`unet_lesson.seg.losses.weighted_cross_entropy`
and names the first case that differs, with a nudge when a typical slip matches (the paper's sum,
a plain mean, the missing minus sign, the softmax over the wrong axis, the wrong class).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...seg.losses import weighted_cross_entropy
from ._engine import Run, as_array, checker, describe
from .solutions import weighted_loss

__all__ = ["check_weighted_loss", "LOSS_CASES"]


#: (N, K, H, W, kind of weights, largest |score|): what each case tries
LOSS_CASES = (
    (1, 2, 3, 3, "ones", 3.0),  # every weight 1: the plain mean cross-entropy
    (2, 2, 4, 5, "random", 3.0),  # a weight map: values from 0.5 to 3
    (1, 3, 3, 4, "random", 3.0),  # three classes
    (1, 2, 5, 5, "one heavy", 3.0),  # one pixel (a gap pixel) weighted 100
    (2, 2, 3, 6, "some zero", 3.0),  # pixels of weight 0 do not count
    (3, 2, 2, 7, "random", 3.0),  # a batch of three, rectangles
    (1, 2, 4, 4, "random", 120.0),  # large scores: exp(120) overflows in float32
)


def _case(n: int, k: int, h: int, w: int, kind: str, scale: float, seed: int):
    rng = np.random.default_rng(seed)  # a local generator: the student's RNG is never touched
    logits = rng.uniform(-scale, scale, (n, k, h, w))
    target = rng.integers(0, k, (n, h, w))
    target.flat[0], target.flat[-1] = 0, k - 1  # every case has both ends of the class range
    if kind == "ones":
        weights = np.ones((n, h, w))
    elif kind == "one heavy":
        weights = np.ones((n, h, w))
        weights[0, h // 2, w // 2] = 100.0
    else:
        weights = rng.uniform(0.5, 3.0, (n, h, w))
        if kind == "some zero":
            weights[:, :, ::2] = 0.0
    return (
        torch.tensor(logits, dtype=torch.float32),
        torch.tensor(target, dtype=torch.int64),
        torch.tensor(weights, dtype=torch.float32),
    )


def _words(n, k, h, w, kind, scale) -> str:
    what = {
        "ones": "every weight 1",
        "random": "weights from 0.5 to 3",
        "one heavy": "one pixel weighted 100",
        "some zero": "every other column weighted 0",
    }[kind]
    return f"N={n}, K={k} classes, {h}×{w} pixels, {what}, scores up to ±{scale:g}"


def _slips(logits, target, weights):
    """(what a typical slip computes, the nudge), in float64."""
    z, t, w = logits.double(), target, weights.double()
    log_p = torch.log_softmax(z, dim=1)
    ce = -log_p.gather(1, t[:, None]).squeeze(1)
    other = -log_p.gather(1, ((t + 1) % z.shape[1])[:, None]).squeeze(1)
    wrong_axis = -torch.log_softmax(z, dim=-1).gather(1, t[:, None]).squeeze(1)
    return [
        (
            lambda: (w * ce).sum(),
            "that is the paper's sum Σ w·ℓ (Eq. 1, up to its sign); the course divides it by Σ w, so the loss "
            "does not grow with the tile size or with w0.",
        ),
        (
            lambda: -(w * ce).sum() / w.sum(),
            "yours is negative: Eq. (1) as printed, E = Σ w log p, is what the paper maximises; the loss to "
            "minimise is its negative, -log p of the true class (a number >= 0 at every pixel).",
        ),
        (
            lambda: ce.mean(),
            "that is the plain mean: the weights are missing. Multiply each pixel's -log p by its weight.",
        ),
        (
            lambda: (w * ce).mean(),
            "divide by the sum of the weights, not by the number of pixels (a pixel of weight 0 must not count).",
        ),
        (
            lambda: (w * wrong_axis).sum() / w.sum(),
            "the softmax runs over the classes, axis 1 of (N, K, H, W), not over the width: the K scores of one "
            "pixel become K probabilities that sum to 1.",
        ),
        (
            lambda: (w * other).sum() / w.sum(),
            "that is -log p of a wrong class: pick the probability of each pixel's true class, target[n, y, x].",
        ),
    ]


def _number(value) -> float | None:
    if value is None:
        return None
    arr = as_array(value)
    if arr is None or arr.size != 1:
        return None
    return float(arr.reshape(()))


@checker("unet_lesson.seg.losses.weighted_cross_entropy", weighted_loss)
def check_weighted_loss(run: Run, student) -> str:
    """Check ``weighted_loss(logits, target, weights)`` against the package's weighted cross-entropy."""
    for i, (n, k, h, w, kind, scale) in enumerate(LOSS_CASES):
        logits, target, weights = _case(n, k, h, w, kind, scale, seed=800 + i)
        case = _words(n, k, h, w, kind, scale)
        real = float(weighted_cross_entropy(logits.double(), target, weights.double()))
        value = run.call(case, student, logits.clone(), target.clone(), weights.clone())
        yours = _number(value)
        if yours is None:
            arr = as_array(value)
            what = "None (is the return missing?)" if value is None else describe(value)
            if arr is not None and not isinstance(value, (np.ndarray, torch.Tensor)):
                what += f" (shape {tuple(arr.shape)})"
            raise run.fail(
                f"for {case} yours gives {what}; the loss is one number ({real:.6g}).",
                case,
                "sum over every pixel of the batch and divide by the sum of the weights: one number for the batch.",
            )
        if not math.isclose(yours, real, rel_tol=1e-4, abs_tol=1e-6):
            diagnosis = ""
            if not math.isfinite(yours):
                diagnosis = (
                    "exp of a large score overflows (float32 ends near exp(88)): use torch.log_softmax, or "
                    "subtract each pixel's largest score before exp (log-sum-exp)."
                    if scale > 80
                    else "a log of 0 or of a negative number? take the log of the softmax probabilities."
                )
            else:
                for compute, nudge in _slips(logits, target, weights):
                    try:
                        if math.isclose(yours, float(compute()), rel_tol=1e-4, abs_tol=1e-6):
                            diagnosis = nudge
                            break
                    except Exception:
                        continue
            raise run.fail(f"for {case} yours gives {yours:.6g}, {run.real} gives {real:.6g}.", case, diagnosis)
        run.ok(remaining=i < len(LOSS_CASES) - 1)
    return (
        f"all {len(LOSS_CASES)} cases agree with unet_lesson's weighted cross-entropy: plain and weighted, two and "
        "three classes, a heavy pixel, weights of zero, scores too large for a naive exp."
    )
