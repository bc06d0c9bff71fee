"""Every exercise's answer, written here by hand (from the paper's Fig. 1 or by independent arithmetic),
checked against the exercise. A new exercise needs its answer pinned here, so the package's computed
answer is always compared with a number a person worked out, never with itself.
"""

from __future__ import annotations

import math

import pytest

from unet_lesson import lessons as course
from unet_lesson.ui.exercises import CodeExercise

PINNED = {
    # 00: the whole network (Fig. 1 of the paper)
    "0.1": 388,  # 572x572 in, 388x388 out
    "0.2": 2,  # one channel per class: foreground, background
    # 01: convolution sizes
    "1.1": 570,  # 572 - 3 + 1
    "1.2": "568x568x64",  # 572 -> 570 -> 568, 64 kernels
    "1.3": 32,  # floor((64 + 2 - 3)/2) + 1 = 31 + 1
    "1.4": (1, 2),  # p = (k - 1)/2: 3x3 -> 1, 5x5 -> 2
    "1.5": "a",  # the first shape: 570 -> 570 breaks the rule, the input is 572x572x1
    "1.6": "b",  # h - k + 1
    "1.7": "c",  # H + 2p - k + 1
    "1.10": 73_728,  # 2 convs * 3*3 * 64 in * 64 out
    # 02: max pooling
    "2.1": 284,  # 568 / 2
    "2.2": (0, 64),  # a pool has no weights; its 64 channels pass through
    "2.3": (284, 285),  # floor((569 - 2)/2) + 1 = 284; ceil(567/2) + 1 = 285
    "2.6": (3, 5, 7),  # 64->128, 128->256, 256->512: the first conv of levels 2-4
    "2.7": 32,  # 572 570 568 | 284 282 280 | 140 138 136 | 68 66 64 | 32
    "2.8": 1,  # four positions in one window: one pooled map
    # 03: the up-conv
    "3.1": "56x56x512",  # (28 - 1)*2 + 2 = 56, 512 kernels
    "3.2": 10,  # 1*1 + 2*1 + 3*1 + 4*1: each copy's corner on the centre
    "3.4": 14,  # (7 - 1)*2 - 2*1 + 3 + 1
    "3.5": 32,  # (16 - 1)*2 + 2
    "3.6": 2_097_664,  # 1024*512*2*2 + 512
    "3.7": (4, 16),  # 2x2 output pixels (rows) by 4x4 input pixels (columns)
    "3.8": "c",  # 2x2 kernel, stride 2
    # 04: copy and crop
    "4.1": 16,  # (136 - 104) / 2
    "4.3": "56x56x1024",  # 512 + 512 channels
    "4.5": 5,  # 65 - 56 = 9: 4 on top, 5 at the bottom
    "4.6": 281,  # 574 -> 572 -> 570 | pool 285 -> 283 -> 281: odd at the second pool
    "4.7": 0,  # same padding: 576 meets 576, nothing to cut
    "4.8": "b",
    # 05: the 1x1 head
    "5.1": "388x388x3",  # a 1x1 conv keeps 388; 3 kernels give 3 channels
    "5.2": 130,  # 64*2 + 2
    "5.3": 325,  # 64*5 + 5
    "5.4": 1.0,  # softmax sums to one
    "5.5": "b",
    "5.7": "b",  # measured: a head fitted on random features finds most cells; the trained network more
    # 06: the original U-Net
    "6.1": 640,  # 3*3*1*64 + 64
    "6.2": 196,  # 200 -> 198 -> 196
    "6.3": 988,  # 188 + 16k <= 1000: k = 50 (1000 itself is odd at the third pool)
    "6.4": 516,  # 700 - 184
    "6.7": 0.059,  # sqrt(2 / (9 * 64)) = sqrt(2/576) = 0.0589
    "6.8": 8,  # three 2x2 pools: a grid of 2**3 pixels
    # 07: the same-padding U-Net
    "7.1": 32,  # the bottom keeps 32 with same padding
    "7.2": "48x48x512",  # 384 / 16 = 24 at the bottom; the up-conv: 48, 1024 / 2
    "7.3": 3,  # the notes' recipe at 572: up-convs 64, 128, 256, 512 meet copies 64, 136, 280, 568
    "7.4": 60,  # 32 * 2**4 = 512 = 572 - 60
    "7.5": 5_888,  # +1 per channel of every 3x3 conv: 2*(64+128+256+512+1024+512+256+128+64)
    "7.6": 112,  # the next multiple of 2**4 after 100
    "7.7": 188,  # the smallest valid input: what one output pixel sees
    "7.10": "b",  # train(): the batch's statistics; eval(): the running averages
    # 08: training
    "8.1": 0.905,  # D / (2 - D) = 0.95 / 1.05
    "8.2": 0.444,  # the 4x9 blob shares one 4x4 cell's 16 pixels, union 36: 16 / 36
    "8.4": 8.35,  # 10 * exp(-(1 + 2)**2 / (2 * 5**2)) = 10 * exp(-0.18)
    "8.5": "a",
    "8.6": 52,  # depth-4 valid U-Net: output = input - 184
    # 09: overlap-tile
    "9.1": 92,  # (572 - 388) / 2
    "9.3": 604,  # 188 + 16k above 600: 188 + 16*26
    "9.4": 16,  # 2**4: four 2x2 max pools
    "9.5": "b",
    "9.6": 8,  # step 384 (388 rounded down to a multiple of 16): ceil(1160/384) = 4 rows, ceil(700/384) = 2 columns
}

EXERCISES = {e.key: e for m in course.modules() for e in m.EXERCISES}
ANSWER_EXERCISES = {k: e for k, e in EXERCISES.items() if not isinstance(e, CodeExercise)}


def test_every_answer_exercise_has_a_pinned_answer():
    assert sorted(ANSWER_EXERCISES) == sorted(PINNED), "pin the answer of every exercise here, worked out by hand"


def test_the_worked_examples_in_the_comments_hold():
    assert round(10 * math.exp(-9 / 50), 2) == PINNED["8.4"]
    assert round(0.95 / 1.05, 3) == PINNED["8.1"]
    assert round(16 / 36, 3) == PINNED["8.2"]
    assert 2 * (64 + 128 + 256 + 512 + 1024 + 512 + 256 + 128 + 64) == PINNED["7.5"]
    assert 1024 * 512 * 2 * 2 + 512 == PINNED["3.6"]
    assert round(math.sqrt(2 / (9 * 64)), 3) == PINNED["6.7"]
    assert (PINNED["6.3"] - 188) % 16 == 0 and PINNED["6.3"] + 16 > 1000
    assert 2 * 3 * 3 * 64 * 64 == PINNED["1.10"]


@pytest.mark.parametrize("key", sorted(PINNED, key=lambda k: tuple(map(int, k.split(".")))))
def test_the_pinned_answer_is_correct_and_a_near_miss_is_not(key):
    ex = ANSWER_EXERCISES[key]
    ex.reset()
    assert ex.check(PINNED[key]).correct, f"exercise {key} rejects its hand-worked answer {PINNED[key]!r}"
    answer = PINNED[key]
    if isinstance(answer, int):
        assert not ex.check(answer + 1).correct, f"exercise {key} also accepts {answer + 1}"
    elif isinstance(answer, str) and len(answer) == 1:
        other = next(c for c in ex.choices if c != answer)
        assert not ex.check(other).correct
    ex.reset()
