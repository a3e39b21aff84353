"""Claims out: a submitted encounter's coding as a FHIR R4 Claim, an HL7 v2.5.1 DFT^P03 or X12 837 HI segments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from claims.types import Format
from serving import claim_export, review
from serving.deps import CallerDep, ServicesDep, SessionDep
from serving.problems import PROBLEM_RESPONSES
from serving.schemas import IsoTime

router = APIRouter(tags=["claims"], responses=PROBLEM_RESPONSES)
FormatQuery = Annotated[Format, Query(description="fhir: R4 Claim; hl7: v2.5.1 DFT^P03 (ER7); x12: 837 HI segments.")]


@router.get("/encounters/{encounter_id}/claim", responses={
    404: {"description": "No such encounter"}, 409: {"description": "The encounter is not submitted"},
    200: {"content": {m: {"schema": {"type": "string"}} for m in claim_export.MEDIA.values()}}})
def encounter_claim(encounter_id: str, caller: CallerDep, session: SessionDep, services: ServicesDep,
                    format: FormatQuery = "fhir") -> Response:
    """The claim coding of a submitted encounter, validated in the format asked for."""
    caller.require("read encounters")
    row = review.get_encounter(session, encounter_id)
    text = claim_export.claim_of(row, format, services.settings)
    return PlainTextResponse(text, media_type=claim_export.MEDIA[format])


@router.get("/claims", response_class=StreamingResponse, responses={200: {
    "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    "description": "One line per encounter: `{encounter_id, claim_id, format, claim}` or `{…, error}`"}})
def claims_since(caller: CallerDep, services: ServicesDep, format: FormatQuery = "fhir",
                 since: Annotated[IsoTime | None, Query(description="Submitted at or after (ISO 8601).")] = None
                 ) -> StreamingResponse:
    """The claims of every encounter submitted since a time, as JSON lines; a claim that cannot be built says why."""
    caller.require("read encounters")

    def lines():
        with services.store.session() as session:
            yield from claim_export.claims_since(session, since, format, services.settings)

    return StreamingResponse(lines(), media_type="application/x-ndjson")
