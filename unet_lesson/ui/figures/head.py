"""Pictures of the 1x1-head lesson: the widget's scores -> softmax -> argmax panels, and the experiment's
heads side by side (a random head, a head fitted on random features, the trained network), and its table.

The numbers come from :mod:`unet_lesson.lessons.l05_the_1x1_head` (real layers on real pictures); these
functions only draw them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["class_colours", "head_figure", "head_experiment_figure", "head_experiment_table"]


def class_colours(k: int):
    """One colour per class (background, foreground first), as the lesson's maps draw them."""
    import matplotlib.pyplot as plt

    base = plt.get_cmap("tab10" if k <= 10 else "tab20" if k <= 20 else "turbo")
    return base(np.linspace(0, 1, k)) if k > 20 else base(np.arange(k))


def _bare(axes) -> None:
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])


def head_figure(r: dict, n: int):
    """The widget's panels for ``n`` classes: input, winner's probability (sigmoid for one class), argmax map,
    and for 2 classes the image's mask. ``r`` is what ``segment(n)`` returns."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    seg = r["segmentation"]
    present = int(len(np.unique(seg)))
    panels = 4 if n == 2 else 3
    fig, axes = plt.subplots(1, panels, figsize=(2.75 * panels, 2.9))
    axes[0].imshow(r["image"], cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(f"input image {r['image'].shape[0]}×{r['image'].shape[1]}", fontsize=8)
    if n == 1:
        axes[1].imshow(1 / (1 + np.exp(-r["scores"][0].numpy())), cmap="magma", vmin=0, vmax=1)
        axes[1].set_title("sigmoid(score): one channel", fontsize=8)
    else:
        axes[1].imshow(r["probs"].max(dim=0).values.numpy(), cmap="magma", vmin=0, vmax=1)
        axes[1].set_title("softmax: probability of the winner", fontsize=8)
    k = max(n, 2)
    colours = class_colours(k)
    axes[2].imshow(seg, cmap=ListedColormap(colours), vmin=-0.5, vmax=k - 0.5, interpolation="nearest")
    axes[2].set_title(
        f"argmax → segmentation map\n({present} of {n} classes win somewhere)" if n > 1 else "sigmoid > 0.5 → mask",
        fontsize=8,
    )
    if k <= 10:
        names = ["background", "foreground"] if n == 2 else [f"class {i}" for i in range(k)]
        axes[2].legend(
            handles=[Patch(color=colours[i], label=names[i]) for i in range(k)],
            fontsize=6,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.01),
            ncol=min(k, 5),
            frameon=False,
        )
    if n == 2:
        axes[3].imshow(r["mask"], cmap=ListedColormap(colours[:2]), vmin=-0.5, vmax=1.5, interpolation="nearest")
        axes[3].set_title("the image's cell mask (for comparison)", fontsize=8)
    _bare(axes)
    fig.tight_layout()
    return fig


def head_experiment_figure(result: dict):
    """The held-out picture, its mask, and each head's argmax map with its share of pixels right."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    runs = result["runs"]
    cmap = ListedColormap(class_colours(2))
    fig, axes = plt.subplots(1, 2 + len(runs), figsize=(2.1 * (2 + len(runs)), 2.9))
    axes[0].imshow(result["image"], cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("a new picture", fontsize=8)
    axes[1].imshow(result["mask"], cmap=cmap, vmin=-0.5, vmax=1.5, interpolation="nearest")
    axes[1].set_title("its cell mask", fontsize=8)
    for ax, run in zip(axes[2:], runs):
        ax.imshow(run.segmentation, cmap=cmap, vmin=-0.5, vmax=1.5, interpolation="nearest")
        name = run.name.replace(", ", ",\n")
        ax.set_title(f"{name}\n{run.accuracy:.1%} right", fontsize=8)
    _bare(axes)
    fig.tight_layout()
    return fig


def head_experiment_table(result: dict) -> str:
    """The experiment's numbers as HTML: what learned, and the share of pixels right on the picture the head
    was fitted to and on the new one (``result`` is what ``head_experiment()`` returns)."""
    import html

    from ..tables import html_table

    rows = [
        (
            r.name,
            f"{r.learned:,} ({r.what_learned})",
            "—" if r.fit_accuracy is None else f"{r.fit_accuracy:.1%}",
            f"{r.accuracy:.1%}",
        )
        for r in result["runs"]
    ]
    if "baseline" in result:  # the bar any head must clear: no network, every pixel the larger class
        rows.insert(0, (f"no network: every pixel a {result['baseline_class']}", "0", "—", f"{result['baseline']:.1%}"))
    note = f"<p>{html.escape(result['note'])}</p>" if result["note"] else ""
    return note + html_table(
        ["head", "parameters that learned", "pixels right on the fitted picture", "pixels right on a new picture"],
        rows,
        css="ul-head-experiment",
    )
