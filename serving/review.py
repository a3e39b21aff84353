"""The review workflow: record decisions, replay them into the final code set, export both."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codesets.registry import load_codeset
from codesets.types import display_code, normalize_code
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from serving import coding_review
from serving.schemas import DecisionCreate, DecisionPublic, EncounterMeta, EncounterPublic, FinalCode
from serving.store.models import Decision, Denial, Encounter, utcnow
from validation.types import Patient

CSV_FIELDS = ("encounter_id", "external_id", "status", "system", "sequence", "principal", "code", "description",
              "poa", "source", "replaces", "decided_by", "decided_at")


#: Decisions as training reads them: choosing a principal also confirms the code.
TRAINING_ACTIONS = {"accept": "accept", "reject": "reject", "add": "add", "modify": "modify", "principal": "accept"}


def aware(value: datetime) -> datetime:
    """A timestamp from a raw column query, timezone-aware (SQLite returns naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def get_encounter(session: Session, encounter_id: str) -> Encounter:
    """The encounter `encounter_id`, or E050."""
    row = session.get(Encounter, encounter_id)
    if row is None:
        raise MedcodeError(ErrorCode.NOT_FOUND, what="encounter", id=encounter_id)
    return row


def _key(system: str, code: str) -> tuple[str, str]:
    return system, normalize_code(code)


suggestions_of = coding_review.suggestions_of


def _describe(settings: Settings, system: str, code: str) -> str:
    """The code in display form, or E011 (422) when the code set has no such code."""
    path = settings.code_files.get(system)  # type: ignore[call-overload]
    if system in ("CPT", "HCPCS") and path is None:
        raise MedcodeError(ErrorCode.UNKNOWN_SYSTEM, system=system, known="ICD-10-CM, ICD-10-PCS")
    record = load_codeset(system, path).get(code)
    if record is None:
        raise MedcodeError(ErrorCode.UNKNOWN_CODE, system=system, code=code)
    return record.code


def final_codes(row: Encounter) -> list[FinalCode]:
    """The confirmed codes of the coding being built, in claim order (frozen at submission)."""
    if row.final_codes is not None and row.status == "submitted":
        return [FinalCode.model_validate(c) for c in row.final_codes]
    return coding_review.final_codes(coding_review.replay(row))


def record_decision(session: Session, settings: Settings, row: Encounter, body: DecisionCreate,
                    key_name: str) -> Decision | None:
    """Append one decision to the encounter's trail, after checking it makes sense; None (nothing stored)
    when it would change nothing, such as a second accept of the same code."""
    if row.status == "submitted":
        raise MedcodeError(ErrorCode.CONFLICT, detail=f"encounter {row.id} is submitted; its codes are frozen")
    code = _describe(settings, body.system, body.code)
    state = coding_review.replay(row)
    suggested = {_key(s.system, s.code) for s in suggestions_of(row)}
    current = {e.key for e in [*state.diagnoses, *state.procedures]}
    key = _key(body.system, code)
    replaces = value = None
    _check_fields(body)
    if body.action in ("accept", "principal") and key not in suggested | current:
        raise MedcodeError(ErrorCode.NOT_SUGGESTED, system=body.system, code=code)
    if body.action == "reject" and key not in suggested | current:
        raise MedcodeError(ErrorCode.NOT_SUGGESTED, system=body.system, code=code)
    if body.action in ("principal", "poa") and body.system != "ICD-10-CM":
        raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"'{body.action}' applies to ICD-10-CM diagnoses only")
    if body.action in ("sequence", "poa") and key not in current:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"{code} is not in the coding being built")
    if body.action == "modify":
        replaces = display_code(body.system, body.replaces or "")
        if _key(body.system, replaces) not in suggested | current:
            raise MedcodeError(ErrorCode.NOT_SUGGESTED, system=body.system, code=replaces)
        if _key(body.system, replaces) == key:
            raise MedcodeError(ErrorCode.BAD_INPUT, detail="modify needs a code other than the one it replaces")
    if body.action == "sequence":
        value = str(body.position)
    elif body.action == "poa":
        value = body.poa
    if coding_review.is_noop(state, body.action, body.system, code, position=body.position, poa=body.poa):
        return None
    seq = (session.scalar(select(func.max(Decision.seq)).where(Decision.encounter_id == row.id)) or 0) + 1
    denial = None
    if row.status == "denied":  # a correction after a payer's denial: training sees which denial it answered
        denial = session.scalar(select(func.max(Denial.id)).where(Denial.encounter_id == row.id,
                                                                  Denial.status == "open"))
    decision = Decision(encounter_id=row.id, seq=seq, action=body.action, system=body.system, code=code,
                        replaces=replaces, coder=body.coder, reason=body.reason, value=value, at=utcnow(),
                        key_name=key_name, denial_id=denial)
    session.add(decision)
    session.flush()
    session.refresh(row)
    return decision


def _check_fields(body: DecisionCreate) -> None:
    """Each action's own field, and no other: replaces for modify, position for sequence, poa for poa."""
    needs = {"modify": "replaces", "sequence": "position", "poa": "poa"}
    for action, name in needs.items():
        given = getattr(body, name) is not None
        if body.action == action and not given:
            raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"{action} needs '{name}'")
        if body.action != action and given:
            raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"'{name}' goes only with action '{action}'")


def submit(row: Encounter, key_name: str, session: Session) -> None:
    """Freeze the final code set; later decisions are refused. Resubmitting a denied one resolves its denials."""
    if row.status == "submitted":
        raise MedcodeError(ErrorCode.CONFLICT, detail=f"encounter {row.id} is submitted already")
    if row.status == "denied":
        for denial in session.scalars(select(Denial).where(Denial.encounter_id == row.id, Denial.status == "open")):
            denial.status, denial.resolved_at = "resolved", utcnow()
    row.final_codes = [c.model_dump(mode="json") for c in final_codes(row)]
    row.status = "submitted"
    row.submitted_at = utcnow()
    row.submitted_by = key_name


def meta_of(row: Encounter) -> EncounterMeta:
    return EncounterMeta(id=row.external_id, setting=row.setting, date_of_service=row.date_of_service,
                         patient=Patient(age=row.patient_age, sex=row.patient_sex or "unknown"))


def decision_public(d: Decision) -> DecisionPublic:
    """A stored decision as the API shows it (its value read as the position or the POA indicator)."""
    return DecisionPublic(seq=d.seq, action=d.action, code=d.code, system=d.system, replaces=d.replaces,  # type: ignore[arg-type]
                          position=int(d.value) if d.action == "sequence" and d.value else None,
                          poa=d.value if d.action == "poa" else None,  # type: ignore[arg-type]
                          coder=d.coder, reason=d.reason, at=d.at, key_name=d.key_name, denial_id=d.denial_id)


def public(row: Encounter) -> EncounterPublic:
    """The encounter as the API shows it: the coding being built, checked, beside the suggestions."""
    suggestions = suggestions_of(row)
    touched = {_key(d.system, d.code) for d in row.decisions} | {
        _key(d.system, d.replaces) for d in row.decisions if d.replaces}
    meta = meta_of(row)
    state = coding_review.replay(row)
    checked = coding_review.check(row, meta, state)
    final = final_codes(row)
    return EncounterPublic(
        id=row.id, external_id=row.external_id, status=row.status, text=row.note, encounter=meta,
        systems=row.systems, suggestions=suggestions, coding=coding_review.proposal(row), working=checked.coding,
        pending=[s for s in suggestions if _key(s.system, s.code) not in touched],
        decisions=[decision_public(d) for d in row.decisions],
        final_codes=final, findings=checked.findings, drg=checked.drg, drg_impact=checked.drg_impact,
        created_at=row.created_at, created_by=row.created_by, submitted_at=row.submitted_at,
        submitted_by=row.submitted_by)


def codes_csv(rows: list[Encounter]) -> str:
    """The final codes of `rows` as CSV, one code a line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        for c in final_codes(row):
            writer.writerow({"encounter_id": row.id, "external_id": row.external_id or "", "status": row.status,
                             "system": c.system, "sequence": c.sequence, "principal": str(c.principal).lower(),
                             "code": c.code, "description": c.description, "poa": c.poa or "",
                             "source": c.source, "replaces": c.replaces or "", "decided_by": c.decided_by,
                             "decided_at": c.decided_at.isoformat()})
    return out.getvalue()


def codes_json(row: Encounter) -> dict[str, Any]:
    return {"encounter_id": row.id, "external_id": row.external_id, "status": row.status,
            "codes": [c.model_dump(mode="json") for c in final_codes(row)]}


def decisions_jsonl(session: Session, *, status: str | None = None) -> Iterator[str]:
    """Every decision as the JSONL training reads (`training/decisions.py`), oldest encounter first."""
    query = select(Encounter).order_by(Encounter.created_at, Encounter.id)
    if status:
        query = query.where(Encounter.status == status)
    denials = {d.id: d for d in session.scalars(select(Denial))}
    for row in session.scalars(query):
        by_key = {_key(s.system, s.code): s for s in suggestions_of(row)}
        for d in row.decisions:
            if d.action not in TRAINING_ACTIONS:
                continue  # the code's place and POA say nothing about whether it belongs in the coding
            s = by_key.get(_key(d.system, d.code))
            denial = denials.get(d.denial_id) if d.denial_id else None
            yield json.dumps({
                "encounter_id": row.id, "note": row.note, "system": d.system, "code": d.code,
                "action": TRAINING_ACTIONS[d.action],
                "replaces": d.replaces, "coder": d.coder, "reason": d.reason, "at": d.at.isoformat(),
                "suggested": {"rank": s.rank, "score": s.score} if s else None,
                "denial": {"id": denial.id, "carc": denial.carc, "rarcs": denial.rarcs, "reason": denial.reason,
                           "codes": denial.codes} if denial else None,
            }, ensure_ascii=False) + "\n"
