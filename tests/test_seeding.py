"""Every function that builds a seeded network or layer gives the same weights every time and leaves the
student's random number generators (torch's, numpy's, Python's) exactly as they were.

A lesson demo seeds inside ``unet_lesson.core.env.seeded`` (``torch.random.fork_rng``) or with its own
``torch.Generator`` / ``np.random.default_rng``, never with ``torch.manual_seed``: a student who seeded
their own experiment must not find it reset by running a lesson cell.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from unet_lesson.core.env import seeded
from unet_lesson.lessons import l01_convolution_sizes as l01
from unet_lesson.lessons import l02_max_pooling as l02
from unet_lesson.lessons import l03_up_conv as l03
from unet_lesson.lessons import l04_copy_and_crop as l04
from unet_lesson.lessons import l05_the_1x1_head as l05
from unet_lesson.lessons import l07_same_padding_unet as l07
from unet_lesson.lessons import l09_overlap_tile as l09
from unet_lesson.seg import pretrained
from unet_lesson.seg.data import sample_image
from unet_lesson.seg.train import lesson_model
from unet_lesson.ui import explorer
from unet_lesson.ui.checkers import CHECKERS


def _weights(obj):
    """Something to compare two results by: a module's weights, a tensor, a view's numbers, a tuple's parts."""
    if isinstance(obj, torch.nn.Module):
        return [v.detach().clone() for v in obj.state_dict().values()]
    if isinstance(obj, torch.Tensor):
        return [obj.detach().clone()]
    if isinstance(obj, tuple):
        return [w for part in obj for w in _weights(part)]
    if isinstance(obj, list):
        return [w for part in obj for w in _weights(part[1] if isinstance(part, tuple) else part)]
    if isinstance(obj, dict):
        return [w for k in sorted(obj, key=str) for w in _weights(obj[k])]
    if hasattr(obj, "data") and isinstance(obj.data, dict):  # a View: its numbers
        return [repr(sorted((k, str(v)) for k, v in obj.data.items()))]
    if isinstance(obj, np.ndarray):
        return [torch.as_tensor(obj.copy())]
    return [repr(obj)]


BUILDERS = {
    "lesson_model same": lambda: lesson_model("same"),
    "lesson_model valid, seed 3": lambda: lesson_model("valid", seed=3),
    "trained_or_random, random": lambda: pretrained.trained_or_random(
        "same", must_match={"depth": 2}, depth=2, base_channels=2
    )[0],
    "07 small same-padding net": lambda: l07._small(),
    "04 small net for the crop widget": lambda: l04._small_unet.__wrapped__("valid", False),
    "05 head layer": lambda: l05.head_layer(3, 8, seed=1),
    "05 random features, fitted head": lambda: l05.feature_source.__wrapped__("random")["head"],
    "01 random kernels": lambda: l01._random_kernels(2, 0),
    "01 conv size view (a real nn.Conv2d)": lambda: l01.conv_size_view(64, 3, 2, 1),
    "01 kernels on an image": lambda: l01.kernels_on_image_view(size=32, n_random=1),
    "02 pool view (a conv feature map)": lambda: l02.pool_view(size=20),
    "02 parameters view": lambda: l02.parameters_view(channels=4),
    "03 the real up-conv layer": lambda: l03.UpConv(in_channels=4, out_channels=2).real_layer(device="cpu"),
    "05 the head as a linear layer": lambda: l05.conv1x1_as_linear(3, 8, size=4),
    "01 many kernels view": lambda: l01.many_kernels_view(size=16, kernels=4),
    "02 channels view": lambda: l02.channels_view(size=16, channels=2),
    "03 up-conv demo": lambda: l03.feature_map_demo(np.array(sample_image(32))),
    "explorer feature network": lambda: explorer._feature_network.__wrapped__("same", 2, 4, 2, "upconv")[0],
    "09 lesson models": lambda: l09.lesson_models(base_channels=2)[:2],
    "checker for MyUNet-like modules": lambda: CHECKERS["DoubleConv"](CHECKERS["DoubleConv"].reference).status,
}


def _states():
    return torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
def test_seeded_builders_repeat_and_leave_the_global_rngs_alone(build):
    torch.manual_seed(1234)  # the student's own seeds
    np.random.seed(1234)
    random.seed(1234)
    before = _states()
    first = _weights(build())
    between = _states()
    second = _weights(build())
    after = _states()
    for b, x, a in zip(before, between, after):
        if isinstance(b, torch.Tensor):
            assert torch.equal(b, x) and torch.equal(b, a), "torch's global RNG was changed"
        elif isinstance(b, np.ndarray):
            assert np.array_equal(b, x) and np.array_equal(b, a), "numpy's global RNG was changed"
        else:
            assert b == x == a, "Python's random was changed"
    assert len(first) == len(second)
    for a, b in zip(first, second):
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b, "not the same result twice"


def test_seeded_leaves_the_rng_alone_even_when_the_block_raises():
    torch.manual_seed(7)
    state = torch.random.get_rng_state()
    with pytest.raises(ValueError):
        with seeded(0):
            torch.rand(3)
            raise ValueError("inside")
    assert torch.equal(state, torch.random.get_rng_state())
