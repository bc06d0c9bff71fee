"""Regenerate the small trained U-Nets shipped in unet_lesson/seg/checkpoints/.

    python scripts/make_checkpoints.py                    # the lesson models (same and valid padding), a minute each
    python scripts/make_checkpoints.py --which same
    python scripts/make_checkpoints.py --which ablations  # lesson 08's ablation arms (5 files, a few minutes)
    python scripts/make_checkpoints.py --which ablations --seed-study   # and every ablation with seeds 0, 1, 2

Fixed seeds, CPU, one thread: the same command gives the same weights, bit for bit, on the same torch
version (tests/test_ablations.py checks it for one arm). The recipes: unet_lesson.seg.pretrained.RECIPES
(the lesson models) and unet_lesson.seg.ablations.ABLATIONS (the ablations).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from unet_lesson.seg import ablations  # noqa: E402
from unet_lesson.seg.pretrained import CHECKPOINT_DIR, FILES, make_checkpoint  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--which", choices=["all", "lessons", "ablations", *FILES], default="lessons")
    ap.add_argument("--out", type=Path, default=CHECKPOINT_DIR, help="folder for the .pt files")
    ap.add_argument("--steps", type=int, default=None, help="override the lesson models' number of steps")
    ap.add_argument("--seed-study", action="store_true", help="with the ablations: also train seeds 0, 1, 2 of each")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    lessons = {"all": list(FILES), "lessons": list(FILES), "ablations": []}.get(args.which, [args.which])
    for padding in lessons:
        meta = make_checkpoint(padding, args.out, steps=args.steps, progress=not args.quiet)
        print(f"{args.out / FILES[padding]}: {json.dumps(meta)}")
    if args.which in ("all", "ablations"):
        known = {}  # the shipped arms are seed 0 of the seed study: their scores are not computed twice
        for name, arm in ablations.shipped_arms():
            meta = ablations.make_ablation_checkpoint(name, arm, args.out, progress=not args.quiet)
            known[((name, arm), 0)] = meta["held_out"]
            print(f"{ablations.checkpoint_file(name, arm, args.out)}: {json.dumps(meta)}")
        if args.seed_study:
            study = ablations.seed_study(progress=not args.quiet, known=known)
            print(f"{ablations.save_seed_study(study, args.out)}: {len(study['rows'])} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
