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


# ---- lesson 06: what UNet() matches in the paper; translation equivariance -------------------------------
def test_init_report_measures_the_papers_std_on_every_layer():
    rows = W.init_report()
    assert len(rows) == shape_table(572).n_conv_layers == 23
    by_name = {r.module: r for r in rows}
    # the paper's example: a 3x3 conv over 64 channels, N = 9 * 64 = 576
    assert by_name["down_convs.0.conv2"].n == 576 and by_name["down_convs.0.conv2"].paper_std == pytest.approx(
        (2 / 576) ** 0.5
    )
    assert by_name["down_convs.0.conv1"].n == 9 and by_name["head"].n == 64
    assert by_name["up_samples.0.up"].kind == "2x2 up-conv" and by_name["up_samples.0.up"].n == 1024
    for r in rows:
        # a std measured on few weights wobbles: the first conv has 576, the head 128, the others 36,864 or more
        tol = {"down_convs.0.conv1": 0.1, "head": 0.25}.get(r.module, 0.03)
        assert r.he_std == pytest.approx(r.paper_std, rel=tol), r
        assert r.pytorch_std == pytest.approx(r.pytorch_formula, rel=tol), r
        assert r.pytorch_std < r.paper_std  # PyTorch's default is smaller
    conv = by_name["down_convs.1.conv2"]
    assert conv.pytorch_formula == pytest.approx(1 / (3 * conv.n) ** 0.5)  # fan_in = N for a conv
    assert "ul-init" in W.init_html(rows) and W.init_html(rows).count("<tr") == 24


def test_init_report_leaves_the_students_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    W.init_report(base_channels=4, depth=2)
    assert torch.equal(torch.rand(3), before)


def test_dropout_and_init_change_no_parameter_count():
    counts = W.parameter_counts()
    assert set(counts.values()) == {31_030_658}
    m = UNet(dropout=0.5, base_channels=2, depth=2)
    assert isinstance(m.dropout, torch.nn.Dropout) and m.dropout.p == 0.5
    assert isinstance(UNet(base_channels=2, depth=2).dropout, torch.nn.Identity)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_translation_equivariance_for_multiples_of_the_grid(depth):
    grid = 2**depth
    results = W.shift_experiment(shifts=tuple(range(1, 2 * grid + 1)), depth=depth, size=160)
    for r in results:
        assert r.moves_along == (r.shift % grid == 0), r
        if r.moves_along:
            assert r.max_diff <= 1e-6 * max(r.scale, 1)
        else:
            assert r.max_diff > 1e-3 * r.scale  # clearly different with the paper's init
    assert "✓" in W.shift_html(results) and "✗" in W.shift_html(results)


def test_with_pytorchs_init_the_bottom_barely_contributes():
    """The paper's warning: without a good init "other parts never contribute"; an untrained net with PyTorch's
    default barely depends on its deepest level (a shift breaking only that grid changes almost nothing)."""
    (pytorch,) = W.shift_experiment(shifts=(4,), depth=3, init="pytorch")
    (he,) = W.shift_experiment(shifts=(4,), depth=3)
    assert not he.moves_along and he.max_diff > 1e4 * pytorch.max_diff


def test_shift_experiment_rejects_bad_shifts():
    for bad in (0, -3, 2.5, "x", 10**6, 60):  # 60: more than the 52-pixel output
        with pytest.raises(ValueError):
            W.shift_experiment(shifts=(bad,))


def test_the_code_exercises_are_the_checkers():
    from unet_lesson.ui.checkers import check_double_conv, check_my_unet, solutions

    assert W.EX_DOUBLE_CONV.checker is check_double_conv and W.EX_MY_UNET.checker is check_my_unet
    assert W.EX_DOUBLE_CONV.check(solutions.DoubleConv).correct
    assert "class MyUNet" in W.EX_MY_UNET.solution().code and "def center_crop" in W.EX_MY_UNET.solution().code
    for ex in (W.EX_DOUBLE_CONV, W.EX_MY_UNET):
        assert ex.check().status == "not attempted" and len(ex.hints) == 3
        ex.reset()


# ---- lesson 07: the notes' recipe (padding per path), batch norm in train and eval ----------------------
from unet_lesson.core.path_padding import RECIPE, padding_trace  # noqa: E402


@pytest.mark.parametrize("size,depth", [(188, 4), (572, 4), (700, 4), (92, 3), (60, 2), (22, 1)])
def test_padding_trace_without_padding_is_the_papers_network(size, depth):
    t = padding_trace(size, 0, 0, 0, depth=depth)
    table = shape_table(size, depth=depth)
    assert t.crops == table.crops and t.output == table.output_shape[1]
    assert t.cutting == depth


@pytest.mark.parametrize("size,depth", [(512, 4), (64, 4), (96, 3), (20, 2)])
def test_padding_trace_with_padding_everywhere_is_the_same_padding_network(size, depth):
    t = padding_trace(size, 1, 1, 1, depth=depth)
    table = shape_table(size, padding="same", depth=depth)
    assert t.crops == table.crops and t.output == table.output_shape[1] == size and t.cutting == 0


def test_the_notes_recipe_at_572_removes_only_the_deepest_crop():
    t = padding_trace(572, **RECIPE)
    assert RECIPE == {"contracting": 0, "bottom": 1, "expanding": 1}
    assert t.crops == [(568, 512), (280, 256), (136, 128), (64, 64)]  # worked by hand: 32 -> 64 -> 128 -> 256 -> 512
    assert t.cutting == 3 and t.output == 512 and t.bottom == (32, 32)
    assert "ul-recipe" in S.recipe_html(t) and S.recipe_html(t).count("none") == 1


def _crop_inputs(model, x):
    """(copied, up-conv) heights at every copy and crop of a real forward pass, deepest first."""
    seen = []
    hooks = [
        c.register_forward_hook(lambda m, inp, out: seen.append((inp[1].shape[-1], inp[0].shape[-1])))
        for c in model.concats
    ]
    with torch.no_grad():
        y = model(x)
    for h in hooks:
        h.remove()
    return seen, y


def test_the_recipe_trace_is_a_real_forward_pass():
    with torch.device("meta"):  # the paper's size and channels, no memory
        model = S.recipe_unet()
        seen, y = _crop_inputs(model, torch.empty(1, 1, 572, 572))
    t = padding_trace(572, **RECIPE)
    assert seen == [(lv.copied, lv.up) for lv in t.levels] and y.shape[-1] == t.output
    # and on the CPU, with numbers, for other paddings and depths
    for pads, size, depth in [((0, 1, 1), 92, 2), ((1, 1, 1), 100, 3), ((0, 0, 1), 140, 3), ((0, 1, 0), 188, 4)]:
        model = S.recipe_unet(*pads, depth=depth, base_channels=1)
        seen, y = _crop_inputs(model, torch.rand(1, 1, size, size))
        t = padding_trace(size, *pads, depth=depth)
        assert seen == [(lv.copied, lv.up) for lv in t.levels] and y.shape[-1] == t.output, (pads, size)


@pytest.mark.parametrize(
    "bad",
    [
        dict(input_size=0),
        dict(input_size=2.5),
        dict(input_size="x"),
        dict(contracting=2),
        dict(depth=9),
        dict(input_size=20),
        dict(input_size=10, contracting=1, bottom=0, expanding=0),
    ],
    ids=str,
)
def test_padding_trace_bad_settings_say_why(bad):
    with pytest.raises(ValueError):
        padding_trace(**{"input_size": 572, **RECIPE, **bad})


def test_bn_train_and_eval():
    from unet_lesson.seg.pretrained import load_pretrained

    shipped = load_pretrained("same")
    before = [b.clone() for n, b in shipped.named_buffers() if "running" in n] if shipped is not None else []
    r = S.bn_modes()
    assert r["eval: alone vs in a batch"] < 1e-5  # eval: each picture on its own
    assert r["train: alone vs in a batch"] > 1e-2  # train: the batch's statistics
    assert r["train vs eval, alone"] > 1e-2 and r["running mean moved by (two train-mode passes)"] > 0
    assert r["momentum"] == 0.1 and S.EX_BN_MODES.answer == "b"
    if shipped is not None:  # the shared trained model was not changed (a copy ran in train mode)
        after = [b for n, b in shipped.named_buffers() if "running" in n]
        assert all(torch.equal(x, y) for x, y in zip(before, after)) and not shipped.training
    assert "ul-bn-modes" in S.bn_modes_html(r)


def test_the_seven_code_exercises_are_the_checkers():
    from unet_lesson.ui.checkers import check_same_block, check_same_unet, solutions

    assert S.EX_SAME_BLOCK.checker is check_same_block and S.EX_SAME_UNET.checker is check_same_unet
    assert S.EX_SAME_BLOCK.check(solutions.SameBlock).correct
    assert "class SameUNet" in S.EX_SAME_UNET.solution().code
    S.EX_SAME_BLOCK.reset()


def test_the_rf_hint_is_computed():
    assert RF.receptive_field_arithmetic(22, depth=1).size == (18, 18) and "18×18" in S.EX_RF.hints[2]


EXERCISES = [
    W.EX_FIRST_CONV,
    W.EX_SLIP_196,
    W.EX_NEXT_SIZE,
    W.EX_OUTPUT_FOR,
    W.EX_INIT_STD,
    W.EX_SHIFT,
    S.EX_BOTTOM,
    S.EX_UPCONV,
    S.EX_RECIPE_CROPS,
    S.EX_RECIPE_SHORT,
    S.EX_BN,
    S.EX_NEXT_SAME,
    S.EX_RF,
    S.EX_BN_MODES,
]


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda e: e.key)
def test_exercises_give_instant_feedback(ex):
    assert ex.check().status == "not attempted"  # the right answers: tests/test_exercise_answers.py
    wrong = ex.check(-1)
    assert wrong.status == "wrong" and "Hint" in wrong.message


def test_exercise_answers_are_the_packages():
    assert W.EX_FIRST_CONV.answer == 3 * 3 * 1 * 64 + 64 == shape_table(572)[0].params
    assert W.EX_SLIP_196.answer == 196
    assert W.EX_NEXT_SIZE.answer == 988 and W.EX_OUTPUT_FOR.answer == 516
    assert W.EX_INIT_STD.answer == 0.059 and W.EX_SHIFT.answer == 8
    assert S.EX_BOTTOM.answer == 32 and same_answer("48x48x512", S.EX_UPCONV.answer)
    assert same_answer((48, 48, 512), S.EX_UPCONV.answer)
    assert S.EX_RECIPE_CROPS.answer == 3 and S.EX_RECIPE_SHORT.answer == 60
    assert S.EX_BN.answer == 5888 and S.EX_NEXT_SAME.answer == 112
    assert "weights" in W.EX_FIRST_CONV.check(576).message  # forgot the biases: a targeted hint
