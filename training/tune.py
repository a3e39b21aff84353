"""Fit the ranker's weights on CodiEsp train, out of fold.

Usage rules mined from a note's own codes would make every feature look perfect, so train is cut
into folds: each fold is ranked with usage mined from the other folds, and one logistic regression
is fitted on all the out-of-fold candidates (label: a coder assigned the code). Dev stays unseen.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console

from codesets.index import code_terms
from codesets.lexicon import Lexicon
from codesets.usage import CodedNote, mine, read_codiesp
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from nlp.ranking import FEATURES, CodeCandidates, Ranker
from nlp.resolve import Resolver
from training.evaluate import codiesp_form

if TYPE_CHECKING:
    from nlp.coder import Coder


def label(g: CodeCandidates, note: CodedNote) -> float:
    """1.0 when coders gave the note this code (a PCS code also counts through its 4-character prefix)."""
    gold = {codiesp_form(s, c) for s, c in note.codes if s == g.system}
    form = codiesp_form(g.system, g.code)
    return float(form in gold or (g.system == "ICD-10-PCS" and form[:4] in gold))


def out_of_fold_rows(coder: Coder, notes: list[CodedNote], *, folds: int,
                     console: Console) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and labels of every candidate of every note, each fold ranked without its own codes."""
    base_terms = [t for cs in coder.codesets.values() for t in code_terms(cs)]
    finder = coder.nlp.get_pipe("medcode_mentions")
    full = (finder.lexicon, coder.index.usage, coder.resolver)
    xs: list[list[float]] = []
    ys: list[float] = []
    try:
        for k in range(folds):
            held = [n for i, n in enumerate(notes) if i % folds == k]
            usage = mine([n for i, n in enumerate(notes) if i % folds != k], source=f"fold {k}")
            finder.lexicon = Lexicon([*base_terms, *usage.rules])
            coder.index.usage = usage
            coder.resolver = Resolver(coder.codesets, usage)
            for i in range(0, len(held), 32):
                batch = held[i : i + 32]
                for note, groups in zip(batch, coder.rank([n.text for n in batch]), strict=True):
                    for g in groups:
                        xs.append([g.features[f] for f in FEATURES])
                        ys.append(label(g, note))
            console.print(f"fold {k + 1}/{folds}: {len(ys)} candidates so far")
    finally:
        finder.lexicon, coder.index.usage, coder.resolver = full
    return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-3, steps: int = 200) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression (Newton's method)."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2 * n)
    reg[-1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def tune_ranker(settings: Settings, *, folds: int = 5, console: Console | None = None) -> Path:
    """Fit and save the ranker to `data_dir/models/ranker.json`; returns its path."""
    from nlp.coder import Coder

    console = console or Console(stderr=True)
    train = settings.corpus_dir / "train"
    if not train.exists():
        raise MedcodeError(ErrorCode.CORPUS_MISSING, path=train)
    notes = read_codiesp(train, split="train")
    coder = Coder.load(settings)
    x, y = out_of_fold_rows(coder, notes, folds=folds, console=console)
    w, b = fit_logistic(x, y)
    ranker = Ranker(dict(zip(FEATURES, (round(float(v), 4) for v in w), strict=True)), round(b, 4))
    out = settings.data_dir / "models" / "ranker.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    ranker.save(out, card={
        "trained": datetime.now(UTC).isoformat(timespec="seconds"), "data": f"CodiEsp train, {folds}-fold",
        "candidates": int(len(y)), "positives": int(y.sum()), "index": coder.index.manifest.get("codesets"),
    })
    console.print(json.dumps({"bias": ranker.bias, **ranker.weights}))
    return out
