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
from medcode.types import Suggestion
from serving.schemas import DecisionCreate, DecisionPublic, EncounterMeta, EncounterPublic, FinalCode
from serving.store.models import Decision, Denial, Encounter, utcnow
from validation.types import Patient

CSV_FIELDS = ("encounter_id", "external_id", "status", "system", "code", "description", "source", "replaces",
              "decided_by", "decided_at")


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


def suggestions_of(row: Encounter) -> list[Suggestion]:
    return [Suggestion.model_validate(s) for s in row.suggestions]


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
    """Accepted + added + modified (the replacement) − rejected, replaying the trail in order."""
    if row.final_codes is not None:  # frozen at submission
        return [FinalCode.model_validate(c) for c in row.final_codes]
    described = {_key(s.system, s.code): s.description for s in suggestions_of(row)}
    final: dict[tuple[str, str], FinalCode] = {}
    for d in row.decisions:
        key = _key(d.system, d.code)
        if d.action == "reject":
            final.pop(key, None)
            continue
        if d.action == "modify" and d.replaces:
            old = _key(d.system, d.replaces)
            # The replacement takes the replaced code's place: a changed principal stays first on the claim.
            final = {key if k == old else k: v for k, v in final.items() if k != key or k == old}
        source = {"accept": "accepted", "add": "added", "modify": "modified"}[d.action]
        description = described.get(key) or _description(d.system, d.code)
        final[key] = FinalCode(code=d.code, system=d.system, description=description, source=source,
                               replaces=d.replaces, decided_by=d.coder, decided_at=d.at)
    return list(final.values())


def _description(system: str, code: str) -> str:
    if system in ("ICD-10-CM", "ICD-10-PCS"):
        record = load_codeset(system).get(code)
        return record.description if record else ""
    return ""


def record_decision(session: Session, settings: Settings, row: Encounter, body: DecisionCreate,
                    key_name: str) -> Decision:
    """Append one decision to the encounter's trail, after checking it makes sense."""
    if row.status == "submitted":
        raise MedcodeError(ErrorCode.CONFLICT, detail=f"encounter {row.id} is submitted; its codes are frozen")
    code = _describe(settings, body.system, body.code)
    suggested = {_key(s.system, s.code) for s in suggestions_of(row)}
    current = {_key(c.system, c.code) for c in final_codes(row)}
    replaces = None
    if body.action == "accept" and _key(body.system, code) not in suggested:
        raise MedcodeError(ErrorCode.NOT_SUGGESTED, system=body.system, code=code)
    if body.action == "reject" and _key(body.system, code) not in suggested | current:
        raise MedcodeError(ErrorCode.NOT_SUGGESTED, system=body.system, code=code)
    if body.action == "modify":
        if not body.replaces:
            raise MedcodeError(ErrorCode.BAD_INPUT, detail="modify needs 'replaces': the code it replaces")
        replaces = display_code(body.system, body.replaces)
        if _key(body.system, replaces) not in suggested | current:
            raise MedcodeError(ErrorCode.NOT_SUGGESTED, system=body.system, code=replaces)
    elif body.replaces is not None:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail="'replaces' goes only with action 'modify'")
    seq = (session.scalar(select(func.max(Decision.seq)).where(Decision.encounter_id == row.id)) or 0) + 1
    denial = None
    if row.status == "denied":  # a correction after a payer's denial: training sees which denial it answered
        denial = session.scalar(select(func.max(Denial.id)).where(Denial.encounter_id == row.id,
                                                                  Denial.status == "open"))
    decision = Decision(encounter_id=row.id, seq=seq, action=body.action, system=body.system, code=code,
                        replaces=replaces, coder=body.coder, reason=body.reason, at=utcnow(), key_name=key_name,
                        poa=body.poa, denial_id=denial)
    session.add(decision)
    session.flush()
    session.refresh(row)
    return decision


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


def public(row: Encounter) -> EncounterPublic:
    """The encounter as the API shows it."""
    suggestions = suggestions_of(row)
    touched = {_key(d.system, d.code) for d in row.decisions} | {
        _key(d.system, d.replaces) for d in row.decisions if d.replaces}
    return EncounterPublic(
        id=row.id, external_id=row.external_id, status=row.status, text=row.note, encounter=meta_of(row),
        systems=row.systems, suggestions=suggestions,
        pending=[s for s in suggestions if _key(s.system, s.code) not in touched],
        decisions=[DecisionPublic.model_validate(d, from_attributes=True) for d in row.decisions],
        final_codes=final_codes(row), findings=row.findings or [], drg=row.drg, created_at=row.created_at,
        created_by=row.created_by, submitted_at=row.submitted_at, submitted_by=row.submitted_by)


def codes_csv(rows: list[Encounter]) -> str:
    """The final codes of `rows` as CSV, one code a line."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        for c in final_codes(row):
            writer.writerow({"encounter_id": row.id, "external_id": row.external_id or "", "status": row.status,
                             "system": c.system, "code": c.code, "description": c.description,
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
            s = by_key.get(_key(d.system, d.code))
            denial = denials.get(d.denial_id) if d.denial_id else None
            yield json.dumps({
                "encounter_id": row.id, "note": row.note, "system": d.system, "code": d.code, "action": d.action,
                "replaces": d.replaces, "coder": d.coder, "reason": d.reason, "at": d.at.isoformat(),
                "suggested": {"rank": s.rank, "score": s.score} if s else None, "poa": d.poa,
                "denial": {"id": denial.id, "carc": denial.carc, "rarcs": denial.rarcs, "reason": denial.reason,
                           "codes": denial.codes} if denial else None,
            }, ensure_ascii=False) + "\n"
