"""`POST /v1/suggest`: a note (JSON, or FHIR DocumentReference / Bundle) in, ranked codes out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from nlp.note import check_note
from serving import checks, fhir, proposals
from serving.deps import CallerDep, CoderDep, NoteSlotDep, ServicesDep, check_systems
from serving.problems import PROBLEM_RESPONSES
from serving.schemas import EncounterMeta, FhirInput, SuggestRequest, SuggestResponse

router = APIRouter(tags=["suggest"])

FHIR_CONTENT = {fhir.FHIR_JSON: {"schema": {"$ref": "#/components/schemas/FhirInput"}}}


@router.post(
    "/suggest",
    response_model=SuggestResponse,
    responses={**PROBLEM_RESPONSES, 200: {"content": {fhir.FHIR_JSON: {"schema": {"type": "object"}}},
                                          "description": "Suggestions (or a FHIR Bundle with Accept: "
                                                         "application/fhir+json)"},
               413: {"description": "Body or note too large"}},
    openapi_extra={"requestBody": {"content": FHIR_CONTENT}},
)
async def suggest(
    body: Annotated[SuggestRequest | FhirInput, Body()],
    request: Request,
    caller: CallerDep,
    runner: CoderDep,
    services: ServicesDep,
    _slot: NoteSlotDep,
) -> Any:
    """Suggest codes for one note, with their evidence and the proposed claim coding, validation findings and DRG."""
    caller.require("suggest")
    from serving.routes.negotiation import wants_fhir

    as_fhir = wants_fhir(request)
    subject = None
    if isinstance(body, FhirInput):
        text, meta, subject = fhir.read_document(body.model_dump(mode="json"))
        request_ = SuggestRequest(text=text, encounter=meta)
    else:
        request_ = body
    text = check_note(request_.text, limit=services.settings.max_note_chars)
    check_systems(request_.systems, services.settings)
    context = (request_.encounter or EncounterMeta()).context()
    found = await run_in_threadpool(proposals.propose_many, runner, [text], [context], top=request_.top,
                                    systems=request_.systems, negated=request_.negated)
    suggestions, coding = found[0].suggestions, found[0].coding
    services.metrics.suggestions.observe(len(suggestions))
    if as_fhir:
        encounter = request_.encounter.id if request_.encounter and request_.encounter.id else None
        reference = encounter if encounter and "/" in encounter else None
        return JSONResponse(fhir.suggestions_bundle(suggestions, subject=subject, encounter=reference, coding=coding),
                            media_type=fhir.FHIR_JSON)
    review = await run_in_threadpool(checks.review, request_.encounter, suggestions)
    return SuggestResponse(suggestions=suggestions, coding=coding, findings=review.findings, drg=review.drg,
                           drg_impact=review.drg_impact)


