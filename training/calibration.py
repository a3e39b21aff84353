"""Calibration: turn ranker scores into the probability that a coder accepts the code.

Fitted (isotonic or Platt) on CodiEsp train's out-of-fold scores, or on dev with `rerank.tune_on =
"dev"`, stored as a monotone piecewise-linear map that the engine applies with `np.interp`
(`nlp.ranker.Ranker.calibrate`). The expected calibration error is never measured on the rows the
map was fitted on: on dev for a map fitted on train; cross-fitted (`fit_and_measure`: fit on one half
of dev's notes, measured on the other, and the reverse) for a map fitted on dev.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

#: Isotonic regression is flat between its steps; this share of a strictly increasing curve keeps
#: distinct scores distinct, so calibration never ties codes that the ranker had ordered.
TIE_BREAK = 1e-3
#: The most points a stored map keeps (isotonic fits on 100k rows have thousands of steps).
MAX_POINTS = 400


@dataclass(frozen=True)
class Calibration:
    """A monotone map score -> P(accept): `x` increasing, `y` non-decreasing, clipped at both ends."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    method: str

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(scores, dtype=np.float64), self.x, self.y)

    def as_dict(self) -> dict[str, object]:
        return {"method": self.method, "x": list(self.x), "y": list(self.y)}


def fit(scores: np.ndarray, labels: np.ndarray, *, method: Literal["isotonic", "platt"] = "isotonic") -> Calibration:
    """The calibration map of `scores` (in [0, 1]) to the observed acceptance `labels`."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(s) == 0 or y.min() == y.max():
        raise ValueError("calibration needs both accepted and rejected codes")
    grid = np.unique(np.concatenate([np.quantile(s, np.linspace(0, 1, MAX_POINTS)), [0.0, 1.0]]))
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        logit = _logit(s)[:, None]
        model = LogisticRegression(C=1e6).fit(logit, y)
        curve = model.predict_proba(_logit(grid)[:, None])[:, 1]
    else:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)
        curve = (1 - TIE_BREAK) * iso.predict(grid) + TIE_BREAK * grid
    return Calibration(tuple(float(v) for v in grid), tuple(float(v) for v in np.maximum.accumulate(curve)), method)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def ece(probabilities: np.ndarray, labels: np.ndarray, *, bins: int = 15) -> float:
    """Expected calibration error: the row-weighted mean |accepted share - mean probability| over equal-width bins."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(p) == 0:
        return 0.0
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / len(p))


@dataclass(frozen=True)
class CalibrationReport:
    """The shipped map (fitted on all of dev) and its honest, cross-fitted error."""

    calibration: Calibration
    ece_crossfit: float
    ece_raw: float
    rows: int
    positives: int


def fit_and_measure(scores: np.ndarray, labels: np.ndarray, notes: np.ndarray, *, method: Literal["isotonic", "platt"],
                    bins: int = 15) -> tuple[CalibrationReport, np.ndarray]:
    """Fit on all rows; measure ECE cross-fitted over two halves of the notes. Also returns the
    cross-fitted probabilities (for the reliability plot)."""
    s, y, n = (np.asarray(a) for a in (scores, labels, notes))
    half = _note_halves(n)
    crossed = np.zeros_like(s, dtype=np.float64)
    for side in (0, 1):
        train, test = half != side, half == side
        crossed[test] = fit(s[train], y[train], method=method)(s[test])
    report = CalibrationReport(fit(s, y, method=method), ece(crossed, y, bins=bins), ece(s, y, bins=bins),
                               len(y), int(y.sum()))
    return report, crossed


def _note_halves(notes: np.ndarray) -> np.ndarray:
    """0 or 1 per row: alternate notes, in order of first appearance, so a note's rows stay together."""
    _, first = np.unique(notes, return_inverse=True)
    return (first % 2).astype(int)


def reliability_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, *, bins: int = 15,
                     title: str = "Reliability on CodiEsp dev") -> Path:
    """A reliability diagram (accepted share against predicted probability per bin), one curve per name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for name, (p, y) in curves.items():
        which = np.minimum((np.asarray(p) * bins).astype(int), bins - 1)
        xs, ys, ns = [], [], []
        for b in range(bins):
            mask = which == b
            if mask.any():
                xs.append(float(np.mean(p[mask])))
                ys.append(float(np.mean(y[mask])))
                ns.append(int(mask.sum()))
        ax.plot(xs, ys, marker="o", label=f"{name} (ECE {ece(p, y, bins=bins):.3f})")
    ax.set_xlabel("predicted probability that a coder accepts")
    ax.set_ylabel("share accepted (CodiEsp dev gold)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
