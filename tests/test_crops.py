"""Copy and crop in numbers (unet_lesson.core.crops): the crops against real forward passes, and the refusal of
values too large to print."""

from __future__ import annotations

import pytest
import torch

from unet_lesson import UNet
from unet_lesson.core import crops as CR


@pytest.mark.parametrize("size,padding", [(572, "valid"), (188, "valid"), (204, "valid"), (64, "same"), (96, "same")])
def test_crop_levels_are_the_crops_of_a_real_forward_pass(size, padding):
    net = UNet(base_channels=1, padding=padding)
    seen = {}

    def record(name):
        def hook(module, inputs, output):
            seen[name] = (inputs[0].shape, output.shape)  # returns None: the output is left as it is

        return hook

    hooks = [m.register_forward_hook(record(name)) for name, m in net.named_modules() if name.endswith(".crop")]
    with torch.no_grad():
        net(torch.zeros(1, 1, size, size))
    for h in hooks:
        h.remove()
    levels = CR.crop_levels(size, padding)
    real = sorted(((tuple(i[-2:]), tuple(o[-2:])) for i, o in seen.values()), reverse=True)
    assert [(c.source, c.target) for c in levels] == real
    assert all(c.top == (c.source[0] - c.target[0]) // 2 for c in levels)


def test_the_first_odd_map_at_a_pool():
    assert [CR.first_odd_pool(n) for n in (573, 574, 578)] == [569, 281, 283]
    with pytest.raises(StopIteration):
        CR.first_odd_pool(572)  # valid: no odd map ever meets a pool


@pytest.mark.parametrize("value", [0, -3, 572, 10**100, -(10**100), 4.5, "x", None, True], ids=range(9))
def test_not_giant_passes_everything_up_to_a_googol(value):
    assert CR.not_giant(value, "size") is value


@pytest.mark.parametrize("value", [10**100 + 1, -(10**101), 10**5000, -(10**5000)], ids=range(4))
def test_not_giant_refuses_larger_numbers_without_printing_them(value):
    with pytest.raises(ValueError, match="digits: more than 10\\*\\*100") as e:
        CR.not_giant(value, "size", "a hint")
    assert len(str(e.value)) < 300 and "a hint" in str(e.value)
