"""Learning from coders: a site's accept / reject / add / modify decisions as training rows.

The serving API exports decisions as JSONL, one per line (the agreed seam):
`{"encounter_id", "note", "system", "code", "action", "replaces", "coder", "reason", "at", "suggested"}`.
Per encounter, the final coding is replayed in time order (accept / add: assigned; reject: not;
modify: `code` assigned, `replaces` not). The engine then ranks the note, and every candidate is
labelled by that final coding, as CodiEsp's gold labels its notes; the codes a coder decided on
weigh `decision_weight` times a CodiEsp row. Added codes the engine never proposed have no features
and are counted, not learnt.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, ValidationError

from codesets.types import normalize_code
from medcode.errors import ErrorCode, MedcodeError
from medcode.types import System
from training.reranker import Rows
from training.rows import as_rows, candidate_rows

if TYPE_CHECKING:
    from nlp.coder import Coder


class Suggested(BaseModel):
    """Where the engine had put the code when the coder decided."""

    rank: int
    score: float


class PayerDenial(BaseModel):
    """The payer's coding denial a decision answered (CARC, RARCs, reason, the codes it concerned)."""

    id: int
    carc: str
    rarcs: list[str] = []
    reason: str
    codes: list[str] = []


class Decision(BaseModel):
    """One coder decision on one code of one encounter's note."""

    encounter_id: str
    note: str
    system: System
    code: str
    action: Literal["accept", "reject", "add", "modify"]
    replaces: str | None = None
    coder: str
    reason: str | None = None
    at: datetime
    suggested: Suggested | None = None
    poa: str | None = None
    denial: PayerDenial | None = Field(default=None, description="The payer's coding denial this decision "
                                       "corrected; such corrections are labelled like any other decision.")


def read_decisions(path: Path) -> tuple[list[Decision], list[int]]:
    """The decisions in a JSONL file, and the numbers of the lines that were not valid decisions
    (skipped; never echoed, since a line holds note text)."""
    if not path.is_file():
        raise MedcodeError(ErrorCode.BAD_DECISIONS, path=path, detail="no such file")
    good: list[Decision] = []
    bad: list[int] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                good.append(Decision.model_validate(json.loads(line)))
            except (json.JSONDecodeError, ValidationError):
                bad.append(number)
    if not good:
        raise MedcodeError(ErrorCode.BAD_DECISIONS, path=path, detail="no valid decision line")
    return good, bad


def final_coding(decisions: list[Decision]) -> dict[tuple[System, str], bool]:
    """(system, code key) -> assigned, replaying one encounter's decisions in time order."""
    out: dict[tuple[System, str], bool] = {}
    for d in sorted(decisions, key=lambda d: d.at):
        key = (d.system, normalize_code(d.code))
        if d.action in ("accept", "add"):
            out[key] = True
        elif d.action == "reject":
            out[key] = False
        else:
            out[key] = True
            if d.replaces:
                out[(d.system, normalize_code(d.replaces))] = False
    return out


def decision_rows(coder: Coder, path: Path, *, weight: float) -> tuple[dict[str, Rows], str]:
    """Training rows from a decisions file (per system), and a one-line summary of what was used."""

    decisions, bad = read_decisions(path)
    by_encounter: dict[str, list[Decision]] = defaultdict(list)
    for d in decisions:
        by_encounter[d.encounter_id].append(d)
    encounters = sorted(by_encounter)
    texts = [max(by_encounter[e], key=lambda d: d.at).note for e in encounters]
    codings = [final_coding(by_encounter[e]) for e in encounters]
    seen: set[tuple[int, System, str]] = set()

    def labeler(k: int):
        def lab(g) -> float:
            seen.add((k, g.system, g.code))
            return float(codings[k].get((g.system, g.code), False))
        return lab

    def weigh(k: int, g) -> float:
        return weight if (g.system, g.code) in codings[k] else 1.0

    raw = candidate_rows(coder, texts, [labeler(k) for k in range(len(texts))], notes=list(range(len(texts))),
                         weigh=weigh, every_code=True)
    unseen = sum(1 for k, coding in enumerate(codings) for (s, c), yes in coding.items()
                 if yes and (k, s, c) not in seen)
    decided = sum(len(c) for c in codings)
    summary = (f"{len(encounters)} encounters, {decided} decided codes, {unseen} assigned codes not among the "
               f"candidates, {len(bad)} bad lines skipped")
    return as_rows(raw), summary
