"""Lesson 08's code exercise: the weighted cross-entropy checker accepts right versions (the reference, the
package's loss, F.cross_entropy), rejects the typical slips at the first case that shows them with a nudge that
names the slip, and never raises on the student's behalf."""

import pytest
import torch
import torch.nn.functional as F

from unet_lesson.seg.losses import weighted_cross_entropy
from unet_lesson.ui import checkers as C
from unet_lesson.ui.checkers import solutions as S
from unet_lesson.ui.checkers.losses import LOSS_CASES, _case

check = C.check_weighted_loss


@pytest.mark.parametrize("i", range(len(LOSS_CASES)))
def test_reference_equals_pytorchs_own_weighted_cross_entropy(i):
    logits, target, weights = _case(*LOSS_CASES[i], seed=800 + i)
    logits = logits.double()
    per_pixel = F.cross_entropy(logits, target, reduction="none")  # PyTorch's own -log p of the true class
    real = (weights.double() * per_pixel).sum() / weights.double().sum()
    assert float(S.weighted_loss(logits, target, weights.double())) == pytest.approx(float(real), rel=1e-10)
    assert float(weighted_cross_entropy(logits, target, weights.double())) == pytest.approx(float(real), rel=1e-10)


def test_the_reference_and_other_right_ways_are_accepted():
    assert check(S.weighted_loss).status == "correct"
    assert check(check.reference).status == "correct"
    assert check(weighted_cross_entropy).status == "correct"

    def with_f(logits, target, weights):
        return (weights * F.cross_entropy(logits, target, reduction="none")).sum() / weights.sum()

    def by_hand(logits, target, weights):  # log-sum-exp written out, subtracting the largest score
        m = logits.max(dim=1, keepdim=True).values
        log_p = logits - m - torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))
        return float((weights * -log_p.gather(1, target[:, None])[:, 0]).sum() / weights.sum())

    assert check(with_f).status == "correct"
    assert check(by_hand).status == "correct"


def _ce(logits, target):
    return F.cross_entropy(logits, target, reduction="none")


WRONG = [
    (lambda z, t, w: (w * _ce(z, t)).sum(), "the paper's sum"),
    (lambda z, t, w: -(w * _ce(z, t)).sum() / w.sum(), "yours is negative"),
    (lambda z, t, w: _ce(z, t).mean(), "the weights are missing"),
    (lambda z, t, w: (w * _ce(z, t)).mean(), "divide by the sum of the weights"),
    (
        lambda z, t, w: (w * -torch.log_softmax(z, dim=-1).gather(1, t[:, None])[:, 0]).sum() / w.sum(),
        "the softmax runs over the classes",
    ),
    (
        lambda z, t, w: (w * _ce(z, (t + 1) % z.shape[1])).sum() / w.sum(),
        "a wrong class",
    ),
    (  # a naive softmax: exp overflows for the large scores of the last case
        lambda z, t, w: (
            (w * -torch.log((torch.exp(z) / torch.exp(z).sum(1, keepdim=True)).gather(1, t[:, None])[:, 0]))
            .sum()
            .div(w.sum())
        ),
        "overflows",
    ),
]


@pytest.mark.parametrize("wrong, nudge", WRONG, ids=[n for _, n in WRONG])
def test_typical_slips_are_rejected_with_their_nudge(wrong, nudge):
    r = check(wrong)
    assert r.status == "wrong"
    assert nudge in r.diagnosis, (r.message, r.diagnosis)
    assert "yours gives" in r.message  # the case, yours and the real value, in words


def test_the_naive_softmax_passes_small_scores_and_fails_only_on_the_large_ones():
    r = check(WRONG[-1][0])
    assert "±120" in r.message and "log_softmax" in r.diagnosis


def test_a_loss_per_pixel_is_not_one_number():
    r = check(lambda z, t, w: w * _ce(z, t))
    assert r.status == "wrong" and "one number" in r.message and "shape (1, 3, 3)" in r.message


def test_a_missing_return_and_a_raise_are_reported_not_raised():
    def no_return(logits, target, weights):
        (weights * _ce(logits, target)).sum() / weights.sum()

    r = check(no_return)
    assert r.status == "wrong" and "None" in r.message

    def raises(logits, target, weights):
        raise RuntimeError("boom")

    r = check(raises)
    assert r.status == "wrong" and "RuntimeError" in r.message and "boom" in r.message


def test_the_stub_is_not_attempted_and_a_number_is_not_code():
    def weighted_loss(logits, target, weights):
        """doc"""
        ...

    assert check(weighted_loss).status == "not attempted"
    assert check(...).status == "not attempted"
    assert check(0.5).status == "wrong"
