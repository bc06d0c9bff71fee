"""Lessons 06/07 helpers: torchinfo on meta, the notes' walk, odd sizes and fixes, BN, receptive field."""

import pytest
import torch

from unet_lesson import InvalidInputSize, UNet, count_parameters, nearest_valid_sizes, output_size, shape_table
from unet_lesson.core import receptive as RF
from unet_lesson.core.ops import mirror_pad
from unet_lesson.lessons import l06_the_original_unet as W
from unet_lesson.lessons import l07_same_padding_unet as S
from unet_lesson.ui.exercises import same_answer


def test_paper_summary_on_meta_matches_the_table():
    s = W.paper_summary()
    table = shape_table(572)
    assert s.total_params == table.total_params == 31_030_658
    assert list(s.summary_list[0].output_size) == [1, *table.output_shape]
    # every conv layer torchinfo lists has the table's output shape
    convs = [layer for layer in s.summary_list if layer.class_name in ("Conv2d", "ConvTranspose2d")]
    assert len(convs) == table.n_conv_layers == 23
    with torch.device("meta"):
        model = UNet()
    assert len(W.conv_layers(model)) == 23


def test_paper_summary_other_settings():
    s = W.paper_summary(256, padding="same", depth=2)
    assert s.total_params == count_parameters(padding="same")
    assert list(s.summary_list[0].output_size) == [1, 2, 256, 256]


def test_notes_walk_maps_onto_table_rows():
    walk = W.notes_walk_rows()
    assert [s for s, *_ in walk] == list(range(1, 8))
    for _step, text, rows, quoted in walk:
        assert rows and ", ".join(str(r.out_shape[1]) for r in rows) == quoted
        for r in rows:
            assert f"{r.out_shape[1]}" in text and f"{r.out_shape[0]}" in text
    assert [r.index for r in walk[0][2]] == [1, 2] and walk[-1][2][-1].out_shape == (512, 64, 64)
    assert W.notes_walk_html().count("✓") == 7


@pytest.mark.parametrize("size", [573, 580, 600, 187])
def test_invalid_size_error(size):
    e = W.invalid_size_error(size)
    assert isinstance(e, InvalidInputSize)
    assert (e.below, e.above) == nearest_valid_sizes(size)
    assert e.layer and "Nearest valid sizes" in str(e)
    with pytest.raises(InvalidInputSize) as raised, torch.device("meta"):  # the real network's own check
        UNet()(torch.zeros(1, 1, size, size))
    assert str(raised.value) == str(e)


def test_invalid_size_error_for_a_valid_size():
    with pytest.raises(ValueError, match="valid size"):
        W.invalid_size_error(572)


@pytest.mark.parametrize("size,depth", [(100, 3), (30, 2), (50, 2), (65, 3)])
def test_plain_concat_fails_with_torchs_error(size, depth):
    model = S._small(depth=depth)
    with torch.no_grad(), pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        S.concat_without_crop(model, torch.zeros(1, 1, size, size))


@pytest.mark.parametrize("size", [64, 96])
def test_plain_concat_works_for_multiples(size):
    model = S._small(depth=3)
    with torch.no_grad():
        x = torch.rand(1, 1, size, size)
        assert torch.equal(S.concat_without_crop(model, x), model(x))


@pytest.mark.parametrize("size", [100, 101, 99, 64, 37])
def test_fixes_run_for_real(size):
    results = {r.name: r for r in S.fixes_demo(size)}
    valid = size % 8 == 0
    assert results["plain torch.cat (no crop)"].ok == valid
    assert results["UNet(padding='same')"].ok == valid
    assert results["UNet(padding='same', mismatch='pad')"].output == (size, size)
    assert results["pad_to_valid(model, x)"].output == (size, size)
    crop = results["UNet(padding='same', mismatch='crop')"].output
    assert crop[0] <= size and crop == tuple(output_size(size, padding="same", depth=3, mismatch="crop"))


@pytest.mark.parametrize("mode", ["reflect", "zeros"])
@pytest.mark.parametrize("h,w", [(100, 100), (37, 50), (16, 16), (5, 9)])
def test_pad_to_valid_keeps_the_size_and_agrees_on_valid_sizes(mode, h, w):
    model = S._small(depth=2)
    x = torch.rand(1, 1, h, w)
    with torch.no_grad():
        y = S.pad_to_valid(model, x, mode=mode)
        assert tuple(y.shape) == (1, 2, h, w)
        if h % 4 == 0 and w % 4 == 0:
            assert torch.equal(y, model(x))


def test_pad_to_valid_rejects_valid_padding_and_bad_modes():
    with pytest.raises(ValueError, match="same padding"):
        S.pad_to_valid(UNet(base_channels=1, depth=1), torch.zeros(1, 1, 20, 20))
    with pytest.raises(ValueError, match="mode"):
        S.pad_to_valid(S._small(depth=1), torch.zeros(1, 1, 20, 20), mode="wrap")


@pytest.mark.parametrize("h,w,pads", [(10, 10, (3, 4, 0, 0)), (4, 6, (9, 2, 11, 0)), (1, 5, (2, 2, 3, 3))])
def test_mirror_pad_any_amount(h, w, pads):
    x = torch.arange(h * w, dtype=torch.float32).reshape(1, 1, h, w)
    y = mirror_pad(x, *pads)
    t, b, l_, r = pads
    assert y.shape[-2:] == (h + t + b, w + l_ + r)
    assert torch.equal(y[..., t : t + h, l_ : l_ + w], x)


@pytest.mark.parametrize("depth,base", [(4, 64), (2, 8), (5, 4)])
def test_bn_parameters(depth, base):
    d = S.bn_parameters(depth=depth, base_channels=base)
    assert d["with_bn"] == count_parameters(padding="same", depth=depth, base_channels=base, batch_norm=True)
    assert d["without_bn"] == count_parameters(padding="same", depth=depth, base_channels=base, batch_norm=False)
    assert d["difference"] == d["sum_of_conv_channels"] and d["n_3x3_convs"] == 4 * depth + 2
    # and on a real (CPU) model: BN's running stats are buffers, not parameters
    if depth == 2:
        m = UNet(padding="same", depth=depth, base_channels=base)
        assert sum(p.numel() for p in m.parameters()) == d["with_bn"]
        assert sum(b.numel() for n, b in m.named_buffers() if "running" in n) == 2 * d["sum_of_conv_channels"]


def test_up_mode_parameters():
    d = S.up_mode_parameters()
    t = shape_table(572)
    ups = t.where(kind="up")
    assert d["difference"] == sum(3 * r.in_shape[0] * r.out_shape[0] for r in ups)  # 4 weights per pair -> 1
    assert d["bilinear"] == count_parameters(up_mode="bilinear")


RF_CASES = [
    (188, dict()),
    (220, dict()),
    (52, dict(depth=2)),
    (22, dict(depth=1)),
    (24, dict(depth=1, up_mode="bilinear")),
    (64, dict(padding="same", depth=2)),
    (48, dict(padding="same", depth=3, up_mode="bilinear")),
    (100, dict(depth=3, up_mode="bilinear")),
]


@pytest.mark.parametrize("size,opts", RF_CASES, ids=str)
def test_receptive_field_autograd_equals_arithmetic(size, opts):
    oh = output_size(size, **opts)[0]
    for pos in [None, (0, 0), (oh - 1, oh - 1), (oh // 3, (2 * oh) // 3)]:
        a = RF.receptive_field(size, pos, **opts)
        b = RF.receptive_field_arithmetic(size, pos, **opts)
        assert (a.rows, a.cols, a.position) == (b.rows, b.cols, b.position)


def test_receptive_field_of_the_paper_network():
    rf = RF.receptive_field_arithmetic(188)
    assert rf.size == (188, 188)
    # larger inputs: every output pixel still sees 188 pixels, shifted with it
    a = RF.receptive_field_arithmetic(220, (0, 0))
    b = RF.receptive_field_arithmetic(220, (16, 16))
    assert a.size == b.size == (188, 188) and b.rows[0] - a.rows[0] == 16


def test_receptive_field_bad_position():
    with pytest.raises(ValueError, match="outside"):
        RF.receptive_field(188, (10, 0))


EXERCISES = [
    W.EX_FIRST_CONV,
    W.EX_SLIP_196,
    W.EX_NEXT_SIZE,
    W.EX_OUTPUT_FOR,
    S.EX_BOTTOM,
    S.EX_UPCONV,
    S.EX_BN,
    S.EX_NEXT_SAME,
    S.EX_RF,
]


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.key)
def test_exercises_give_instant_feedback(ex):
    assert ex.check().status == "not attempted"  # the right answers: tests/test_exercise_answers.py
    wrong = ex.check(-1)
    assert wrong.status == "wrong" and "Hint" in wrong.message


def test_exercise_answers_are_the_packages():
    assert W.EX_FIRST_CONV.answer == 3 * 3 * 1 * 64 + 64 == shape_table(572)[0].params
    assert W.EX_SLIP_196.answer == 196
    assert W.EX_NEXT_SIZE.answer == 588 and W.EX_OUTPUT_FOR.answer == 516
    assert S.EX_BOTTOM.answer == 32 and same_answer("64x64x512", S.EX_UPCONV.answer)
    assert same_answer((64, 64, 512), S.EX_UPCONV.answer)
    assert S.EX_BN.answer == 5888 and S.EX_NEXT_SAME.answer == 112
    assert "weights" in W.EX_FIRST_CONV.check(576).message  # forgot the biases: a targeted hint
