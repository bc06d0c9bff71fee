r"""A linear probe: fit only a 1x1 conv head on frozen features (lesson 05's experiment).

:func:`fit_head` is logistic regression with one pixel as one example: the features of a network's last
double conv stay as they are, and only the head's :math:`2 C_{in} + 2` parameters learn, so the result
says how far a per-pixel linear classifier gets on those features alone.

Two classes under softmax depend only on the difference of their scores,
:math:`p_1 = \sigma(s_1 - s_0)`, so the fit is a binary logistic regression on :math:`d = s_1 - s_0`,
solved by Newton's method (iteratively reweighted least squares, a few steps on ``C_in + 1`` numbers,
with a small ridge penalty so that separable pixels do not drive the weights to infinity); the head keeps
its random starting weights' mean score and takes :math:`\pm d/2`. No optimiser object is created (which
keeps the first fit of a session quick).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.env import seeded

__all__ = ["fit_head"]

#: the ridge penalty on the standardised weights (per pixel of the picture)
RIDGE = 1e-4


@torch.no_grad()
def fit_head(features: torch.Tensor, mask, steps: int = 10, seed: int = 0) -> tuple[nn.Conv2d, dict]:
    """Train *only* a 2-class 1x1 head on frozen ``features`` (1, C_in, H, W) to a mask (H, W):
    logistic regression, one pixel = one example, ``steps`` Newton steps from the seeded random head.
    Returns the head (an ordinary ``nn.Conv2d``) and ``{"accuracy_before", "accuracy_after",
    "loss_before", "loss_after"}`` (the mean cross-entropy and the share of pixels right, on this picture).

    The features are standardised per channel for the fit, and the scaling is folded back into the
    conv's weights and bias afterwards, so the head works on the raw features.
    """
    with seeded(seed):  # the head's starting weights, as nn.Conv2d draws them, from a fixed seed
        head = nn.Conv2d(features.shape[1], 2, kernel_size=1)
    x = features[0].flatten(1).T.double()  # (pixels, C_in): one row per pixel
    y = torch.as_tensor(np.array(mask)).double().flatten()  # a copy: the lesson's masks are read-only
    mean, std = x.mean(0), x.std(0) + 1e-8
    xs = torch.cat([(x - mean) / std, torch.ones(len(x), 1, dtype=x.dtype)], 1)  # standardised, plus a bias column
    w_conv, b_conv = head.weight[:, :, 0, 0].double(), head.bias.double()
    # the random head in standardised coordinates: d = s1 - s0 = xs @ theta; m = (s0 + s1) / 2 is kept
    theta = torch.cat([(w_conv[1] - w_conv[0]) * std, (b_conv[1] - b_conv[0] + (w_conv[1] - w_conv[0]) @ mean)[None]])

    def stats(t):
        d = xs @ t
        loss = float(torch.nn.functional.softplus(d).sub(y * d).mean())  # cross-entropy of sigmoid(d)
        return loss, float(((d > 0).double() == y).double().mean())

    loss0, acc0 = stats(theta)
    n = len(xs)
    ridge = RIDGE * n * torch.eye(xs.shape[1], dtype=xs.dtype)
    for _ in range(steps):  # Newton: theta -= H^-1 g, g = X^T (p - y) + ridge theta, H = X^T diag(p(1-p)) X + ridge
        p = torch.sigmoid(xs @ theta)
        grad = xs.T @ (p - y) + ridge @ theta
        hess = (xs * (p * (1 - p))[:, None]).T @ xs + ridge
        theta = theta - torch.linalg.solve(hess, grad)
    loss1, acc1 = stats(theta)
    # back to raw features: d = x @ (theta_w / std) + theta_b - (theta_w / std) . mean
    wd = theta[:-1] / std
    bd = theta[-1] - wd @ mean
    wm, bm = (w_conv[0] + w_conv[1]) / 2, (b_conv[0] + b_conv[1]) / 2
    head.weight.copy_(torch.stack([wm - wd / 2, wm + wd / 2])[:, :, None, None].float())
    head.bias.copy_(torch.stack([bm - bd / 2, bm + bd / 2]).float())
    return head, {
        "loss_before": round(loss0, 3),
        "loss_after": round(loss1, 3),
        "accuracy_before": round(acc0, 3),
        "accuracy_after": round(acc1, 3),
    }
