"""`/v1/exports`: every encounter's final codes, and every decision as training's JSONL."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from sqlalchemy import select

from serving import review
from serving.deps import CallerDep, ServicesDep, SessionDep
from serving.problems import PROBLEM_RESPONSES
from serving.schemas import EncounterStatus
from serving.store.models import Encounter

router = APIRouter(prefix="/exports", tags=["exports"], responses=PROBLEM_RESPONSES)


@router.get("/codes", responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})
def export_all_codes(caller: CallerDep, session: SessionDep,
                     status: Annotated[EncounterStatus | None, Query()] = "submitted",
                     format: Annotated[Literal["json", "csv"], Query()] = "json") -> Any:
    """The final codes of every encounter (submitted ones by default), as JSON or CSV."""
    caller.require("read encounters")
    query = select(Encounter).order_by(Encounter.created_at, Encounter.id)
    rows = list(session.scalars(query.where(Encounter.status == status) if status else query))
    if format == "csv":
        return PlainTextResponse(review.codes_csv(rows), media_type="text/csv")
    return {"encounters": [review.codes_json(r) for r in rows]}


@router.get("/decisions", response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                             "description": "One decision per line, with its note: the JSONL training reads"}})
def export_decisions(caller: CallerDep, services: ServicesDep,
                     status: Annotated[EncounterStatus | None, Query()] = None) -> StreamingResponse:
    """Every coder decision as JSONL (`{encounter_id, note, system, code, action, …}`); admin only."""
    caller.require("export decisions")

    def lines() -> Any:
        with services.store.session() as session:
            yield from review.decisions_jsonl(session, status=status)

    return StreamingResponse(lines(), media_type="application/x-ndjson")
