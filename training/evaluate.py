"""CodiEsp evaluation: mean average precision of the ranked codes, diagnoses and procedures apart.

CodiEsp's definition: per document, the precision at each rank that holds a gold code, summed and
divided by the number of gold codes; then the mean over documents that have gold codes. A gold
procedure of 4 characters matches that prefix, so each predicted PCS code also enters the ranking
as its 4-character prefix, as CodiEsp's coders wrote them: before the full code where, in the
coded corpus, coders mostly wrote that prefix alone (BW20, CT of the abdomen), after it otherwise.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from codesets.types import normalize_code
from codesets.usage import PCS_PREFIX, CodedNote, Usage
from medcode.types import System
from nlp.ranking import CodeCandidates


def codiesp_form(system: System, code: str) -> str:
    """A code as CodiEsp writes it: lower case, CM with its dot (`r50.9`), PCS bare."""
    key = normalize_code(code).lower()
    return f"{key[:3]}.{key[3:]}" if system == "ICD-10-CM" and len(key) > 3 else key


def truncation_rates(usage: Usage) -> dict[str, float]:
    """For each PCS 4-character prefix, the share of its codings that coders wrote as the prefix alone."""
    short: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for (system, code), n in usage.counts.items():
        if system == "ICD-10-PCS":
            total[code[:PCS_PREFIX]] += n
            if len(code) <= PCS_PREFIX:
                short[code[:PCS_PREFIX]] += n
    return {p: short[p] / total[p] for p in total}


def ranked_codes(groups: Iterable[CodeCandidates], system: System,
                 truncation: Mapping[str, float] | None = None) -> list[str]:
    """The ranked CodiEsp-form codes of one system. Each PCS code brings its 4-character prefix
    too: before the full code where coders mostly wrote that prefix alone (`truncation`), else after."""
    out: list[str] = []
    seen: set[str] = set()
    rates = truncation or {}
    for g in groups:
        if g.system != system:
            continue
        forms = [codiesp_form(system, g.code)]
        if system == "ICD-10-PCS":
            prefix = forms[0][:PCS_PREFIX]
            forms = [prefix, forms[0]] if rates.get(prefix.upper(), 0.0) > 0.5 else [forms[0], prefix]
        for f in forms:
            if f not in seen:
                seen.add(f)
                out.append(f)
    return out


def average_precision(ranked: Sequence[str], gold: set[str]) -> float:
    """Sum of precision at each rank holding a gold code, over the number of gold codes."""
    if not gold:
        return 0.0
    hits, total = 0, 0.0
    for i, code in enumerate(ranked, start=1):
        if code in gold:
            hits += 1
            total += hits / i
    return total / len(gold)


@dataclass(frozen=True)
class Score:
    """MAP of one system over the documents that have gold codes of it."""

    system: System
    map: float
    documents: int


def score(notes: Sequence[CodedNote], rankings: Sequence[list[CodeCandidates]], system: System,
          truncation: Mapping[str, float] | None = None) -> Score:
    """MAP for `system` of `rankings`, one per note, against the notes' gold codes."""
    aps = []
    for note, groups in zip(notes, rankings, strict=True):
        gold = {codiesp_form(s, c) for s, c in note.codes if s == system}
        if gold:
            aps.append(average_precision(ranked_codes(groups, system, truncation), gold))
    return Score(system, sum(aps) / len(aps) if aps else 0.0, len(aps))


@dataclass(frozen=True)
class Report:
    """What `medcode eval codiesp` prints."""

    split: str
    notes: int
    diagnoses: Score
    procedures: Score
    seconds: float


def evaluate(coder: object, notes: Sequence[CodedNote], *, split: str, batch: int = 32) -> Report:
    """Run the engine over `notes` and score it; `coder` is an `nlp.coder.Coder`."""
    start = time.perf_counter()
    rankings: list[list[CodeCandidates]] = []
    for i in range(0, len(notes), batch):
        rankings.extend(coder.rank([n.text for n in notes[i : i + batch]]))  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    rates = truncation_rates(coder.index.usage)  # type: ignore[attr-defined]
    return Report(split, len(notes), score(notes, rankings, "ICD-10-CM"),
                  score(notes, rankings, "ICD-10-PCS", rates), elapsed)
