"""How fast does the lesson's default U-Net learn the course's cell images?

    python benchmarks/bench_training.py            # prints a small table
    from benchmarks.bench_training import run      # run(device=None) -> dict

Trains ``lesson_model("same")`` with the lesson's recipe (the same call lesson 08 makes) on the
lesson's data, evaluates the held-out Dice every few steps, and reports the *training* seconds
(evaluation excluded) until the held-out Dice first reaches 0.95, the final held-out Dice, the
steps and epochs, and the device. The Otsu baseline on the same held-out set is reported too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unet_lesson.core.env import get_device  # noqa: E402
from unet_lesson.seg.data import make_dataset  # noqa: E402
from unet_lesson.seg.train import LESSON_DATA, LESSON_STEPS, LESSON_TRAIN, evaluate, lesson_model, otsu_baseline, train  # noqa: E402

TARGET = 0.95


def run(device=None, steps: int = LESSON_STEPS, time_limit: float = 60.0, seed: int = 0) -> dict:
    """One training run; returns time_to_dice_095_s (training seconds until the held-out Dice first
    reached 0.95; None if not reached), final_dice (held-out Dice of the model train() returns: the
    best weights), last_eval_dice (the Dice at the last evaluation), steps, epochs (training pixels
    seen / pixels in the training set), train_s, wall_s (with data and evaluation), otsu_dice, device."""
    device = str(device or get_device())
    d = LESSON_DATA
    tr = make_dataset(d["n_train"], d["size"], seed=d["train_seed"])
    va = make_dataset(d["n_val"], d["size"], seed=d["val_seed"])
    t0 = time.perf_counter()
    res = train(
        lesson_model("same", seed=seed),
        tr,
        va,
        steps=steps,
        seed=seed,
        target_dice=TARGET,
        time_limit=time_limit,
        device=device,
        progress=False,
    )
    wall = time.perf_counter() - t0
    epochs = res.steps * LESSON_TRAIN["batch_size"] * LESSON_TRAIN["tile"] ** 2 / (d["n_train"] * d["size"] ** 2)
    return {
        "time_to_dice_095_s": None if res.time_to_target is None else round(res.time_to_target, 2),
        # the model train() returns (the best held-out weights, as the lesson keeps them)
        "final_dice": round(evaluate(res.model, va)["dice"], 4),
        "last_eval_dice": round(res.history.dice[-1], 4) if res.history.dice else None,
        "steps": res.steps,
        "epochs": round(epochs, 1),
        "train_s": round(res.seconds, 2),
        "wall_s": round(wall, 2),
        "otsu_dice": round(otsu_baseline(va)["dice"], 4),
        "device": device,
    }


def main() -> None:
    r = run()
    width = max(len(k) for k in r)
    print("lesson 08 training benchmark (UNet(padding='same', base_channels=8, depth=3), 64 px tiles)")
    for k, v in r.items():
        print(f"  {k:<{width}}  {v}")


if __name__ == "__main__":
    main()
