"""The shipped checkpoints: present, small, loadable with weights_only, and good."""

import numpy as np
import pytest
import torch

import unet_lesson.seg.pretrained as P
from unet_lesson import UNet
from unet_lesson.seg.checkpoints import load_checkpoint
from unet_lesson.seg.data import make_dataset
from unet_lesson.seg.train import LESSON_DATA, LESSON_OPTIONS, VALID_OPTIONS, evaluate


@pytest.fixture(scope="module")
def held_out():
    return make_dataset(LESSON_DATA["n_val"], LESSON_DATA["size"], seed=LESSON_DATA["val_seed"])


@pytest.mark.parametrize("padding,opts", [("same", LESSON_OPTIONS), ("valid", VALID_OPTIONS)])
def test_load_pretrained(padding, opts, held_out):
    m = P.load_pretrained(padding)
    assert isinstance(m, UNet) and not m.training
    for k, v in opts.items():
        assert getattr(m.options, k) == v
    info = P.pretrained_info(padding)
    assert info["options"] == m.options.as_dict() and info["command"] == P.COMMAND
    # the Dice stored with it is the Dice it really reaches on the held-out set
    d = evaluate(m, held_out)["dice"]
    assert d == pytest.approx(info["held_out_dice"], abs=2e-4)
    assert d >= 0.95 and info["otsu_dice"] <= 0.85


def test_files_are_small_and_weights_only():
    total = 0
    for name in P.FILES.values():
        path = P.CHECKPOINT_DIR / name
        total += path.stat().st_size
        ck = torch.load(path, weights_only=True)
        assert set(ck) >= {"format", "options", "state_dict", "meta"}
    assert total < 2 * 1024 * 1024


def test_info_of_both_files():
    info = {p: P.pretrained_info(p) for p in P.FILES}
    assert set(info) == {"same", "valid"} and info["same"]["data"] == LESSON_DATA == info["valid"]["data"]


def test_trained_or_random_uses_the_shipped_model_when_it_matches():
    model, weights, note = P.trained_or_random("valid", must_match={"depth": 4})
    assert weights == "trained" and model.options == P.load_pretrained("valid").options and "trained" in note
    model, weights, note = P.trained_or_random("valid", must_match={"depth": 3}, depth=3, base_channels=2)
    assert weights == "random" and model.options.depth == 3 and "depth 4" in note


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", None])
def test_trained_or_random_falls_back_for_a_missing_or_broken_file(tmp_path, monkeypatch, content):
    if content is not None:
        (tmp_path / P.FILES["same"]).write_bytes(content)
    monkeypatch.setattr(P, "CHECKPOINT_DIR", tmp_path)
    P._shipped.cache_clear()
    try:
        state = torch.random.get_rng_state()
        model, weights, note = P.trained_or_random("same", depth=2, base_channels=2)
        assert torch.equal(state, torch.random.get_rng_state())  # the student's RNG is left alone
        again, _, _ = P.trained_or_random("same", depth=2, base_channels=2)
    finally:
        P._shipped.cache_clear()
    assert weights == "random" and not model.training
    assert ("no trained" in note) if content is None else ("could not be loaded" in note and str(tmp_path) in note)
    for a, b in zip(model.parameters(), again.parameters()):
        assert torch.equal(a, b)  # seeded: the same random weights every time


def test_missing_file_gives_none(tmp_path):
    assert P.load_pretrained("same", directory=tmp_path) is None
    assert P.pretrained_info("valid", directory=tmp_path) is None


def test_unknown_padding():
    with pytest.raises(ValueError, match="'same' and 'valid'"):
        P.load_pretrained("full")


@pytest.mark.slow
def test_make_checkpoint_short(tmp_path):
    meta = P.make_checkpoint("valid", tmp_path, steps=2, progress=False)
    m = P.load_pretrained("valid", directory=tmp_path)
    assert m.options.as_dict() == meta["options"] and meta["recipe"]["steps"] == 2
    assert load_checkpoint(tmp_path / P.FILES["valid"])["meta"]["held_out_dice"] == meta["held_out_dice"]
    from unet_lesson import input_size_for

    out = m(torch.zeros(1, 1, input_size_for(20, m.options), input_size_for(20, m.options)))
    assert out.shape[1] == 2 and np.isfinite(out.detach().numpy()).all()
