"""The explorer's view functions, without a browser: every control, valid and invalid values."""

import itertools

import pytest
import torch

from unet_lesson import (
    InvalidInputSize,
    count_parameters,
    output_size,
    shape_table,
    size_rule,
    smallest_valid_size,
    valid_input_sizes,
)
from unet_lesson.seg import pretrained as P
from unet_lesson.ui import explorer as E
from unet_lesson.ui.tables import shape_table_html
from unet_lesson.ui.widgets import figure_png, safe_view, static_view

PADDINGS = ("valid", "same")
UP_MODES = ("upconv", "bilinear")


def _controls(**kw):
    return {**E.DEFAULTS, **kw}


@pytest.mark.parametrize("padding,depth,up_mode", list(itertools.product(PADDINGS, range(1, 6), UP_MODES)))
def test_shapes_view_numbers_are_the_packages(padding, depth, up_mode):
    rule = size_rule(padding=padding, depth=depth, up_mode=up_mode)
    for size in (rule.first, rule.first + rule.step, rule.first + 7 * rule.step):
        c = _controls(input_size=size, padding=padding, depth=depth, up_mode=up_mode, base_channels=8, num_classes=3)
        v = E.shapes_view(**c)
        assert v.ok, v.error
        opts = {k: c[k] for k in ("padding", "depth", "up_mode", "base_channels", "num_classes")}
        table = shape_table(size, **opts)
        assert v.data["output_size"] == output_size(size, **opts)[0]
        assert v.data["params"] == count_parameters(**opts) == table.total_params
        assert v.data["n_conv_layers"] == table.n_conv_layers
        assert v.data["error"] == ""
        assert f"{v.data['params']:,}" in v.html
        assert shape_table_html(table, "notes") in v.html


@pytest.mark.parametrize("padding,depth", list(itertools.product(PADDINGS, range(1, 6))))
def test_size_rule_matches_valid_input_sizes(padding, depth):
    rule = size_rule(padding=padding, depth=depth)
    sizes = valid_input_sizes(rule.first + 10 * rule.step, padding=padding, depth=depth)
    assert sizes == [rule.first + k * rule.step for k in range(11)]
    assert all(output_size(s, padding=padding, depth=depth)[0] == s + rule.offset for s in sizes)
    assert smallest_valid_size(rule.first + 1, padding=padding, depth=depth) == rule.first + rule.step
    if padding == "same":
        assert rule.offset == 0 and rule.step == rule.first == 2**depth


def test_paper_numbers():
    v = E.shapes_view()
    assert (v.data["input_size"], v.data["output_size"], v.data["params"], v.data["n_conv_layers"]) == (
        572,
        388,
        31_030_658,
        23,
    )
    assert "188 + 16k" in v.html and "388 = 572 - 184" in v.html
    assert "3·3·1·64 + 64 = 640" in v.html


@pytest.mark.parametrize("size", [571, 573, 574, 580, 187, 100, 1, 0, -4, 1001])
def test_invalid_valid_sizes_explain_where_and_why(size):
    v = safe_view(E.shapes_view, input_size=size)
    assert not v.ok
    with pytest.raises(InvalidInputSize) as e:
        shape_table(size)
    assert v.error == v.data["error"] == f"{e.value} This setting takes {size_rule().text}."
    assert v.data["below"] == (e.value.below if e.value.below is not None else "")
    assert v.data["above"] == (e.value.above if e.value.above is not None else "")
    if size > 0:
        assert "Nearest valid sizes" in v.error
    assert "Traceback" not in v.body_html()


@pytest.mark.parametrize("size,depth", [(100, 4), (255, 4), (257, 4), (30, 2), (17, 1), (100, 5), (130, 3)])
def test_invalid_same_sizes(size, depth):
    v = safe_view(E.shapes_view, input_size=size, padding="same", depth=depth)
    assert not v.ok
    assert "cannot be concatenated" in v.error
    below, above = v.data["below"], v.data["above"]
    assert below % 2**depth == 0 and above % 2**depth == 0 and below < size < above


@pytest.mark.parametrize(
    "bad",
    [
        dict(depth=0),
        dict(depth=9),
        dict(base_channels=0),
        dict(base_channels=-8),
        dict(num_classes=0),
        dict(padding="full"),
        dict(up_mode="nearest"),
        dict(input_size=2.5),
    ],
)
def test_bad_controls_give_a_message_not_a_traceback(bad):
    for view in (E.shapes_view, E.diagram_view, E.feature_maps_view):
        v = safe_view(view, **_controls(**bad))
        assert not v.ok and v.error and "Unexpected" not in v.error


@pytest.mark.parametrize("size", [188, 204, 572, 60, 61])
@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_odd_and_even_sizes_at_every_depth(size, depth):
    for padding in PADDINGS:
        v = safe_view(E.shapes_view, input_size=size, padding=padding, depth=depth)
        try:
            out = output_size(size, padding=padding, depth=depth)[0]
        except InvalidInputSize:
            assert not v.ok
        else:
            assert v.ok and v.data["output_size"] == out


@pytest.mark.parametrize("classes,base", [(1, 1), (2, 64), (5, 16), (21, 3)])
def test_classes_and_base_channels(classes, base):
    v = E.shapes_view(input_size=256, padding="same", num_classes=classes, base_channels=base)
    assert v.data["output_shape"] == f"256×256×{classes}"
    assert v.data["params"] == count_parameters(padding="same", num_classes=classes, base_channels=base)


def test_param_formula_equals_the_rows_count():
    for opts in (dict(), dict(padding="same"), dict(up_mode="bilinear", base_channels=8, num_classes=3)):
        t = shape_table(256 if opts.get("padding") == "same" else 572, **opts)
        for r in t:
            f = t.param_formula(r)
            lhs, rhs = f.split(" = ") if " = " in f else (None, f)
            if lhs is None:
                assert r.params == 0
                continue
            assert int(rhs.replace(",", "")) == r.params
            assert eval(lhs.replace("·", "*")) == r.params  # the formula's own arithmetic is right


def test_size_walk_follows_the_table():
    walk = shape_table(572).size_walk()
    assert walk.startswith("572 → 570 → 568 ↓ 284")
    assert "(crop 64 → 56)" in walk and walk.endswith("→ 388 → 388")


@pytest.mark.parametrize(
    "setting",
    [
        dict(),
        dict(input_size=256, padding="same"),
        dict(input_size=92, depth=1),
        dict(input_size=380, depth=5, up_mode="bilinear"),
    ],
)
def test_diagram_view(setting):
    v = E.diagram_view(**_controls(**setting))
    c = _controls(**setting)
    table = shape_table(c["input_size"], **{k: c[k] for k in ("padding", "depth", "up_mode")})
    assert v.data["boxes"] == 1 + len([r for r in table if r.kind in ("conv", "pool", "up", "crop", "head")])
    assert v.data["output_size"] == table.output_shape[1]
    assert figure_png(v.figure, tight=v.tight)[:4] == b"\x89PNG"


@pytest.mark.parametrize("view", [E.diagram_view, E.feature_maps_view])
def test_other_views_explain_an_invalid_size(view):
    v = safe_view(view, **_controls(input_size=573))
    assert not v.ok and v.figure is None
    assert v.error == safe_view(E.shapes_view, input_size=573).error and v.data["above"] == 588


@pytest.mark.parametrize(
    "setting",
    [
        dict(input_size=64, padding="same", depth=4),
        dict(input_size=96, padding="same", depth=5, up_mode="bilinear", num_classes=3),
        dict(input_size=188, padding="valid", depth=4),
        dict(input_size=22, padding="valid", depth=1, num_classes=1),
        dict(input_size=60, padding="same", depth=2, base_channels=2),
    ],
)
def test_feature_maps_have_the_tables_sizes(setting):
    c = _controls(**setting)
    v = E.feature_maps_view(**c)
    assert v.ok and v.data["weights"] in ("random", "trained")
    assert f"{v.data['weights']} weights" in v.html
    table = shape_table(c["input_size"], **{k: c[k] for k in ("padding", "depth", "up_mode", "num_classes")})
    by_module = {r.module: r.out_shape for r in table}
    shapes = v.data["feature_shapes"]
    assert len(shapes) == v.data["panels"] == 2 * c["depth"] + 2
    for module, (ch, h, w) in shapes.items():
        last = [r for r in table if r.module.startswith(module + ".conv") or r.module == module][-1]
        assert (h, w) == tuple(last.out_shape[1:]), module
        if v.data["weights"] == "random":
            small = shape_table(
                c["input_size"],
                base_channels=min(c["base_channels"], E.FEATURE_BASE),
                **{k: c[k] for k in ("padding", "depth", "up_mode", "num_classes")},
            )
            assert ch == [r for r in small if r.module == last.module][0].out_shape[0]
    assert shapes["head"][0] == c["num_classes"]
    assert by_module  # the table was built


def test_feature_maps_invalid_and_too_large():
    assert not safe_view(E.feature_maps_view, **_controls(input_size=100, padding="same")).ok  # cannot work
    v = safe_view(E.feature_maps_view, **_controls(input_size=2060, padding="valid"))
    assert v.ok and v.data["drawn"] == "no" and v.figure is None  # works, but is not drawn: a note says why
    assert str(E.MAX_FEATURE_SIZE) in v.html and "not drawn" in v.html
    largest = int(v.html.split("the largest size that works here is ")[1].split(".")[0].split(";")[0])
    assert largest <= E.MAX_FEATURE_SIZE and largest in valid_input_sizes(E.MAX_FEATURE_SIZE)
    assert largest + 16 > E.MAX_FEATURE_SIZE
    # the paper's 572 and the same-padding sizes up to the limit are drawn
    assert E.feature_maps_view(**_controls(input_size=572)).data["drawn"] == "yes"


def _timed(view, **controls):
    import time

    t = time.perf_counter()
    v = safe_view(view, **controls)
    if v.ok and v.figure is not None:
        figure_png(v.figure, tight=v.tight)
    return v, time.perf_counter() - t


@pytest.mark.parametrize(
    "setting, reason",
    [
        (dict(num_classes=5000), "5,000 maps"),  # 2.9 GB and a minute before
        (dict(num_classes=10**9), "classes"),
        (dict(num_classes=E.MAX_FEATURE_CLASSES + 1), "classes"),
        (dict(depth=6, input_size=768), "depths up to 5"),  # deeper than the maps are drawn: a note
        (dict(depth=8, input_size=4096), "depths up to 5"),
        (dict(input_size=10**12), "pixels"),
        (dict(input_size=608), "pixels"),  # the first same-padding size above the limit
    ],
    ids=str,
)
def test_feature_maps_beyond_their_limits_say_what_was_not_run(setting, reason):
    c = _controls(**{"input_size": 256, "padding": "same", **setting})
    v, seconds = _timed(E.feature_maps_view, **c)
    assert v.ok and v.data["drawn"] == "no" and v.figure is None, v.error
    assert "not drawn" in v.html and reason in v.html
    assert seconds < 10  # a generous bound: it runs nothing (it took a minute and 2.9 GB for 5000 classes)
    # the shapes and the diagram still answer the same setting
    for view in (E.shapes_view, E.diagram_view):
        other, seconds = _timed(view, **c)
        assert other.ok and seconds < 10, other.error
    assert (
        E.shapes_view(**c).data["output_size"]
        == output_size(
            c["input_size"], **{k: c[k] for k in ("padding", "depth", "base_channels", "num_classes", "up_mode")}
        )[0]
    )


@pytest.mark.parametrize("classes", [1, 2, 3, E.MAX_FEATURE_CLASSES])
def test_feature_maps_up_to_the_class_limit_are_drawn(classes):
    v = E.feature_maps_view(input_size=64, padding="same", depth=2, num_classes=classes)
    assert v.data["drawn"] == "yes" and v.data["feature_shapes"]["head"][0] == classes


# every kind of value an IntText or a caller can hand the explorer: each view answers quickly, with a view or a
# message (ValueError), never a traceback
HOSTILE = {
    "input_size": [
        10**12,
        -(10**12),
        2**63,
        10**100,
        4.0,
        4.5,
        float("nan"),
        float("inf"),
        "572",
        "abc",
        None,
        True,
        0,
    ],
    "depth": [0, 6, 8, 9, 10**9, -1, 3.5, float("nan"), "4", True],
    "base_channels": [1, 10**6, 10**100, -1, 0, 2.5, float("nan"), "64"],
    "num_classes": [1, 5000, 10**12, 0, -5, 1.5, "2"],
    "padding": ["full", 3, None],
    "up_mode": ["nearest", 1],
}


@pytest.mark.parametrize("name, value", [(n, v) for n, vs in HOSTILE.items() for v in vs], ids=lambda x: repr(x)[:20])
def test_any_value_is_answered_quickly_without_a_traceback(name, value):
    for view in (E.shapes_view, E.diagram_view, E.feature_maps_view):
        base = _controls() if view is not E.feature_maps_view else _controls(input_size=64, padding="same", depth=2)
        v, seconds = _timed(view, **{**base, name: value})
        assert seconds < 10, (view.__name__, name, value)
        assert v.ok or (v.error and "Unexpected" not in v.error), (view.__name__, v.error)
        assert "Traceback" not in v.body_html()
        if view is E.feature_maps_view and v.ok:
            assert v.data["drawn"] in ("yes", "no")


@pytest.mark.parametrize("size", [30, 256, 300, 572])
def test_sample_image_at_any_size(size):
    from unet_lesson.seg.data import sample_image

    img = sample_image(size)
    assert img.shape == (size, size) and img is sample_image(size) and not img.flags.writeable
    assert 0 <= img.min() and img.max() <= 1


def test_feature_maps_restore_torch_threads():
    before = torch.get_num_threads()
    E.feature_maps_view(input_size=32, padding="same", depth=2)
    assert torch.get_num_threads() == before


@pytest.fixture
def fresh_networks():
    E._feature_network.cache_clear()
    yield
    E._feature_network.cache_clear()


def test_feature_network_without_checkpoint_says_random(monkeypatch, fresh_networks):
    monkeypatch.setattr(P, "_shipped", lambda padding: (None, "no trained checkpoint (test)"))
    model, weights, note = E.feature_network(padding="same")
    assert weights == "random" and "no trained checkpoint (test)" in note
    assert model.options.base_channels == E.FEATURE_BASE


def test_feature_network_uses_a_matching_checkpoint(monkeypatch, fresh_networks):
    from unet_lesson import UNet

    ckpt = UNet(padding="same", depth=3, base_channels=2).eval()
    monkeypatch.setattr(P, "_shipped", lambda padding: (ckpt, "") if padding == "same" else (None, "none"))
    model, weights, _ = E.feature_network(padding="same", depth=3)
    assert model is ckpt and weights == "trained"
    model, weights, note = E.feature_network(padding="same", depth=4)
    assert weights == "random" and "depth 3" in note
    v = E.feature_maps_view(input_size=64, padding="same", depth=3)
    assert v.data["weights"] == "trained" and v.data["feature_shapes"]["down_convs.0"][0] == 2


def test_default_explorer_shows_the_shipped_valid_network():
    """The paper's layout (valid, depth 4, 2 classes, up-conv) is what the valid checkpoint has."""
    from unet_lesson.seg.pretrained import load_pretrained

    shipped = load_pretrained("valid")
    model, weights, note = E.feature_network(
        **{k: E.DEFAULTS[k] for k in ("padding", "depth", "base_channels", "num_classes", "up_mode")}
    )
    assert weights == "trained" and model.options == shipped.options and "trained" in note


def test_explorer_static_view_and_widget():
    page = static_view(E.PANES, E.controls())
    assert "data-ul-params='31030658'" in page and page.count("<img") == 1  # table and diagram, maps off
    w = E.build()
    assert "ul-explorer" in w._dom_classes
    for name in E.CONTROLS:
        assert f"ul-explorer-{name}" in w.controls[name]._dom_classes
    shapes = w.panes["shapes"][0]
    assert "data-ul-output_size='388'" in shapes.value
    w.controls["input_size"].value = 573  # invalid: message, the control keeps what was typed
    assert "class='ul-error'" in shapes.value and "Nearest valid sizes" in shapes.value
    assert w.controls["input_size"].value == 573
    w.controls["padding"].value = "same"
    w.controls["input_size"].value = 256
    assert "data-ul-output_size='256'" in shapes.value and "class='ul-error'" not in shapes.value
    w.controls["depth"].value = 5
    w.controls["up_mode"].value = "bilinear"
    w.controls["base_channels"].value = 8
    w.controls["num_classes"].value = 3
    assert (
        f"data-ul-params='{count_parameters(padding='same', depth=5, up_mode='bilinear', base_channels=8, num_classes=3)}'"  # noqa: E501
        in shapes.value
    )
    w.controls["base_channels"].value = 0
    assert "class='ul-error'" in shapes.value and "base_channels" in shapes.value
    w.controls["base_channels"].value = 8
    w.feature_toggle.value = True
    maps_note, maps_image = w.panes["maps"]
    assert "random weights" in maps_note.value or "trained weights" in maps_note.value
    assert maps_image.value[:4] == b"\x89PNG"


def test_build_rejects_unknown_defaults():
    with pytest.raises(TypeError):
        E.build(size=3)
