"""UNet() is the paper's network; shape_table equals real forward passes; bad sizes explain themselves."""

import itertools

import pytest
import torch
from torch import nn

from unet_lesson import (
    InvalidInputSize,
    UNet,
    count_parameters,
    nearest_valid_sizes,
    output_size,
    shape_table,
    valid_input_sizes,
)
from unet_lesson.core.inspect import recorded_shapes


@pytest.fixture(autouse=True)
def _no_grad():
    """Shapes only: no autograd graph (scoped to each test, never global: other modules need grad)."""
    with torch.no_grad():
        yield


# The paper's Fig. 1, read off the figure: (channels, size) after every layer, in forward order.
FIG1_CONTRACTING = [
    (64, 570),
    (64, 568),
    (64, 284),
    (128, 282),
    (128, 280),
    (128, 140),
    (256, 138),
    (256, 136),
    (256, 68),
    (512, 66),
    (512, 64),
    (512, 32),
    (1024, 30),
    (1024, 28),
]
FIG1_EXPANDING = [  # up-conv, cropped copy, concat, conv, conv at each level
    (512, 56),
    (512, 56),
    (1024, 56),
    (512, 54),
    (512, 52),
    (256, 104),
    (256, 104),
    (512, 104),
    (256, 102),
    (256, 100),
    (128, 200),
    (128, 200),
    (256, 200),
    (128, 198),
    (128, 196),
    (64, 392),
    (64, 392),
    (128, 392),
    (64, 390),
    (64, 388),
    (2, 388),
]
FIG1_CROPS = [(568, 392), (280, 200), (136, 104), (64, 56)]


def test_shape_table_reproduces_fig1():
    table = shape_table(572)
    assert [(r.out_shape[0], r.out_shape[1]) for r in table] == FIG1_CONTRACTING + FIG1_EXPANDING
    assert all(r.out_shape[1] == r.out_shape[2] for r in table)
    assert table.crops == FIG1_CROPS
    assert table.input_shape == (1, 572, 572) and table.output_shape == (2, 388, 388)
    assert table.n_conv_layers == 23
    assert table.total_params == 31_030_658


@pytest.fixture(scope="module")
def paper_unet():
    torch.manual_seed(0)
    return UNet()


def test_unet_defaults_are_the_paper(paper_unet):
    m = paper_unet
    assert sum(p.numel() for p in m.parameters()) == 31_030_658 == count_parameters()
    convs = [mod for mod in m.modules() if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d))]
    assert len(convs) == 23
    assert sum(isinstance(c, nn.ConvTranspose2d) and c.kernel_size == (2, 2) and c.stride == (2, 2) for c in convs) == 4
    assert all(c.padding == (0, 0) for c in convs)
    assert not any(isinstance(mod, nn.BatchNorm2d) for mod in m.modules())
    assert sum(isinstance(mod, nn.MaxPool2d) for mod in m.modules()) == 4
    assert m.head.kernel_size == (1, 1) and m.head.out_channels == 2


def test_full_size_forward_matches_every_row(paper_unet):
    """One real 572x572 forward pass: every intermediate shape equals the table's."""
    table = shape_table(572)
    seen = recorded_shapes(paper_unet, torch.zeros(1, 1, 572, 572), [r.module for r in table])
    for r in table:
        assert seen[r.module][1:] == r.out_shape, r
    assert seen["head"] == (1, 2, 388, 388)


def small_configs():
    for padding, depth, up_mode, bn in itertools.product(
        ("valid", "same"), (1, 2, 3, 4), ("upconv", "bilinear"), (None, True, False)
    ):
        yield dict(padding=padding, depth=depth, up_mode=up_mode, batch_norm=bn, base_channels=2)
    for padding, depth in itertools.product(("valid", "same"), (1, 3)):  # the experiment without skip connections
        yield dict(padding=padding, depth=depth, up_mode="upconv", batch_norm=None, base_channels=2, skips=False)


@pytest.mark.parametrize("opts", list(small_configs()), ids=lambda o: "-".join(map(str, o.values())))
def test_table_equals_forward_pass_for_every_mode(opts):
    """For each mode, the first valid sizes (odd and even) and a non-square input: table == real shapes."""
    sizes = valid_input_sizes(200, **opts)[:3]
    model = UNet(in_channels=3, num_classes=5, **opts).eval()
    assert sum(p.numel() for p in model.parameters()) == count_parameters(in_channels=3, num_classes=5, **opts)
    for h, w in [(s, s) for s in sizes] + [(sizes[0], sizes[-1])]:
        table = shape_table((h, w), in_channels=3, num_classes=5, **opts)
        seen = recorded_shapes(model, torch.zeros(1, 3, h, w), [r.module for r in table])
        assert [seen[r.module][1:] for r in table] == [r.out_shape for r in table]
        assert table.total_params == count_parameters(in_channels=3, num_classes=5, **opts)


@pytest.mark.parametrize("mismatch", ["crop", "pad"])
@pytest.mark.parametrize("size", [17, 30, 33, 50, 63])
def test_relaxed_same_padding_runs_any_size(mismatch, size):
    opts = dict(padding="same", depth=3, base_channels=2, mismatch=mismatch)
    table = shape_table(size, **opts)
    model = UNet(**opts).eval()
    seen = recorded_shapes(model, torch.zeros(1, 1, size, size + 1), [r.module for r in table])
    assert seen["head"][-2] == table.output_shape[1]
    if mismatch == "pad":
        assert table.output_shape[1:] == (size, size)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_same_variant_output_equals_input(depth, k):
    size = k * 2**depth
    assert output_size(size, padding="same", depth=depth) == (size, size)
    m = UNet(padding="same", depth=depth, base_channels=2).eval()
    assert m(torch.zeros(1, 1, size, size)).shape == (1, 2, size, size)


def test_batch_norm_on_a_1x1_bottom_explains_itself():
    m = UNet(padding="same", depth=2, base_channels=2)
    with pytest.raises(ValueError, match="batch of 2 or more images, an input of at least 8"):
        m(torch.zeros(1, 1, 4, 4))
    assert m(torch.zeros(2, 1, 4, 4)).shape == (2, 2, 4, 4)


def test_same_variant_is_conv_bn_relu():
    m = UNet(padding="same")
    block = m.down_convs[0]
    assert [type(x) for x in block] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU] * 2
    assert block.conv1.padding == (1, 1) and block.conv1.bias is None
    # batch norm adds gamma and beta but drops the conv bias: same count per conv
    assert count_parameters(padding="same") == count_parameters() + sum(
        r.out_shape[0] for r in shape_table(16, padding="same") if r.kind == "conv"
    )


def test_valid_sizes_of_the_paper():
    sizes = valid_input_sizes(1024)
    assert sizes[0] == 188
    assert all(b - a == 16 for a, b in zip(sizes, sizes[1:]))
    assert 572 in sizes
    assert all(output_size(s) == (s - 184, s - 184) for s in sizes)
    assert valid_input_sizes(100, padding="same") == list(range(16, 101, 16))


def test_valid_sizes_are_exactly_the_ones_the_network_takes_without_misalignment():
    """A size is valid iff every map entering a 2x2 pool is even and nothing shrinks to zero."""
    valid = set(valid_input_sizes(300, base_channels=1))
    for size in range(1, 301):
        try:  # relaxed mode: odd pools allowed, so only a size that shrinks to nothing fails
            table = shape_table(size, mismatch="crop", base_channels=1)
        except InvalidInputSize as e:
            assert "drop to zero" in e.reason or "too small" in e.reason
            assert size not in valid
            continue
        evens = all(r.in_shape[1] % 2 == 0 for r in table.where(kind="pool"))
        assert (size in valid) == evens, size


@pytest.mark.parametrize(
    "size,layer,below,above",
    [
        (570, "contracting path, level 2, 2x2 max pool", 556, 572),
        (573, "contracting path, level 1, 2x2 max pool", 572, 588),
        (100, "contracting path, level 4, 2x2 max pool", None, 188),
        (10, "contracting path, level 2, 3x3 conv + ReLU", None, 188),
    ],
)
def test_invalid_sizes_name_layer_reason_and_nearest(size, layer, below, above):
    with pytest.raises(InvalidInputSize) as e:
        output_size(size)
    err = e.value
    assert isinstance(err, ValueError)
    assert err.layer == layer and err.nearest == (below, above)
    msg = str(err)
    assert layer in msg and str(above) in msg and f"output {above - 184}" in msg
    if below:
        assert str(below) in msg
    assert nearest_valid_sizes(size) == (below, above)


def test_odd_size_message_says_why():
    with pytest.raises(InvalidInputSize, match="279 pixels, an odd size"):
        output_size(570)
    with pytest.raises(InvalidInputSize, match="one short of the copied 25, so the two maps cannot be concatenated"):
        output_size(100, padding="same")


@pytest.mark.parametrize(
    "bad,needle",
    [
        (0, "positive"),
        (-572, "positive"),
        (572.5, "whole number"),
        ("572px", "whole number"),
        (None, "whole number"),
        (float("nan"), "whole"),
        ((572, 572, 3), "(height, width)"),
    ],
)
def test_non_sizes_get_a_clear_message(bad, needle):
    with pytest.raises(InvalidInputSize, match=needle):
        output_size(bad)
    with pytest.raises(InvalidInputSize, match=needle):
        shape_table(bad)


def test_forward_raises_the_same_clear_error_not_a_concat_failure():
    m = UNet(padding="same", depth=2, base_channels=2)
    with pytest.raises(InvalidInputSize, match="Nearest valid sizes: 28 .output 28. and 32 .output 32."):
        m(torch.zeros(1, 1, 30, 30))
    m = UNet(depth=1, base_channels=2)
    with pytest.raises(InvalidInputSize, match="Input width 19"):
        m(torch.zeros(1, 1, 20, 19))


@pytest.mark.parametrize(
    "opts,needle",
    [
        (dict(padding="full"), "padding must be"),
        (dict(depth=0), "depth"),
        (dict(up_mode="nearest"), "up_mode"),
        (dict(base_channels=0), "base"),
        (dict(mismatch="pad"), "for same padding"),
        (dict(num_classes=-1), "num_"),
    ],
)
def test_bad_options_are_explained(opts, needle):
    with pytest.raises(ValueError, match=needle):
        UNet(**opts)


def test_table_renders():
    from unet_lesson.ui.tables import shape_table_html

    t = shape_table(572)
    md = t._repr_markdown_()  # how a notebook shows a ShapeTable (the core draws no HTML)
    assert "31,030,658" in md and "570 = (572 + 2*0 - 3)/1 + 1" in md
    assert "| 1 | contracting | 1 | 3x3 conv + ReLU | 1×572×572 | 64×570×570 |" in t.to_markdown()
    html = shape_table_html(t, style="notes", highlight=3)
    assert "570×570×64" in html and html.count("<tr") == len(t) + 1 and "data-module='head'" in html
    assert html.count("background:#ffe9a8") == 1
    assert "copy and crop" in str(t)


@pytest.mark.parametrize("options", [dict(depth=8), dict(depth=6, base_channels=128), dict(base_channels=1024)])
def test_a_network_too_large_to_build_is_refused_at_once(options):
    """Shapes need no weights: a network of gigabytes is refused before anything is allocated."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"parameters \(.* GB of weights\).*meta device"):
        UNet(**options)
    assert time.perf_counter() - t0 < 10.0  # generous: the hangs it guards against took a minute
    with torch.device("meta"):  # on the meta device it is built (shapes only)
        assert sum(p.numel() for p in UNet(**options).parameters()) == count_parameters(**options)
    assert shape_table(output_size_for_depth(options.get("depth", 4)), **options).total_params == count_parameters(
        **options
    )


def output_size_for_depth(depth):
    return valid_input_sizes(2**depth * 40, depth=depth)[-1]


def test_forward_checks_each_input_shape_once(monkeypatch):
    """The size check runs on the first input of a shape; later calls of that shape skip it."""
    import unet_lesson.core.model as M

    calls = []
    real = M.output_size
    monkeypatch.setattr(M, "output_size", lambda hw, o: calls.append(hw) or real(hw, o))
    net = UNet(padding="same", depth=2, base_channels=2).eval()
    for _ in range(3):
        net(torch.zeros(1, 1, 16, 16))
    net(torch.zeros(2, 1, 16, 16))  # another batch size, same height and width: no new check
    net(torch.zeros(1, 1, 24, 16))
    assert calls == [(16, 16), (24, 16)]
    with pytest.raises(InvalidInputSize):
        net(torch.zeros(1, 1, 18, 16))


@pytest.mark.parametrize(
    "shape, words",
    [((1, 44, 44), "add the batch axis"), ((44, 44), "x\\[None, None\\]"), ((1, 3, 44, 44), "takes 1 input channel")],
)
def test_forward_explains_an_input_of_the_wrong_form(shape, words):
    with pytest.raises(ValueError, match=words):
        UNet(padding="same", depth=2, base_channels=2)(torch.zeros(shape))


def test_without_skips_the_expanding_path_sees_only_what_comes_from_below():
    with_skips, without = shape_table(188), shape_table(188, skips=False)
    assert not without.where(kind="crop") and not without.where(kind="concat")
    assert without.output_shape == with_skips.output_shape  # the same sizes: the crop never changed them
    first = without.where(path="expanding", kind="conv")[0]
    assert first.in_shape[0] == first.out_shape[0] == 512  # 512 channels in, not 512 + 512
    assert count_parameters(skips=False) < count_parameters()
    net = UNet(padding="same", depth=2, base_channels=2, skips=False)
    assert not hasattr(net.concats, "0") and len(net.concats) == 0


def test_unet_takes_exactly_the_options_fields_and_keeps_every_value():
    import dataclasses
    import inspect

    from unet_lesson.core.options import FIELDS, UNetOptions

    assert tuple(inspect.signature(UNet.__init__).parameters)[1:] == FIELDS  # UNet builds its options by name
    knobs = dict(in_channels=3, num_classes=4, base_channels=2, depth=2, padding="same", batch_norm=True)
    knobs.update(up_mode="bilinear", mismatch="pad", dropout=0.25, init="he", skips=False)
    assert set(knobs) == set(FIELDS)
    net = UNet(**knobs)
    assert isinstance(net.options, UNetOptions) and dataclasses.asdict(net.options) == knobs
