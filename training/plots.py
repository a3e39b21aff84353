"""The report's PNG plots (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from medcode.types import ICD10_SYSTEMS

if TYPE_CHECKING:
    from training.metrics import RunSummary


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_plot(runs: Sequence[RunSummary], path: Path) -> Path:
    """MAP, MAP@10 and P/R/F1 at 5 and 10, one panel per system, one bar per run."""
    plt = _pyplot()
    names = ["MAP", "MAP@10", "P@5", "R@5", "F1@5", "P@10", "R@10", "F1@10"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    for ax, system in zip(axes, ICD10_SYSTEMS, strict=True):
        width = 0.8 / max(len(runs), 1)
        for i, run in enumerate(runs):
            m = run.systems[system]
            values = [m.map, m.map_at_10, m.precision[5], m.recall[5], m.f1[5], m.precision[10], m.recall[10],
                      m.f1[10]]
            ax.bar(np.arange(len(names)) + i * width, values, width, label=run.label)
        ax.set_xticks(np.arange(len(names)) + width * (len(runs) - 1) / 2, names)
        ax.set_title(system)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def group_plot(runs: Sequence[RunSummary], system: str, path: Path, *, title: str) -> Path:
    """Recall at 10 per chapter / section (groups with gold codes), one bar per run."""
    plt = _pyplot()
    groups = sorted({g for r in runs for g, v in r.systems[system].by_group.items() if v[0]}, key=lambda g: (len(g), g))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.5 * len(groups) + 2), 4))
    width = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        by = run.systems[system].by_group
        values = [by[g][1] / by[g][0] if g in by and by[g][0] else 0.0 for g in groups]
        ax.bar(np.arange(len(groups)) + i * width, values, width, label=run.label)
    ax.set_xticks(np.arange(len(groups)) + width * (len(runs) - 1) / 2, groups, rotation=60, ha="right",
                  fontsize=7)
    ax.set_ylim(0, 1)
    ax.set_ylabel("recall@10")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
