"""Remittances in (X12 835) and the denied worklist: coding denials with the payer's reason beside their codes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from serving import remittances
from serving.deps import CallerDep, ServicesDep, SessionDep
from serving.problems import PROBLEM_RESPONSES
from serving.remittances import DenialPublic, ImportResult

router = APIRouter(tags=["remittances"], responses=PROBLEM_RESPONSES)


@router.post("/remittances", status_code=201, response_model=ImportResult, responses={
    409: {"description": "This file was imported before"},
    422: {"description": "Not a well-formed 835: nothing was imported"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/edi-x12": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}}}})
async def import_remittance(request: Request, caller: CallerDep, services: ServicesDep) -> ImportResult:
    """Import an X12 835: every adjustment recorded, coding denials reopen their encounters; all or nothing."""
    caller.require("import remittances")
    data = await request.body()

    def run() -> ImportResult:
        with services.store.session() as session:
            return remittances.import_835(session, data, services.settings, caller.name, source="request body")

    return await run_in_threadpool(run)


@router.get("/denials", response_model=list[DenialPublic])
def denied_worklist(caller: CallerDep, session: SessionDep,
                    status: Annotated[Literal["open", "resolved"] | None, Query()] = "open",
                    encounter_id: Annotated[str | None, Query(max_length=32)] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> list[DenialPublic]:
    """The denied worklist: each payer coding reason, newest first, with the encounter and the codes it concerns."""
    caller.require("read encounters")
    return remittances.denials(session, status=status, encounter_id=encounter_id, limit=limit)
