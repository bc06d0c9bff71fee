"""Regenerate the small pretrained U-Nets shipped in unet_lesson/checkpoints/.

    python scripts/make_checkpoints.py              # both (same and valid padding), about a minute each
    python scripts/make_checkpoints.py --which same

Fixed seeds, CPU, one thread: the same command gives the same weights on the same
torch version. The recipe (model options, data seeds, steps) is unet_lesson.seg.pretrained.RECIPES.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from unet_lesson.seg.pretrained import CHECKPOINT_DIR, FILES, make_checkpoint  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--which", choices=["all", *FILES], default="all")
    ap.add_argument("--out", type=Path, default=CHECKPOINT_DIR, help="folder for the .pt files")
    ap.add_argument("--steps", type=int, default=None, help="override the recipe's number of steps")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    for padding in FILES if args.which == "all" else [args.which]:
        meta = make_checkpoint(padding, args.out, steps=args.steps, progress=not args.quiet)
        print(f"{args.out / FILES[padding]}: {json.dumps(meta)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
