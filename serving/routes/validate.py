"""`POST /v1/validate`: an encounter's coded diagnoses and procedures in, findings and MS-DRG out."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from serving.deps import CallerDep, SearchDep
from serving.problems import PROBLEM_RESPONSES
from validation.types import DrgResult, Encounter, Finding

router = APIRouter(tags=["validate"], responses=PROBLEM_RESPONSES)


class ValidationReport(BaseModel):
    """What the validation rules say about an encounter's codes."""

    findings: list[Finding] = Field(description="Errors first, then warnings and notes.")
    drg: DrgResult | None = Field(description="The MS-DRG (inpatient with a principal diagnosis), else null.")


def _report(encounter: Encounter) -> ValidationReport:
    import validation

    return ValidationReport(findings=validation.validate(encounter), drg=validation.group(encounter))


@router.post("/validate", response_model=ValidationReport)
async def validate(body: Encounter, caller: CallerDep, _: SearchDep) -> ValidationReport:
    """Check coded diagnoses and procedures (edits, Medicare Code Editor, dates) and group the MS-DRG."""
    caller.require("read codes")
    return await run_in_threadpool(_report, body)
