"""`/v1/encounters`: store a note with its suggestions, record coders' decisions, submit, export."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool

from medcode.errors import ErrorCode, MedcodeError
from nlp.note import check_note
from serving import fhir, lifecycle, proposals, review
from serving.deps import CallerDep, CoderDep, NoteSlotDep, ServicesDep, SessionDep, check_systems
from serving.problems import PROBLEM_RESPONSES
from serving.schemas import (
    DecisionCreate,
    EncounterMeta,
    EncounterPublic,
    EncounterStatus,
    EncounterSummary,
    MAX_OFFSET,
    FhirInput,
    SuggestRequest,
    Worklist,
)
from serving.store.models import Decision, Encounter, utcnow
from validation.types import Finding, Patient

router = APIRouter(prefix="/encounters", tags=["encounters"], responses=PROBLEM_RESPONSES)
NOT_FOUND = {404: {"description": "No such encounter"}}


@router.post("", status_code=201, response_model=EncounterPublic,
             openapi_extra={"requestBody": {"content": {fhir.FHIR_JSON: {
                 "schema": {"$ref": "#/components/schemas/FhirInput"}}}}})
async def create_encounter(body: Annotated[SuggestRequest | FhirInput, Body()], caller: CallerDep,
                           runner: CoderDep, services: ServicesDep, _slot: NoteSlotDep) -> EncounterPublic:
    """Code a note and store it, with its encounter and suggestions, for review; returns its `id`."""
    caller.require("create encounters")
    if isinstance(body, FhirInput):
        text, meta, _ = fhir.read_document(body.model_dump(mode="json"))
        body = SuggestRequest(text=text, encounter=meta)
    text = check_note(body.text, limit=services.settings.max_note_chars)
    check_systems(body.systems, services.settings)
    context = (body.encounter or EncounterMeta()).context()
    found = await run_in_threadpool(proposals.propose_many, runner, [text], [context], top=body.top,
                                    systems=body.systems, negated=body.negated)
    suggestions, coding = found[0].suggestions, found[0].coding
    services.metrics.suggestions.observe(len(suggestions))
    meta = body.encounter
    row = Encounter(
        id=uuid.uuid4().hex, external_id=meta.id if meta else None, note=text,
        setting=meta.setting if meta else None, date_of_service=meta.date_of_service if meta else None,
        patient_age=meta.patient.age if meta else None, patient_sex=meta.patient.sex if meta else None,
        systems=list(body.systems) if body.systems else None,
        suggestions=[s.model_dump(mode="json") for s in suggestions], coding=coding.model_dump(mode="json"),
        findings=[], drg=None, status="pending", created_at=utcnow(), created_by=caller.name)

    def save() -> EncounterPublic:
        with services.store.session() as session:
            shown = review.public(row)  # the proposed coding, checked: its findings go to the worklist
            row.findings = [f.model_dump(mode="json") for f in shown.findings]
            row.drg = shown.drg.model_dump(mode="json") if shown.drg else None
            session.add(row)
            session.flush()
            session.refresh(row)
            return shown.model_copy(update={"created_at": row.created_at})

    return await run_in_threadpool(save)


@router.get("", response_model=Worklist)
def worklist(caller: CallerDep, session: SessionDep,
             status: Annotated[EncounterStatus | None, Query(description="Only this state.")] = None,
             limit: Annotated[int, Query(ge=1, le=500)] = 50,
             offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> Worklist:
    """The worklist: encounters (newest first), e.g. `?status=pending`."""
    caller.require("read encounters")
    where = [Encounter.status == status] if status else []
    total = session.scalar(select(func.count()).select_from(Encounter).where(*where)) or 0
    decided = (select(Decision.encounter_id, func.count().label("n")).group_by(Decision.encounter_id).subquery())
    rows = session.execute(
        select(Encounter.id, Encounter.external_id, Encounter.status, Encounter.setting, Encounter.date_of_service,
               Encounter.created_at, Encounter.suggestions, func.coalesce(decided.c.n, 0), Encounter.patient_age,
               Encounter.patient_sex, Encounter.findings)
        .outerjoin(decided, decided.c.encounter_id == Encounter.id).where(*where)
        .order_by(Encounter.created_at.desc(), Encounter.id).limit(limit).offset(offset)).all()
    items = [EncounterSummary(id=r[0], external_id=r[1], status=r[2], setting=r[3], date_of_service=r[4],
                              created_at=review.aware(r[5]),
                              suggestions=sum(s.get("assertion") not in ("negated", "family") for s in r[6]),
                              decisions=r[7], patient=Patient(age=r[8], sex=r[9] or "unknown"),
                              top_finding=_most_severe(r[10] or [])) for r in rows]
    return Worklist(items=items, total=total, limit=limit, offset=offset)


@router.get("/{encounter_id}", response_model=EncounterPublic, responses=NOT_FOUND)
def get_encounter(encounter_id: str, caller: CallerDep, session: SessionDep) -> EncounterPublic:
    """An encounter: note, suggestions, pending ones, decisions, state and final code set."""
    caller.require("read encounters")
    return review.public(review.get_encounter(session, encounter_id))


def _most_severe(findings: list[dict[str, Any]]) -> Finding | None:
    """The worst stored finding (error before warning before info), the one a worklist shows."""
    order = {"error": 0, "warning": 1, "info": 2}
    return Finding.model_validate(min(findings, key=lambda f: order.get(f.get("severity", "info"), 3))) \
        if findings else None


@router.delete("/{encounter_id}", status_code=204, response_class=Response, responses=NOT_FOUND)
def delete_encounter(encounter_id: str, caller: CallerDep, services: ServicesDep) -> Response:
    """Delete an encounter: its note, suggestions and decisions (admin; the deletion itself is recorded)."""
    caller.require("delete data")
    if not lifecycle.remove(services.store, "encounter", encounter_id, by=caller.name):
        raise MedcodeError(ErrorCode.NOT_FOUND, what="encounter", id=encounter_id)
    return Response(status_code=204)


@router.post("/{encounter_id}/decisions", status_code=201, response_model=EncounterPublic,
             responses={**NOT_FOUND, 200: {"model": EncounterPublic, "description": "The decision would change "
                                           "nothing (a second accept of a code, say): not stored"},
                        409: {"description": "The encounter is submitted"}})
def decide(encounter_id: str, body: DecisionCreate, caller: CallerDep, services: ServicesDep,
           response: Response) -> EncounterPublic:
    """Record a coder's decision (appended to the audit trail with its time); returns the encounter.

    A decision that would change nothing (a second accept of the same code, a double click) is not
    stored: the answer is then 200 with the encounter as it was, instead of 201."""
    caller.require("decide")
    attempts = 5
    while True:
        attempts -= 1
        try:
            with services.store.session() as session:
                row = review.get_encounter(session, encounter_id)
                stored = review.record_decision(session, services.settings, row, body, caller.name)
                shown = review.public(row)
            break
        except (IntegrityError, OperationalError):
            # Two decisions on one encounter at once took the same sequence number: take the next.
            if not attempts:
                raise
    if stored is None:
        response.status_code = 200
        return shown
    services.metrics.decisions.labels(body.action).inc()
    return shown


@router.post("/{encounter_id}/submit", response_model=EncounterPublic,
             responses={**NOT_FOUND, 409: {"description": "Submitted already"}})
def submit(encounter_id: str, caller: CallerDep, session: SessionDep) -> EncounterPublic:
    """Submit the encounter: its final code set is frozen and further decisions are refused."""
    caller.require("decide")
    row = review.get_encounter(session, encounter_id)
    review.submit(row, caller.name, session)
    session.flush()
    return review.public(row)


@router.get("/{encounter_id}/codes", responses={**NOT_FOUND, 200: {"content": {
    "text/csv": {"schema": {"type": "string"}}, fhir.FHIR_JSON: {"schema": {"type": "object"}}}}})
def export_codes(encounter_id: str, caller: CallerDep, session: SessionDep, request: Request,
                 format: Annotated[Literal["json", "csv", "fhir"], Query()] = "json") -> Any:
    """The final code set, in claim sequence with the principal and POA, as JSON, CSV or a FHIR Bundle of
    confirmed Conditions and completed Procedures (extensions `sequence`, `principal`, `poa`)."""
    caller.require("read encounters")
    row = review.get_encounter(session, encounter_id)
    if format == "csv":
        return PlainTextResponse(review.codes_csv([row]), media_type="text/csv")
    if format == "fhir":
        by_key = {(s.system, s.code): s for s in review.suggestions_of(row)}
        final = review.final_codes(row)
        items = [(c.system, c.code, c.description, by_key.get((c.system, c.code))) for c in final]
        places = {(c.system, c.code): fhir.Place(c.sequence, c.principal, c.poa) for c in final}
        reference = row.external_id if row.external_id and "/" in row.external_id else None
        return JSONResponse(fhir.bundle(items, final=True, encounter=reference, places=places),
                            media_type=fhir.FHIR_JSON)
    return review.codes_json(row)
