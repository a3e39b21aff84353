"""Benchmark of the coding step on the guideline notes (tests/coding/notes): `python -m benchmarks.coding`.

Runs the full engine (MEDCODE_DATA_DIR's index) on each note, then `coding.propose`, and prints: the share of
expected codes in the coding, excluded codes present (target 0), the principal diagnosis right on inpatient
notes (and first-listed on outpatient ones), POA agreement, Excludes1 pairs in any coding (target 0), and the
coding step's milliseconds per note (ranking excluded; target <= 10 ms), and how many of the codings' claim
exports (FHIR Claim, HL7 DFT^P03, X12 HI) pass their validators (`benchmarks.claim_exports`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from codesets.registry import load_codeset
from codesets.types import normalize_code
from coding import Coding, CodingContext, propose
from medcode.settings import get_settings
from medcode.types import System
from validation.edits import check_excludes1

NOTES = Path(__file__).resolve().parent.parent / "tests" / "coding" / "notes"


class CodeExpectation(BaseModel):
    """A code a certified coder would (or would not) bill, and the guideline section that says so."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    system: System = "ICD-10-CM"
    section: str
    poa: str | None = None


class GuidelineNote(BaseModel):
    """One hand-written note and the coding the Official Guidelines give for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    encounter: CodingContext
    text: str
    expected: list[CodeExpectation]
    excluded: list[CodeExpectation]
    principal: str


def load_notes(folder: Path = NOTES) -> dict[str, GuidelineNote]:
    """The guideline notes by file stem."""
    return {p.stem: GuidelineNote.model_validate_json(p.read_text(encoding="utf-8"))
            for p in sorted(folder.glob("*.json"))}


@dataclass
class Score:
    """How codings compare with the notes' expectations."""

    expected: int = 0
    found: int = 0
    excluded_present: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    inpatient: int = 0
    principal_right: int = 0
    outpatient: int = 0
    first_listed_right: int = 0
    poa_checked: int = 0
    poa_right: int = 0
    excludes1_pairs: list[str] = field(default_factory=list)
    wrong_principal: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return self.found / self.expected if self.expected else 1.0

    def lines(self) -> list[str]:
        def pct(a: int, b: int) -> str:
            return f"{a}/{b} ({a / b:.0%})" if b else "n/a"

        return [
            f"expected codes in coding    {pct(self.found, self.expected)}",
            f"excluded codes present      {len(self.excluded_present)}" +
            (f"  {', '.join(self.excluded_present)}" if self.excluded_present else ""),
            f"principal right, inpatient  {pct(self.principal_right, self.inpatient)}",
            f"first-listed right, outpat. {pct(self.first_listed_right, self.outpatient)}",
            f"POA as expected             {pct(self.poa_right, self.poa_checked)}",
            f"Excludes1 pairs in codings  {len(self.excludes1_pairs)}" +
            (f"  {', '.join(self.excludes1_pairs)}" if self.excludes1_pairs else ""),
        ]


def score(notes: dict[str, GuidelineNote], codings: dict[str, Coding]) -> Score:
    """Compare each coding with its note's expectations."""
    cm = load_codeset("ICD-10-CM")
    s = Score()
    for name, note in notes.items():
        coding = codings[name]
        coded = {(d.code, "ICD-10-CM") for d in coding.diagnoses} | {(p.code, p.system) for p in coding.procedures}
        poa = {d.code: d.poa for d in coding.diagnoses}
        for e in note.expected:
            s.expected += 1
            if (e.code, e.system) in coded:
                s.found += 1
                if e.poa and note.encounter.setting == "inpatient":
                    s.poa_checked += 1
                    s.poa_right += poa.get(e.code) == e.poa
            else:
                s.missing.append(f"{name}: {e.code}")
        s.excluded_present += [f"{name}: {e.code}" for e in note.excluded if (e.code, e.system) in coded]
        first = coding.diagnoses[0].code if coding.diagnoses else None
        if note.encounter.setting == "inpatient":
            s.inpatient += 1
            s.principal_right += first == note.principal
        else:
            s.outpatient += 1
            s.first_listed_right += first == note.principal
        if first != note.principal:
            s.wrong_principal.append(f"{name}: {first} for {note.principal}")
        keys = [normalize_code(d.code) for d in coding.diagnoses]
        s.excludes1_pairs += [f"{name}: {'+'.join(f.codes)}" for f in check_excludes1(keys, cm)]
    return s


def run(notes: dict[str, GuidelineNote], coder: object, repeat: int = 5) -> tuple[dict[str, Coding], list[float]]:
    """Rank every note once, then time the coding step alone (best of `repeat` runs per note, in ms)."""
    top = get_settings().coding.top
    texts = [n.text for n in notes.values()]
    ranked = coder.suggest_many(texts, top=top, negated="flag")  # type: ignore[attr-defined]
    codings: dict[str, Coding] = {}
    times: list[float] = []
    for (name, note), suggestions in zip(notes.items(), ranked, strict=True):
        best = float("inf")
        for _ in range(repeat):
            started = time.perf_counter()
            codings[name] = propose(note.text, suggestions, note.encounter)
            best = min(best, (time.perf_counter() - started) * 1000)
        times.append(best)
    return codings, times


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.coding", description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=Path, default=NOTES, help="Folder of guideline notes (*.json).")
    parser.add_argument("--verbose", action="store_true", help="List missing codes and wrong principals.")
    parser.add_argument("--json", type=Path, help="Also write the codings here, one object per note.")
    args = parser.parse_args(argv)

    from benchmarks.claim_exports import export_failures
    from nlp.coder import Coder

    notes = load_notes(args.notes)
    coder = Coder.load()
    propose(next(iter(notes.values())).text, [], CodingContext())  # rule data and code sets, loaded once
    codings, times = run(notes, coder)
    s = score(notes, codings)
    print(f"coding benchmark: {len(notes)} guideline notes ({s.inpatient} inpatient, {s.outpatient} outpatient)")
    for line in s.lines():
        print("  " + line)
    checked, failures = export_failures(codings, {name: n.encounter for name, n in notes.items()})
    print(f"  claim exports valid         {checked - len(failures)}/{checked} (FHIR Claim, HL7 DFT^P03, X12 HI)")
    print(f"  coding step ms per note     median {statistics.median(times):.1f}, mean {statistics.mean(times):.1f}, "
          f"max {max(times):.1f} (ranking excluded)")
    if args.verbose:
        for line in failures:
            print("  export    " + line)
        for line in s.missing:
            print("  missing   " + line)
        for line in s.wrong_principal:
            print("  principal " + line)
    if args.json:
        args.json.write_text(json.dumps({k: c.model_dump(mode="json") for k, c in codings.items()}, indent=1))


if __name__ == "__main__":
    main()
