"""The code checkers: each accepts the reference (and other correct ways of writing it), rejects the
typical wrong versions (each written out here) naming the first failing case in words with the real
layer's number and a fitting nudge, reports a raising implementation without raising, and calls a stub
"not attempted"."""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from unet_lesson.ui import checkers as C
from unet_lesson.ui.checkers import solutions as S
from unet_lesson.ui.checkers._engine import stub_reason


def _wrong(result, *phrases, diagnosis=()):
    assert result.status == "wrong", result
    for p in phrases:
        assert p in result.message, (p, result.message)
    for p in diagnosis if isinstance(diagnosis, tuple) else (diagnosis,):
        assert p in result.diagnosis, (p, result.diagnosis, result.message)
    return result


# ---- every checker accepts its reference, quickly ---------------------------------------------
@pytest.mark.parametrize("name", sorted(C.CHECKERS))
class TestEveryCheckerAcceptsItsReference:
    def test_the_reference_passes_every_case(self, name):
        check = C.CHECKERS[name]
        result = check(check.reference)
        assert result.status == "correct" and result.passed and result.cases > 3, result
        assert "agree" in result.message or "same numbers" in result.message

    def test_the_solution_source_is_the_references_and_runs(self, name):
        check = C.CHECKERS[name]
        source = check.solution_source
        assert f"{'class' if isinstance(check.reference, type) else 'def'} {check.reference.__name__}" in source
        namespace = {"np": np, "torch": torch, "nn": nn}
        exec(compile(source, f"<solution {name}>", "exec"), namespace)  # self-contained for a student
        assert check(namespace[check.reference.__name__]).status == "correct"

    def test_ellipsis_and_none_are_not_attempted(self, name):
        for placeholder in (..., None):
            assert C.CHECKERS[name](placeholder).status == "not attempted"

    def test_a_number_is_not_code(self, name):
        _wrong(C.CHECKERS[name](42), "not code")


# ---- stubs ---------------------------------------------------------------------------------
def stub_pass(h, k, s, p):
    pass


def stub_ellipsis(h, k, s, p): ...


def stub_docstring(h, k, s, p):
    """Return the output height."""


def stub_docstring_and_ellipsis(h, k, s, p):
    """Return the output height."""
    ...


def stub_raises(h, k, s, p):
    raise NotImplementedError("write me")


class StubForward(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3)

    def forward(self, x): ...


class StubNoForward(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()


class StubInit(nn.Module):
    def __init__(self, in_channels, out_channels):
        pass

    def forward(self, x):
        return x


class StubRaisingForward(nn.Module):
    def __init__(self, in_channels=1, out_channels=2):
        super().__init__()

    def forward(self, x):
        raise NotImplementedError


class TestStubsAreNotAttempted:
    @pytest.mark.parametrize(
        "stub",
        [stub_pass, stub_ellipsis, stub_docstring, stub_docstring_and_ellipsis, stub_raises, lambda h, k, s, p: ...],
        ids=lambda f: f.__name__,
    )
    def test_function_stubs(self, stub):
        result = C.check_conv_out(stub)
        assert result.status == "not attempted" and result.passed is None, result

    @pytest.mark.parametrize(
        "stub", [StubForward, StubNoForward, StubInit, StubRaisingForward], ids=lambda c: c.__name__
    )
    @pytest.mark.parametrize("check", [C.check_double_conv, C.check_same_block], ids=["double", "same"])
    def test_module_stubs(self, stub, check):
        assert check(stub).status == "not attempted"

    def test_a_class_stub_of_the_whole_network(self):
        assert C.check_my_unet(StubRaisingForward).status == "not attempted"
        assert C.check_same_unet(StubForward).status == "not attempted"

    def test_real_code_is_not_a_stub(self):
        assert stub_reason(S.conv_out) is None and stub_reason(S.DoubleConv) is None
        assert stub_reason(S.DoubleConv(1, 2)) is None

    def test_not_implemented_after_a_passing_case_is_wrong_not_unattempted(self):
        def strides_left_for_later(h, k, s, p):
            if s > 1:
                raise NotImplementedError("strides")
            return h + 2 * p - k + 1

        _wrong(C.check_conv_out(strides_left_for_later), "H=5, k=3, s=2, p=0", "NotImplementedError")


# ---- raising code ----------------------------------------------------------------------------
class TestRaisingCodeIsReportedWithoutATraceback:
    def test_the_case_that_raised_is_named_with_the_exception(self):
        def refuses_strides(h, k, s, p):
            if s != 1:
                raise ValueError("only stride 1, sorry")
            return h + 2 * p - k + 1

        r = _wrong(
            C.check_conv_out(refuses_strides), "for H=5, k=3, s=2, p=0 yours raised ValueError: only stride 1, sorry"
        )
        assert "Traceback" not in r.message and r.cases == 8

    @pytest.mark.parametrize(
        "exc",
        [ZeroDivisionError, TypeError, IndexError, RecursionError, SystemExit, KeyboardInterrupt],
        ids=lambda e: e.__name__,
    )
    def test_any_exception_even_exit_and_interrupt(self, exc):
        def raising(*args):
            raise exc("boom")

        for check in C.CHECKERS.values():
            result = check(raising)
            assert result.status == "wrong", (check, result)

    def test_a_module_whose_forward_raises(self):
        class Broken(nn.Module):
            def __init__(self, in_channels, out_channels):
                super().__init__()
                self.conv = nn.Conv2d(in_channels, out_channels, 3)

            def forward(self, x):
                return self.conv(x)[:, :, 100]  # an index past the map

        _wrong(C.check_double_conv(Broken), "DoubleConv(1, 8) on an input of shape (1, 1, 12, 12)", "raised IndexError")


# ---- 01: conv_out ----------------------------------------------------------------------------
def conv_no_plus_one(h, k, s, p):
    return (h + 2 * p - k) // s


def conv_padding_one_side(h, k, s, p):
    return (h + p - k) // s + 1


def conv_ignores_stride(h, k, s, p):
    return h + 2 * p - k + 1


def conv_rounds_up(h, k, s, p):
    return math.ceil((h + 2 * p - k) / s) + 1


def conv_true_division(h, k, s, p):
    return (h + 2 * p - k) / s + 1


def conv_forgets_return(h, k, s, p):
    (h + 2 * p - k) // s + 1


def conv_ignores_padding(h, k, s, p):
    return (h - k) // s + 1


class TestConvOutRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, case, nudge",
        [
            (conv_no_plus_one, "H=5, k=3, s=1, p=0", "+ 1"),
            (conv_padding_one_side, "H=5, k=3, s=1, p=1", "both sides"),
            (conv_ignores_stride, "H=5, k=3, s=2, p=0", "stride"),
            (conv_rounds_up, "H=6, k=3, s=2, p=0", "rounds down"),
            (conv_true_division, "H=6, k=3, s=2, p=0", "//"),
            (conv_forgets_return, "H=5, k=3, s=1, p=0", "return"),
            (conv_ignores_padding, "H=5, k=3, s=1, p=1", "padding"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_at_the_first_case_that_shows_it(self, wrong, case, nudge):
        r = _wrong(C.check_conv_out(wrong), f"for {case} yours gives", diagnosis=nudge)
        assert r.case == case

    def test_the_message_says_what_yours_and_the_real_layer_give(self):
        r = C.check_conv_out(conv_ignores_stride)
        assert r.message == "for H=5, k=3, s=2, p=0 yours gives 3, nn.Conv2d gives 2."
        assert nn.Conv2d(1, 1, 3, stride=2)(torch.zeros(1, 1, 5, 5)).shape[-1] == 2  # the real number

    def test_every_number_named_is_the_real_layers(self):
        for wrong in (conv_no_plus_one, conv_padding_one_side, conv_ignores_stride, conv_rounds_up):
            r = C.check_conv_out(wrong)
            h, k, s, p, real = map(
                int, re.search(r"H=(\d+), k=(\d+), s=(\d+), p=(\d+) .* nn.Conv2d gives (\d+)", r.message).groups()
            )
            assert nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, h, h)).shape[-1] == real

    @pytest.mark.parametrize(
        "right",
        [
            lambda h, k, s, p: math.floor((h + 2 * p - k) / s) + 1,
            lambda h, k, s, p: np.int64((h + 2 * p - k) // s + 1),
            lambda h, k, s, p: float((h + 2 * p - k) // s + 1),  # a whole float is a whole number
            lambda h, k, s, p: nn.Conv2d(1, 1, k, s, p)(torch.zeros(1, 1, h, h)).shape[-1],
        ],
    )
    def test_other_correct_ways_are_accepted(self, right):
        assert C.check_conv_out(right).status == "correct"


def dilated_ignores_d(h, k, s, p, d):
    return (h + 2 * p - k) // s + 1


def dilated_span_dk(h, k, s, p, d):
    return (h + 2 * p - d * k) // s + 1


def dilated_span_without_the_tap(h, k, s, p, d):
    return (h + 2 * p - d * (k - 1)) // s + 1


class TestConvOutDilatedRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, case, nudge",
        [
            (dilated_ignores_d, "H=7, k=3, s=1, p=0, d=2", "d·(k - 1) + 1"),
            (dilated_span_dk, "H=7, k=3, s=1, p=0, d=2", "not d·k"),
            (dilated_span_without_the_tap, "H=5, k=3, s=1, p=0, d=1", "first tap"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_with_the_dilation_named(self, wrong, case, nudge):
        r = _wrong(C.check_conv_out_dilated(wrong), f"for {case} yours gives", "nn.Conv2d gives", diagnosis=nudge)
        assert r.case == case

    def test_the_plain_conv_slips_are_still_named(self):
        _wrong(C.check_conv_out_dilated(lambda h, k, s, p, d: (h + 2 * p - d * (k - 1) - 1) // s), diagnosis="+ 1")


# ---- 02: pool_size and max_pool ------------------------------------------------------------
def pool_swapped(h, k, s, ceil_mode):
    return (math.floor if ceil_mode else math.ceil)((h - k) / s) + 1


def pool_ignores_ceil_mode(h, k, s, ceil_mode):
    return (h - k) // s + 1


def pool_always_ceil(h, k, s, ceil_mode):
    return math.ceil((h - k) / s) + 1


def pool_halves(h, k, s, ceil_mode):
    return h // s


def pool_no_plus_one(h, k, s, ceil_mode):
    return (math.ceil if ceil_mode else math.floor)((h - k) / s)


class TestPoolSizeRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, case, nudge",
        [
            (pool_swapped, "H=569, k=2, s=2, ceil_mode=False", "swapped"),
            (pool_ignores_ceil_mode, "H=569, k=2, s=2, ceil_mode=True", "ignores ceil_mode"),
            (pool_always_ceil, "H=569, k=2, s=2, ceil_mode=False", "rounds down"),
            (pool_halves, "H=8, k=3, s=2, ceil_mode=False", "H // s"),  # 7 // 2 happens to be right
            (pool_no_plus_one, "H=568, k=2, s=2, ceil_mode=False", "+ 1"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_at_the_first_case_that_shows_it(self, wrong, case, nudge):
        r = _wrong(C.check_pool_size(wrong), f"for {case} yours gives", "nn.MaxPool2d gives", diagnosis=nudge)
        h, k, s, c = re.search(r"H=(\d+), k=(\d+), s=(\d+), ceil_mode=(\w+)", r.case).groups()
        real = nn.MaxPool2d(int(k), int(s), ceil_mode=c == "True")(torch.zeros(1, 1, int(h), int(h))).shape[-1]
        assert r.message.endswith(f"nn.MaxPool2d gives {real}.")


def max_pool_keeps_partial_windows(x, k=2, s=2):
    h, w = x.shape
    return np.array(
        [
            [x[i : i + k, j : j + k].max() for j in range(0, w - k + s, s) if j < w]
            for i in range(0, h - k + s, s)
            if i < h
        ]
    )


def max_pool_ignores_stride(x, k=2, s=2):
    h, w = x.shape
    return np.array([[x[i : i + k, j : j + k].max() for j in range(w - k + 1)] for i in range(h - k + 1)])


def max_pool_averages(x, k=2, s=2):
    h, w = x.shape
    return np.array([[x[i : i + k, j : j + k].mean() for j in range(0, w - k + 1, s)] for i in range(0, h - k + 1, s)])


def max_pool_from_zero(x, k=2, s=2):
    h, w = x.shape
    out = np.zeros(((h - k) // s + 1, (w - k) // s + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for v in x[i * s : i * s + k, j * s : j * s + k].ravel():
                out[i, j] = max(out[i, j], v)
    return out


def max_pool_square_only(x, k=2, s=2):
    n = (x.shape[0] - k) // s + 1
    return np.array([[x[i * s : i * s + k, j * s : j * s + k].max() for j in range(n)] for i in range(n)])


def max_pool_vectorised(x, k=2, s=2):  # a correct one, with numpy's sliding windows
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k))[::s, ::s]
    return win.max(axis=(-1, -2))


class TestMaxPoolRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, case, nudge",
        [
            (max_pool_keeps_partial_windows, "a 5×5 input, k=2, s=2", "hangs over the edge"),
            (max_pool_ignores_stride, "a 4×4 input, k=2, s=2", "stride"),
            (max_pool_averages, "a 4×4 input, k=2, s=2", "average"),
            (max_pool_from_zero, "", "starts the maximum at 0"),
            (max_pool_square_only, "a 4×6 input, k=2, s=2", ""),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_with_the_case_and_nudge(self, wrong, case, nudge):
        r = _wrong(C.check_max_pool(wrong), f"for {case}", "nn.MaxPool2d gives", diagnosis=nudge)
        assert "shape" in r.message or " at [" in r.message

    @pytest.mark.parametrize(
        "right",
        [
            max_pool_vectorised,
            lambda x, k=2, s=2: nn.MaxPool2d(k, s)(torch.from_numpy(x)[None])[0],
            lambda x, k=2, s=2: S.max_pool(x, k, s).tolist(),
        ],
    )
    def test_other_correct_ways_are_accepted(self, right):
        assert C.check_max_pool(right).status == "correct"

    def test_a_value_difference_names_the_position_and_both_values(self):
        r = C.check_max_pool(max_pool_averages)
        where = re.search(r"at \[(\d+), (\d+)\], nn.MaxPool2d gives (-?[\d.]+)", r.message)
        assert where and "values differ" in r.message


# ---- 03: conv_transpose ------------------------------------------------------------------------
def transpose_flips_kernel(x, w, stride):
    return S.conv_transpose(x, w[::-1, ::-1], stride)


def transpose_overwrites(x, w, stride):
    (h, wd), k = x.shape, w.shape[0]
    out = np.zeros(((h - 1) * stride + k, (wd - 1) * stride + k))
    for i in range(h):
        for j in range(wd):
            out[i * stride : i * stride + k, j * stride : j * stride + k] = x[i, j] * w
    return out


def transpose_size_h_times_s(x, w, stride):
    return S.conv_transpose(x, w, stride)[: x.shape[0] * stride, : x.shape[1] * stride]


def transpose_ignores_stride(x, w, stride):
    return S.conv_transpose(x, w, 1)


class TestConvTransposeRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, case, nudge",
        [
            (transpose_flips_kernel, "a 2×2 input, a 2×2 kernel, stride 2", "flips the kernel"),
            (transpose_overwrites, "a 2×2 input, a 3×3 kernel, stride 2", "add them"),
            (transpose_size_h_times_s, "a 2×2 input, a 3×3 kernel, stride 2", "(H - 1)·s + k"),
            (transpose_ignores_stride, "a 2×2 input, a 2×2 kernel, stride 2", "stride"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_with_the_case_and_nudge(self, wrong, case, nudge):
        _wrong(C.check_conv_transpose(wrong), f"for {case}", "nn.ConvTranspose2d gives", diagnosis=nudge)

    def test_the_torch_layer_itself_is_accepted(self):
        def with_torch(x, w, stride):
            return F.conv_transpose2d(torch.tensor(x)[None, None], torch.tensor(w)[None, None], stride=stride)[0, 0]

        assert C.check_conv_transpose(with_torch).status == "correct"


# ---- 04: center_crop and crop_and_concat -------------------------------------------------------
def crop_rounds_up(skip, target_hw):
    (h, w), (th, tw) = skip.shape[-2:], target_hw
    top, left = (h - th + 1) // 2, (w - tw + 1) // 2
    return skip[..., top : top + th, left : left + tw]


def crop_from_corner(skip, target_hw):
    return skip[..., : target_hw[0], : target_hw[1]]


def crop_whole_cut_on_top(skip, target_hw):
    (h, w), (th, tw) = skip.shape[-2:], target_hw
    return skip[..., h - th :, w - tw :]


def crop_rows_only(skip, target_hw):
    top = (skip.shape[-2] - target_hw[0]) // 2
    return skip[..., top : top + target_hw[0], :]


def crop_offsets_from_widths(skip, target_hw):
    (h, w), (th, tw) = skip.shape[-2:], target_hw
    top, left = (w - tw) // 2, (h - th) // 2
    return skip[..., top : top + th, left : left + tw]


class TestCenterCropRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, case, nudge",
        [
            (crop_rounds_up, "a 7×7 map (1 channel) cropped to 4×4", "rounds the offset up"),
            (crop_from_corner, "a 8×8 map (1 channel) cropped to 4×4", "top-left corner"),
            (crop_whole_cut_on_top, "a 8×8 map (1 channel) cropped to 4×4", "half of it"),
            (crop_rows_only, "a 8×8 map (1 channel) cropped to 4×4", "rows only"),
            (crop_offsets_from_widths, "a 9×8 map (1 channel) cropped to 4×5", "from the heights"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_with_the_case_and_nudge(self, wrong, case, nudge):
        _wrong(C.check_center_crop(wrong), f"for {case}", "the package's centre crop gives", diagnosis=nudge)

    def test_the_offset_named_is_the_packages(self):
        from unet_lesson import center_crop_box

        r = C.check_center_crop(crop_rounds_up)
        assert f"the centre crop at row {center_crop_box(7, 4).top}, column {center_crop_box(7, 4).left}" in r.diagnosis


def concat_up_first(skip, up):
    return torch.cat([up, S.center_crop(skip, up.shape[-2:])], dim=1)


def concat_batch_axis(skip, up):
    return torch.cat([S.center_crop(skip, up.shape[-2:]), up], dim=0)


def concat_without_crop(skip, up):
    return torch.cat([skip, up], dim=1)


def concat_width_axis(skip, up):
    return torch.cat([S.center_crop(skip, up.shape[-2:]), up], dim=3)


class TestCropAndConcatRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, nudge",
        [
            (concat_up_first, "copied map comes first"),
            (concat_batch_axis, "dim 0, the batch"),
            (concat_without_crop, "crop the copied map"),
            (concat_width_axis, "width (dim 3)"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_at_the_first_case_with_the_nudge(self, wrong, nudge):
        _wrong(
            C.check_crop_and_concat(wrong),
            "for a copied map of shape (1, 2, 6, 6) and an up-conv map of shape (1, 2, 4, 4)",
            diagnosis=nudge,
        )

    def test_the_package_module_itself_is_accepted(self):
        from unet_lesson import CropAndConcat

        assert C.check_crop_and_concat(lambda skip, up: CropAndConcat()(up, skip)).status == "correct"


# ---- 05: head -------------------------------------------------------------------------------
def head_forgets_bias(features, weight, bias):
    return np.einsum("oi,ihw->ohw", weight, features)


def head_transposed_weight(features, weight, bias):
    return np.einsum("io,ihw->ohw", weight, features) + bias[:, None, None]


def head_bias_along_width(features, weight, bias):
    return np.einsum("oi,ihw->ohw", weight, features) + bias


def head_sums_output_channels(features, weight, bias):
    return (weight[:, :, None, None] * features[None]).sum(axis=0) + bias[:, None, None]


class TestHeadRejectsTypicalSlips:
    @pytest.mark.parametrize(
        "wrong, nudge",
        [
            (head_forgets_bias, "exactly the bias"),
            (head_transposed_weight, "transposed weight"),
            (head_bias_along_width, "along the width"),
            (head_sums_output_channels, "sum over the input channels"),
        ],
        ids=lambda v: getattr(v, "__name__", None),
    )
    def test_rejected_at_the_first_case_with_the_nudge(self, wrong, nudge):
        _wrong(
            C.check_head(wrong),
            "for features of shape 2×3×2 (C_in=2), weight 2×2, bias (2,) yours gives",
            "nn.Conv2d(C_in, C_out, 1) gives",
            diagnosis=nudge,
        )

    def test_a_wrong_shape_names_the_axis_to_sum(self):
        def sums_over_rows(features, weight, bias):
            return np.einsum("oi,ihw->ow", weight, features) + bias[:, None]

        _wrong(C.check_head(sums_over_rows), "has shape (2, 2)", diagnosis="input channels")

    def test_a_broadcast_error_is_reported_as_raised_with_the_shapes(self):
        def bias_as_row(features, weight, bias):
            return np.einsum("oi,ihw->ohw", weight, features) + bias[:, None]  # lines up with (H, W)

        _wrong(C.check_head(bias_as_row), "raised ValueError", diagnosis="(C_out, 1, 1)")

    def test_a_torch_conv_is_accepted(self):
        def with_conv(features, weight, bias):
            layer = nn.Conv2d(weight.shape[1], weight.shape[0], 1).double()
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(weight)[:, :, None, None])
                layer.bias.copy_(torch.from_numpy(bias))
                return layer(torch.from_numpy(features)[None])[0]

        assert C.check_head(with_conv).status == "correct"
