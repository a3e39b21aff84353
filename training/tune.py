"""Fit the ranker's weights on CodiEsp train, out of fold.

Usage rules mined from a note's own codes would make every feature look perfect, so train is cut
into folds: each fold is ranked with usage and similar notes from the other folds only, and one
gradient-boosted tree model per system is fitted on all the out-of-fold candidates (label: a coder
assigned the code). Dev stays unseen.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console

from codesets.index import code_terms
from codesets.lexicon import Lexicon
from codesets.usage import PCS_PREFIX, CodedNote, mine, read_codiesp
from codesets.words import CodeWords
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
    return float(form in gold or (g.system == "ICD-10-PCS" and form[:PCS_PREFIX] in gold))


def out_of_fold_rows(coder: Coder, notes: list[CodedNote], *, folds: int,
                     console: Console) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per system, feature rows and labels of every candidate of every note, each fold ranked
    with usage and similar notes taken from the other folds only."""
    base_terms = [t for cs in coder.codesets.values() for t in code_terms(cs)]
    related = CodeWords(coder.codesets)
    finder = coder.nlp.get_pipe("medcode_mentions")
    full = (finder.lexicon, coder.index.usage, coder.resolver, coder.index.neighbors)
    if len(full[3]) != len(notes):
        raise MedcodeError(ErrorCode.INDEX_STALE, path=coder.index.path)
    xs: dict[str, list[list[float]]] = defaultdict(list)
    ys: dict[str, list[float]] = defaultdict(list)
    try:
        for k in range(folds):
            held = [n for i, n in enumerate(notes) if i % folds == k]
            rest = [i for i in range(len(notes)) if i % folds != k]
            usage = mine([notes[i] for i in rest], related=related, source=f"fold {k}")
            finder.lexicon = Lexicon([*base_terms, *usage.rules])
            coder.index.usage = usage
            coder.index.neighbors = full[3].subset(rest)
            coder.resolver = Resolver(coder.codesets, usage)
            for i in range(0, len(held), 32):
                batch = held[i : i + 32]
                for note, groups in zip(batch, coder.rank([n.text for n in batch]), strict=True):
                    for g in groups:
                        xs[g.system].append([g.features[f] for f in FEATURES])
                        ys[g.system].append(label(g, note))
            console.print(f"fold {k + 1}/{folds}: {sum(map(len, ys.values()))} candidates so far")
    finally:
        finder.lexicon, coder.index.usage, coder.resolver, coder.index.neighbors = full
    return {s: (np.asarray(xs[s], dtype=np.float64), np.asarray(ys[s], dtype=np.float64)) for s in xs}


#: LightGBM settings: small trees, fixed seed and threads, so a refit gives the same model.
BOOSTER_PARAMS = {"objective": "binary", "n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31,
                  "min_child_samples": 20, "subsample": 1.0, "colsample_bytree": 1.0, "random_state": 0,
                  "deterministic": True, "force_row_wise": True, "n_jobs": 2, "verbose": -1}


def fit_booster(x: np.ndarray, y: np.ndarray) -> Any:
    """A LightGBM binary classifier of 'a coder assigns this code', returned as its Booster."""
    import lightgbm as lgb

    model = lgb.LGBMClassifier(**BOOSTER_PARAMS)
    model.fit(x, y)
    return model.booster_


def tune_ranker(settings: Settings, *, folds: int = 5, console: Console | None = None) -> Path:
    """Fit and save the ranker to `data_dir/models/ranker/`; returns the folder."""
    from nlp.coder import Coder

    console = console or Console(stderr=True)
    train = settings.corpus_dir / "train"
    if not train.exists():
        raise MedcodeError(ErrorCode.CORPUS_MISSING, path=train)
    notes = read_codiesp(train, split="train")
    coder = Coder.load(settings, ranker_path=Ranker.shipped())  # features only: any ranker will do
    rows = out_of_fold_rows(coder, notes, folds=folds, console=console)
    boosters = {system: fit_booster(x, y) for system, (x, y) in sorted(rows.items())
                if system in ("ICD-10-CM", "ICD-10-PCS") and y.sum() > 0}
    shipped = Ranker.load()
    ranker = Ranker(boosters, fallback=shipped.fallback, fallback_bias=shipped.fallback_bias)
    out = settings.data_dir / "models" / "ranker"
    ranker.save(out, trained=datetime.now(UTC).isoformat(timespec="seconds"),
                data=f"CodiEsp train, {len(notes)} notes, {folds}-fold out-of-fold candidates",
                candidates={s: int(len(y)) for s, (_, y) in rows.items()},
                positives={s: int(y.sum()) for s, (_, y) in rows.items()},
                params=BOOSTER_PARAMS, index=coder.index.manifest.get("codesets"))
    return out
