"""`medcode eval codiesp --cv K`: K-fold cross-validation over CodiEsp train and dev together.

Each fold's notes are ranked with usage statistics, similar notes and a note classifier from the other
folds only (`tune.out_of_fold_rows`, as `medcode tune` builds train's rows), then scored by a ranker
fitted (trees early-stopped and calibrated within its own training rows) on the other folds' rows.
So every note is measured by models that never saw its codes, and all 750 coded notes serve both as
training and as test data: the figure for models shipped fitted on train and dev together.

Two approximations, both small and stated in the output: the other folds' rows were themselves built
with usage mined from folds that include the held one (a nested K-1 split would cost K times the
rows); and the held rows include the codes the engine leaves unranked (`worth_ranking`), at the
ranker's score, where `medcode eval` leaves them out.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console

from codesets.usage import mine
from codesets.words import CodeWords
from medcode.settings import Settings
from medcode.types import ICD10_SYSTEMS
from nlp.features import FEATURES
from nlp.ranker import Ranker
from training.metrics import Score, ranked_scores, score, truncation_rates
from training.reranker import Rows
from training.rows import discounted, oof_rows, read_split, relabel
from training.tune import fit_ranker


def cross_validate(settings: Settings, *, folds: int, console: Console | None = None,
                   train_limit: int | None = None, dev_limit: int | None = None) -> dict[str, Any]:
    """MAP per fold and pooled over every note of train and dev (the limits: their first notes only)."""
    from nlp.coder import Coder

    console = console or Console(stderr=True)
    # Trees and calibration are chosen within each fold's training rows: there is no dev to tune on.
    settings = settings.model_copy(update={"rerank": settings.rerank.model_copy(update={"tune_on": "train"})})
    train, dev = read_split(settings, "train")[:train_limit], read_split(settings, "dev")[:dev_limit]
    notes = train + dev
    coder = Coder.load(settings, ranker=Ranker.hand_set())  # features only: any ranker will do
    rows = oof_rows(coder, {"train": train, "dev": dev}, folds=folds, console=console)
    rows = relabel(rows, notes)
    pcs = coder.codesets.get("ICD-10-PCS")
    related = CodeWords(coder.codesets)
    aps: dict[str, list[tuple[float, int]]] = {s: [] for s in ICD10_SYSTEMS}
    per_fold: list[dict[str, Any]] = []
    for k in range(folds):
        held = [i for i in range(len(notes)) if i % folds == k]
        others = [notes[i] for i in range(len(notes)) if i % folds != k]
        rates = truncation_rates(mine(others, related=related, source=f"fold {k}"), pcs)
        fitted: dict[str, Rows] = {s: r.where(r.note % folds != k) for s, r in rows.items()}
        ranker, _, _ = fit_ranker(fitted, {}, settings, console=console)
        fold: dict[str, Any] = {"fold": k + 1, "notes": len(held)}
        for system in ICD10_SYSTEMS:
            if system not in rows:
                continue
            mine_rows = rows[system].where(rows[system].note % folds == k)
            raw = np.asarray(ranker.score(system, [dict(zip(FEATURES, r, strict=True)) for r in mine_rows.x]))
            final = np.asarray(ranker.calibrate(system, list(discounted(
                raw, mine_rows, system, settings.ranking.sibling_discount.get(system, 1.0)))))
            rankings = ranked_scores(len(notes), mine_rows.note, mine_rows.code, final, system)
            result: Score = score([notes[i] for i in held], [rankings[i] for i in held], system, rates.get(system))
            aps[system].append((result.map, result.documents))
            fold[system] = round(result.map, 4)
        per_fold.append(fold)
        console.print(f"fold {k + 1}/{folds}: MAP D {fold.get('ICD-10-CM', 0):.4f} P {fold.get('ICD-10-PCS', 0):.4f}")

    def pooled(system: str) -> float:
        docs = sum(n for _, n in aps[system])
        return round(sum(m * n for m, n in aps[system]) / docs, 4) if docs else 0.0

    return {"cv": folds, "notes": len(notes), "data": f"CodiEsp train ({len(train)}) + dev ({len(dev)})",
            "map_diagnoses": pooled("ICD-10-CM"), "map_procedures": pooled("ICD-10-PCS"),
            "documents": {"diagnoses": sum(n for _, n in aps["ICD-10-CM"]),
                          "procedures": sum(n for _, n in aps["ICD-10-PCS"])},
            "folds": per_fold,
            "approximations": "other folds' rows built with usage that saw the held fold; held rows include "
                              "the codes the engine leaves unranked"}
