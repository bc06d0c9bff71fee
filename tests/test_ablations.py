"""Lesson 08's ablations (seg/ablations.py): each is a controlled comparison (the arms differ in one thing),
the shipped checkpoints are there, load, score what their metadata says, and one rebuilds bit for bit; the
seed study ships with every arm and seed; missing or broken files are said, never raised."""

import numpy as np
import pytest
import torch

from unet_lesson import count_parameters
from unet_lesson.seg import ablations as A
from unet_lesson.seg.augment import Augment
from unet_lesson.seg.data import make_dataset
from unet_lesson.seg.predict import predict
from unet_lesson.seg.train import LESSON_DATA


def _recipe_without_names(name, arm):
    r = A._recipe(name, arm, 0)
    return {k: v for k, v in r.items() if k not in ("ablation", "arm")}


@pytest.mark.parametrize("name", sorted(A.ABLATIONS))
def test_the_two_arms_differ_in_exactly_one_thing(name):
    a = A.ABLATIONS[name]
    one, two = (_recipe_without_names(name, side.key) for side in a.arms)
    differ = [k for k in one if one[k] != two[k]]
    assert differ in (["options"], ["train"]), differ
    inner = one[differ[0]], two[differ[0]]
    assert len({k for k in {**inner[0], **inner[1]} if inner[0].get(k) != inner[1].get(k)}) == 1


def test_an_arm_that_shares_a_file_has_the_same_recipe_as_the_arm_it_names():
    shared = [(a.name, s) for a in A.ABLATIONS.values() for s in a.arms if s.same_as]
    assert shared, "w0 = 10 is the skips ablation's 'on' arm"
    for name, side in shared:
        other = A.ABLATIONS[side.same_as[0]]
        assert _recipe_without_names(name, side.key) | {"train": {}} == _recipe_without_names(*side.same_as) | {
            "train": {}
        }
        # what the shared arm passes to train() is train()'s default for the other arm
        assert all(v == 10.0 for v in side.train.values()) and not other.arm(side.same_as[1]).train
        assert A.checkpoint_file(name, side.key) == A.checkpoint_file(*side.same_as)
    assert len(A.shipped_arms()) == 5


def test_the_network_is_small_and_without_skips_smaller():
    assert count_parameters(**A.ABLATION_OPTIONS) == 30474
    assert count_parameters(**A.ABLATION_OPTIONS, skips=False) < 30474


def test_ablation_data_is_the_start_of_the_lessons_training_set():
    d = LESSON_DATA
    full = make_dataset(d["n_train"], d["size"], seed=d["train_seed"])
    few = A.ablation_data("augment")
    assert few.images.shape == (2, 64, 64)
    np.testing.assert_array_equal(few.images, full.images[:2, :64, :64])
    np.testing.assert_array_equal(few.instances, full.instances[:2, :64, :64])
    assert len(A.ablation_data("skips")) == d["n_train"]


def test_unknown_names_are_explained():
    with pytest.raises(ValueError, match="the ablations are"):
        A.ablation_data("dropout")
    with pytest.raises(ValueError, match="has the arms"):
        A.ABLATIONS["w0"].arm("5")


def test_training_an_arm_twice_gives_the_same_weights_and_the_arms_differ():
    a, b = (A.train_arm("w0", "0", steps=3) for _ in range(2))
    for (k, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(x, y), k
    c = A.train_arm("w0", "10", steps=3)  # same init and batches, another loss: other weights
    assert not all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(), c.model.state_dict().values()))


# ---- the shipped checkpoints ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, arm", A.shipped_arms())
def test_shipped_arm_loads_and_scores_what_its_metadata_says(name, arm):
    model, meta = A.load_arm(name, arm)
    assert model is not None, meta
    assert not model.training
    assert meta["recipe"] == A._recipe(name, arm, 0), "the recipe changed: rebuild with " + A.COMMAND
    s = A.score(model)
    for k, v in meta["held_out"].items():
        assert s[k] == pytest.approx(v, abs=2e-4), k
    assert A.checkpoint_file(name, arm).stat().st_size < 200 * 1024


def test_a_shipped_arm_rebuilds_bit_for_bit():
    # the cheapest arm (two 64x64 images); the others use the same code path
    model, _ = A.load_arm("augment", "none")
    again = A.train_arm("augment", "none").model
    for (k, x), y in zip(model.state_dict().items(), again.state_dict().values()):
        assert torch.equal(x, y), k


def test_compare_scores_both_arms_and_says_what_is_missing(tmp_path):
    cmp = A.compare("w0")
    assert set(cmp["arms"]) == {"10", "0"} and not cmp["missing"]
    assert all(arm["scores"]["n_true"] == 303 for arm in cmp["arms"].values())
    empty = A.compare("w0", tmp_path)
    assert len(empty["missing"]) == 2 and all(A.COMMAND in why for why in empty["missing"])
    (tmp_path / "ablation_skips_on.pt").write_bytes(b"not a checkpoint")
    broken = A.compare("skips", tmp_path)
    assert broken["arms"]["on"]["model"] is None and "ablation_skips_on.pt" in broken["missing"][0]


def test_the_seed_study_ships_every_arm_and_seed_and_seed_0_is_the_shipped_pair():
    study = A.load_seed_study()
    assert study is not None and study["seeds"] == list(A.SEEDS)
    for a in A.ABLATIONS.values():
        for side in a.arms:
            rows = [r for r in study["rows"] if r["ablation"] == a.name and r["arm"] == side.key]
            assert sorted(r["seed"] for r in rows) == list(A.SEEDS)
            seed0 = next(r for r in rows if r["seed"] == 0)
            _, meta = A.load_arm(a.name, side.key)
            assert {k: seed0[k] for k in meta["held_out"]} == meta["held_out"]


def test_seed_study_uses_what_is_known_and_shares_equal_arms(monkeypatch):
    trained = []
    monkeypatch.setattr(A, "train_arm", lambda *a, **k: trained.append(a) or (_ for _ in ()).throw(AssertionError))
    known = {(("skips", "on"), 0): {"dice": 0.5}, (("w0", "0"), 0): {"dice": 0.25}}
    study = A.seed_study(["w0"], seeds=(0,), known=known)
    assert not trained
    assert [(r["arm"], r["dice"]) for r in study["rows"]] == [("10", 0.5), ("0", 0.25)]


def test_seed_study_files(tmp_path):
    assert A.load_seed_study(tmp_path) is None
    path = A.save_seed_study({"seeds": [0], "rows": []}, tmp_path)
    assert A.load_seed_study(tmp_path) == {"seeds": [0], "rows": []}
    path.write_text("{broken")
    assert A.load_seed_study(tmp_path) is None


def test_foreground_probability():
    model, _ = A.load_arm("skips", "on")
    p = A.foreground_probability(model, A.held_out().images[:2])
    assert p.shape == (2, 128, 128) and 0 <= p.min() and p.max() <= 1
    np.testing.assert_array_equal(p > 0.5, predict(model, A.held_out().images[:2]) > 0)


def test_no_augmentation_is_none_and_elastic_only_is_elastic():
    img = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    mask = (img > 0.5).astype(np.uint8)
    out, m, _ = A.NO_AUGMENT(img, mask, seed=0)
    np.testing.assert_array_equal(out, img)
    np.testing.assert_array_equal(m, mask)
    assert A.ELASTIC_ONLY.grid == Augment().grid == 3 and A.ELASTIC_ONLY.std == 10.0
    assert not A.ELASTIC_ONLY.flips and not A.ELASTIC_ONLY.intensity
