"""Checkpoints: written atomically, stale temporaries removed, every unusable file one clear CheckpointError."""

import os
import pickle
import subprocess
import sys
import time

import pytest
import torch

from unet_lesson import UNet
from unet_lesson.seg import checkpoints as CK
from unet_lesson.seg.checkpoints import (
    CheckpointError,
    load_checkpoint,
    model_from_checkpoint,
    remove_stale_temporaries,
    save_atomic,
    save_checkpoint,
)

TINY = dict(padding="same", base_channels=4, depth=2)


class Gadget:
    """A class: pickling an instance stores a reference to code, which weights_only refuses to load."""


def _tiny():
    torch.manual_seed(0)
    return UNet(**TINY)


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_checkpoint_roundtrip_weights_only(tmp_path):
    m = _tiny()
    p = save_checkpoint(tmp_path / "m.pt", m, dice=0.5, step=3)
    ck = torch.load(p, weights_only=True)  # plain data only
    assert ck["options"] == m.options.as_dict() and ck["dice"] == 0.5
    m2 = model_from_checkpoint(p)
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert not m2.training and m2.options == m.options


def test_save_checkpoint_can_save_other_weights_than_the_models(tmp_path):
    m, other = _tiny(), UNet(**TINY)
    p = save_checkpoint(tmp_path / "m.pt", m, state_dict=other.state_dict())
    for k, v in load_checkpoint(p)["state_dict"].items():
        torch.testing.assert_close(v, other.state_dict()[k])


def test_save_is_atomic(tmp_path, monkeypatch):
    p = tmp_path / "ck.pt"
    full = {"format": CK.FORMAT, "options": {}, "state_dict": {}}
    save_atomic({**full, "v": torch.tensor([1.0])}, p)

    def broken_save(obj, f):
        with open(f, "wb") as fh:
            fh.write(b"half a checkp")
        raise OSError("disk full")

    monkeypatch.setattr(CK.torch, "save", broken_save)
    with pytest.raises(OSError):
        save_atomic({**full, "v": torch.tensor([2.0])}, p)
    monkeypatch.undo()
    assert load_checkpoint(p)["v"].item() == 1.0  # the old file is intact
    assert os.listdir(tmp_path) == ["ck.pt"]  # and no temporary file is left behind


def test_a_killed_save_leaves_nothing_behind_after_the_next_save(tmp_path):
    """A save killed mid-write (kernel restart, kill -9) leaves .last.pt.PID.tmp; the next save removes it."""
    target = tmp_path / "last.pt"
    code = (
        "import os, sys, torch\n"
        "from unet_lesson.seg import checkpoints as CK\n"
        "def stuck(obj, f):\n"
        "    open(f, 'wb').write(b'x' * 100000)\n"
        "    os._exit(9)\n"  # killed in the middle of writing
        "CK.torch.save = stuck\n"
        f"CK.save_atomic({{'a': 1}}, {str(target)!r})\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 9
    left = list(tmp_path.glob(".last.pt.*.tmp"))
    assert len(left) == 1 and left[0].stat().st_size == 100000
    save_checkpoint(target, _tiny())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_remove_stale_temporaries_keeps_live_saves(tmp_path):
    target = tmp_path / "last.pt"
    dead = tmp_path / f".last.pt.{_dead_pid()}.tmp"
    mine = tmp_path / f".last.pt.{os.getpid()}.tmp"
    live_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f".last.pt.{live_proc.pid}.tmp"
        old_live = tmp_path / f".last.pt.{live_proc.pid}0.tmp"  # a pid that may exist or not: made old below
        unrelated = [tmp_path / ".last.pt.backup.tmp", tmp_path / ".best.pt.1.tmp", tmp_path / "last.pt.1.tmp"]
        for f in [dead, mine, live, old_live, *unrelated]:
            f.write_bytes(b"x")
        stale = time.time() - CK.STALE_AFTER - 10
        os.utime(old_live, (stale, stale))
        removed = remove_stale_temporaries(target)
    finally:
        live_proc.kill()
        live_proc.wait()
    assert sorted(removed) == sorted([dead, old_live])
    assert mine.exists() and live.exists() and all(f.exists() for f in unrelated)
    assert remove_stale_temporaries(tmp_path / "nowhere" / "x.pt") == []


def _unusable(tmp_path):
    """Every kind of file load_checkpoint must refuse, with what its message must say."""
    real = save_checkpoint(tmp_path / "real.pt", _tiny())
    data = real.read_bytes()
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "random.pt").write_bytes(os.urandom(4096))
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    torch.save({"format": CK.FORMAT, "state_dict": {}}, tmp_path / "no_options.pt")
    torch.save({"hello": 1}, tmp_path / "other.pt")
    torch.save(_tiny().state_dict(), tmp_path / "bare_state.pt")
    with open(tmp_path / "class.pt", "wb") as f:
        pickle.dump({"format": CK.FORMAT, "thing": Gadget()}, f, protocol=2)
    torch.save({"format": CK.FORMAT, "thing": Gadget()}, tmp_path / "class_torch.pt")
    (tmp_path / "folder.pt").mkdir()
    return [
        ("empty.pt", "empty"),
        ("random.pt", "damaged, truncated"),
        ("truncated.pt", "damaged, truncated"),
        ("no_options.pt", "has no 'options'"),
        ("other.pt", "not a unet_lesson checkpoint"),
        ("bare_state.pt", "bare state_dict"),
        ("class.pt", "Gadget.*never does"),
        ("class_torch.pt", "Gadget.*never does"),
        ("folder.pt", "is a folder"),
        ("missing.pt", "There is no checkpoint"),
    ]


def test_every_unusable_file_is_one_clear_checkpoint_error(tmp_path):
    for name, says in _unusable(tmp_path):
        path = tmp_path / name
        with pytest.raises(CheckpointError, match=says) as e:
            load_checkpoint(path)
        msg = str(e.value)
        assert str(path) in msg, name
        assert "weights_only=False" not in msg and "weights_only` set to `False" not in msg, name
        assert e.value.__cause__ is None and (e.value.__context__ is None or e.value.__suppress_context__), name
        with pytest.raises(CheckpointError):
            model_from_checkpoint(path)


def test_model_from_checkpoint_with_weights_of_another_network(tmp_path):
    ck = {
        "format": CK.FORMAT,
        "options": UNet(**{**TINY, "depth": 3}).options.as_dict(),
        "state_dict": _tiny().state_dict(),
    }
    torch.save(ck, tmp_path / "mixed.pt")
    with pytest.raises(CheckpointError, match=r"mixed\.pt does not hold the weights.*train again"):
        model_from_checkpoint(tmp_path / "mixed.pt")
    with pytest.raises(CheckpointError, match="the checkpoint does not hold the weights"):
        model_from_checkpoint(ck)
    with pytest.raises(CheckpointError, match="does not hold the weights"):
        model_from_checkpoint({**ck, "options": {**ck["options"], "depth": "deep"}})
