"""The coding being built: the coding step's proposal with the coder's decisions replayed onto it.

The proposal (principal diagnosis, secondaries and procedures in sequence, POA) is stored with the
encounter when the note is coded; every choice of the coder is an append-only decision. Replaying them
in order gives the working coding: accept confirms a code (or brings in a suggestion from outside the
proposal), reject removes it, add appends, modify replaces a code in its place (keeping its sequence
and POA), principal moves a diagnosis to the top, sequence moves a code, poa sets the indicator.
Validation and the MS-DRG then run on that coding (its first diagnosis is the principal), never
between candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import validation
from codesets.registry import load_codeset
from codesets.types import normalize_code
from coding.types import Coding
from medcode.types import ICD10_SYSTEMS, Evidence, Suggestion
from serving.schemas import (
    Alternative,
    AlternativeGroup,
    EncounterMeta,
    FinalCode,
    WorkingCode,
    WorkingCoding,
)
from serving.store.models import Decision, Encounter
from validation.types import CodedDiagnosis, CodedProcedure, DrgImpact, DrgResult, Finding
from validation.types import Encounter as Claim

#: Assertions whose codes are shown dimmed in the note and never offered as alternatives.
NOT_PATIENT = frozenset({"negated", "family"})
FINAL_SOURCE = {"proposed": "accepted", "suggested": "accepted", "added": "added", "modified": "modified"}


def key_of(system: str, code: str) -> tuple[str, str]:
    return system, normalize_code(code)


@dataclass
class Entry:
    """One code of the working coding while decisions replay."""

    code: str
    system: str
    description: str
    source: str  # proposed | suggested | added | modified
    confirmed: bool = False
    poa: str | None = None
    replaces: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    rules: list[Any] = field(default_factory=list)
    score: float | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return key_of(self.system, self.code)


@dataclass
class Replayed:
    """The working coding's lists, and the codes decisions took out of it."""

    diagnoses: list[Entry]
    procedures: list[Entry]
    rejected: set[tuple[str, str]]
    replaced: set[tuple[str, str]]

    def list_for(self, system: str) -> list[Entry]:
        return self.diagnoses if system == "ICD-10-CM" else self.procedures

    def find(self, system: str, code: str) -> tuple[list[Entry], int]:
        """The list a code belongs in and its index there (-1 when absent)."""
        entries = self.list_for(system)
        wanted = key_of(system, code)
        return entries, next((i for i, e in enumerate(entries) if e.key == wanted), -1)


def proposal(row: Encounter) -> Coding | None:
    return Coding.model_validate(row.coding) if row.coding else None


def suggestions_of(row: Encounter) -> list[Suggestion]:
    return [Suggestion.model_validate(s) for s in row.suggestions]


def _description(system: str, code: str) -> str:
    if system in ICD10_SYSTEMS:
        record = load_codeset(system).get(code)
        return record.description if record else ""
    return ""


def _entry(system: str, code: str, source: str, by_key: dict[tuple[str, str], Suggestion]) -> Entry:
    s = by_key.get(key_of(system, code))
    if s is None:
        return Entry(code=code, system=system, description=_description(system, code), source=source)
    return Entry(code=s.code, system=s.system, description=s.description, source=source,
                 evidence=list(s.evidence), score=s.score)


def replay(row: Encounter, decisions: list[Decision] | None = None) -> Replayed:
    """The proposal with `decisions` (default: all of the encounter's) applied in order."""
    coding = proposal(row)
    by_key = {key_of(s.system, s.code): s for s in suggestions_of(row)}
    state = Replayed([], [], set(), set())
    if coding is not None:
        for d in sorted(coding.diagnoses, key=lambda d: d.sequence):
            state.diagnoses.append(Entry(code=d.code, system="ICD-10-CM", description=d.description,
                                         source="proposed", poa=d.poa, evidence=list(d.evidence),
                                         rules=list(d.rules), score=d.score))
        for p in sorted(coding.procedures, key=lambda p: p.sequence):
            state.procedures.append(Entry(code=p.code, system=p.system, description=p.description,
                                          source="proposed", evidence=list(p.evidence), rules=list(p.rules),
                                          score=p.score))
    for d in decisions if decisions is not None else row.decisions:
        _apply(state, d, by_key)
    return state


def _apply(state: Replayed, d: Decision, by_key: dict[tuple[str, str], Suggestion]) -> None:
    entries, at = state.find(d.system, d.code)
    key = key_of(d.system, d.code)
    if d.action == "reject":
        if at >= 0:
            entries.pop(at)
        state.rejected.add(key)
        return
    if d.action in ("accept", "add", "principal"):
        if at < 0:
            entries.append(_entry(d.system, d.code, "suggested" if d.action != "add" else "added", by_key))
            at = len(entries) - 1
        entry = entries[at]
        entry.confirmed, entry.decided_by, entry.decided_at = True, d.coder, d.at
        state.rejected.discard(key)
        if d.action == "principal":
            entries.insert(0, entries.pop(at))
        return
    if d.action == "modify" and d.replaces:
        old_entries, old_at = state.find(d.system, d.replaces)
        new = _entry(d.system, d.code, "modified", by_key)
        new = replace(new, confirmed=True, replaces=d.replaces, decided_by=d.coder, decided_at=d.at)
        if at >= 0:  # the new code was in the coding already: one row of it, in the old code's place
            entries.pop(at)
            old_entries, old_at = state.find(d.system, d.replaces)
        if old_at >= 0:
            new.poa = old_entries[old_at].poa
            old_entries[old_at] = new
        else:
            entries.append(new)
        state.replaced.add(key_of(d.system, d.replaces))
        state.rejected.discard(key)
        return
    if at < 0:
        return  # sequence / poa of a code no longer in the coding: nothing to move or mark
    if d.action == "sequence" and d.value:
        entries.insert(min(int(d.value), len(entries)) - 1, entries.pop(at))
    elif d.action == "poa":
        entries[at].poa = d.value


def is_noop(state: Replayed, action: str, system: str, code: str, *, position: int | None = None,
            poa: str | None = None) -> bool:
    """Whether a decision would change nothing (a second accept, a double click): it is then not stored."""
    entries, at = state.find(system, code)
    entry = entries[at] if at >= 0 else None
    if action in ("accept", "add"):
        return entry is not None and entry.confirmed
    if action == "reject":
        return entry is None and key_of(system, code) in state.rejected
    if action == "principal":
        return at == 0 and entry is not None and entry.confirmed
    if action == "sequence":
        return position is not None and at == min(position, len(entries)) - 1
    if action == "poa":
        return entry is not None and entry.poa == poa
    return False


def final_codes(state: Replayed) -> list[FinalCode]:
    """The confirmed codes in claim order; the first confirmed diagnosis (and procedure) is the claim's principal."""
    out: list[FinalCode] = []
    for entries in (state.diagnoses, state.procedures):
        confirmed = [e for e in entries if e.confirmed]
        for n, e in enumerate(confirmed, start=1):
            out.append(FinalCode(code=e.code, system=e.system, description=e.description, sequence=n,
                                 principal=n == 1, poa=e.poa if e.system == "ICD-10-CM" else None,
                                 source=FINAL_SOURCE[e.source], replaces=e.replaces,  # type: ignore[arg-type]
                                 decided_by=e.decided_by or "", decided_at=e.decided_at or datetime.min))
    return out


@dataclass
class Checked:
    """The working coding as the API shows it, with validation's findings, its DRG and what changes would do."""

    coding: WorkingCoding
    findings: list[Finding]
    drg: DrgResult | None
    drg_impact: list[DrgImpact]


def setting_of(row: Encounter) -> str:
    coding = proposal(row)
    return row.setting or (coding.context.setting if coding else "outpatient")


def claim_of(meta: EncounterMeta, setting: str, diagnoses: list[Entry], procedures: list[Entry]) -> Claim:
    """The validation encounter of a coding: its first diagnosis is the principal (first-listed)."""
    return Claim(setting=setting, date_of_service=meta.date_of_service, patient=meta.patient,  # type: ignore[arg-type]
                 diagnoses=[CodedDiagnosis(code=e.code, principal=i == 0, poa=e.poa)
                            for i, e in enumerate(diagnoses)],
                 procedures=[CodedProcedure(code=e.code, date=meta.date_of_service) for e in procedures
                             if e.system == "ICD-10-PCS"])


def check(row: Encounter, meta: EncounterMeta, state: Replayed | None = None) -> Checked:
    """Validate and group the working coding; for inpatients, the DRG after each change the coder may make."""
    state = state or replay(row)
    setting = setting_of(row)
    dx = [e for e in state.diagnoses if e.system == "ICD-10-CM"]
    claim = claim_of(meta, setting, dx, state.procedures)
    findings = validation.validate(claim) if claim.diagnoses or claim.procedures else []
    drg = validation.group(claim) if setting == "inpatient" else None
    in_coding = {e.key for e in [*state.diagnoses, *state.procedures]}
    candidates = [s for s in suggestions_of(row) if key_of(s.system, s.code) not in in_coding | state.replaced
                  and s.assertion not in NOT_PATIENT]
    added = validation.drg_impact(claim, candidates) if drg is not None else []
    impacts = _change_impacts(meta, setting, state, drg) if drg is not None else {}
    coding = proposal(row)
    dropped = {key_of(d.system, d.code): d for d in coding.dropped} if coding else {}
    by_code = {(i.system, normalize_code(i.code)): i for i in added}
    groups: dict[tuple[str, str], list[Alternative]] = {}
    for s in candidates:
        k = key_of(s.system, s.code)
        groups.setdefault((s.system, _concept(s.code)), []).append(Alternative(
            suggestion=s, dropped=dropped.get(k), rejected=k in state.rejected, impact=by_code.get(k)))
    cc = drg.cc_mcc if drg else {}
    working = WorkingCoding(
        diagnoses=[_public(e, i, setting, cc.get(e.code) if i else None, impacts.get(e.key, {}))
                   for i, e in enumerate(state.diagnoses)],
        procedures=[_public(e, i, setting, None, impacts.get(e.key, {})) for i, e in enumerate(state.procedures)],
        alternatives=[AlternativeGroup(concept=concept, title=_title(system, concept, alts), system=system,  # type: ignore[arg-type]
                                       coded=[e.code for e in state.list_for(system)
                                              if _concept(e.code) == concept],
                                       alternatives=alts)
                      for (system, concept), alts in groups.items()])
    return Checked(coding=working, findings=findings, drg=drg, drg_impact=added)


def _public(e: Entry, i: int, setting: str, severity: str | None, impact: dict[str, DrgImpact]) -> WorkingCode:
    return WorkingCode(code=e.code, system=e.system, description=e.description, sequence=i + 1,  # type: ignore[arg-type]
                       principal=i == 0, poa=e.poa if setting == "inpatient" and e.system == "ICD-10-CM" else None,  # type: ignore[arg-type]
                       status="confirmed" if e.confirmed else "proposed",
                       source="added" if e.source == "added" else "modified" if e.source == "modified" else "proposed",
                       replaces=e.replaces, severity=severity, evidence=e.evidence, rules=e.rules,  # type: ignore[arg-type]
                       score=e.score, if_principal=impact.get("as principal"), if_removed=impact.get("removed"))


def _concept(code: str) -> str:
    """What codes compete for: the ICD-10-CM category, the ICD-10-PCS section, body system and root operation."""
    return normalize_code(code)[:3]


def _title(system: str, concept: str, alternatives: list[Alternative]) -> str:
    record = load_codeset(system).get(concept) if system in ICD10_SYSTEMS else None
    if record is not None:
        return record.description
    first = load_codeset(system).get(alternatives[0].suggestion.code) if system == "ICD-10-PCS" else None
    axes = dict(first.axes) if first is not None else {}
    named = [axes.get(a) for a in ("Body System", "Operation") if axes.get(a)]
    return " — ".join(named) if named else alternatives[0].suggestion.description


def _change_impacts(meta: EncounterMeta, setting: str, state: Replayed,
                    before: DrgResult) -> dict[tuple[str, str], dict[str, DrgImpact]]:
    """For each code of the coding: the DRG without it, and (secondary diagnoses) with it as principal."""
    out: dict[tuple[str, str], dict[str, DrgImpact]] = {}
    dx, px = state.diagnoses, state.procedures
    for i, e in enumerate(dx):
        if i == 0:
            continue
        moved = [e, *dx[:i], *dx[i + 1:]]
        out[e.key] = {how: _impact(e, before, validation.group(claim_of(meta, setting, codes, px)), how)
                      for how, codes in (("as principal", moved), ("removed", dx[:i] + dx[i + 1:]))}
    for i, e in enumerate(px):
        out[e.key] = {"removed": _impact(e, before, validation.group(claim_of(meta, setting, dx, px[:i] + px[i + 1:])),
                                         "removed")}
    return out


def _impact(e: Entry, before: DrgResult, after: DrgResult | None, how: str) -> DrgImpact:
    after = after or before
    change = (f"DRG {before.drg:03d} → {after.drg:03d} ({after.description})" if after.drg != before.drg
              else f"no change (DRG {before.drg:03d})")
    weight = (f", weight {before.relative_weight:.4f} → {after.relative_weight:.4f}"
              if after.drg != before.drg and before.relative_weight is not None
              and after.relative_weight is not None else "")
    return DrgImpact(code=e.code, system=e.system, drg_before=before.drg, drg_after=after.drg,  # type: ignore[arg-type]
                     weight_before=before.relative_weight, weight_after=after.relative_weight,
                     message=f"{e.code} {how}: {change}{weight}")
