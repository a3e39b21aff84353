"""`/v1/metrics/coding`: acceptance by code and coder, hand-added codes, denials by reason, open-to-submit time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from serving.coding_metrics import CodingMetrics, coding_metrics
from serving.deps import CallerDep, SessionDep
from serving.problems import PROBLEM_RESPONSES
from serving.schemas import IsoTime

router = APIRouter(tags=["metrics"], responses=PROBLEM_RESPONSES)


@router.get("/metrics/coding", response_model=CodingMetrics)
def coding(caller: CallerDep, session: SessionDep,
           since: Annotated[IsoTime | None, Query(description="Only what happened at or after (ISO 8601).")] = None,
           top: Annotated[int, Query(ge=1, le=1000, description="Longest list returned.")] = 50) -> CodingMetrics:
    """The numbers a coding manager asks for, over the whole store or since a time."""
    caller.require("read metrics")
    return coding_metrics(session, since=since, top=top)
