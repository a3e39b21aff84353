"""`/v1/jobs`: batches of notes coded in the background; progress and results survive a restart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from medcode.errors import ErrorCode, MedcodeError
from serving import jobs, lifecycle
from serving.deps import CallerDep, ServicesDep, SessionDep, check_systems
from serving.problems import PROBLEM_RESPONSES
from serving.schemas import MAX_OFFSET, JobCreate, JobPublic, JobResult, JobResults
from serving.store.models import Job, JobItem

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=PROBLEM_RESPONSES)
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")


JOB_BODY = {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/JobCreate"}},
    "application/x-ndjson": {"schema": {"type": "string"}, "example": '{"id": "n1", "text": "Hypertension."}\n'},
}}


@router.post("", status_code=202, response_model=JobPublic, openapi_extra={"requestBody": JOB_BODY})
async def create_job(request: Request, caller: CallerDep, services: ServicesDep) -> JobPublic:
    """Queue a batch: a JSON list of notes, or JSONL lines of `{id, text}`; returns the job's id."""
    caller.require("run jobs")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if media in JSONL_TYPES:
        items = jobs.parse_jsonl(raw, services.settings)
        options = {"top": _top(request.query_params.get("top")), "systems": None, "negated": None}
    elif media == "application/json" or not media:
        try:
            body = JobCreate.model_validate_json(raw)
        except ValidationError as error:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None
        check_systems(body.systems, services.settings)
        items = jobs.check_notes([(n.id, n.text) for n in body.notes], services.settings)
        options = jobs.job_options(body)
    else:
        raise MedcodeError(ErrorCode.UNSUPPORTED_MEDIA, media_type=media,
                           accepted="application/json or application/x-ndjson")
    job = await run_in_threadpool(jobs.create_job, services.store, items, options, caller.name)
    if services.worker is not None:
        services.worker.wake()  # type: ignore[attr-defined]
    return JobPublic.model_validate(job, from_attributes=True)


def _top(value: str | None) -> int | None:
    """The `top` query parameter of a JSONL upload: ASCII digits only (`str.isdigit` also takes "²")."""
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= 200:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail="top must be a whole number from 1 to 200")
    return int(value)


def _job(session: SessionDep, job_id: str) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise MedcodeError(ErrorCode.NOT_FOUND, what="job", id=job_id)
    return job


@router.get("/{job_id}", response_model=JobPublic, responses={404: {"description": "No such job"}})
def get_job(job_id: str, caller: CallerDep, session: SessionDep) -> JobPublic:
    """A job's progress: queued, running or done, with counts."""
    caller.require("run jobs")
    return JobPublic.model_validate(_job(session, job_id), from_attributes=True)


@router.delete("/{job_id}", status_code=204, response_class=Response,
               responses={404: {"description": "No such job"}})
def delete_job(job_id: str, caller: CallerDep, services: ServicesDep) -> Response:
    """Delete a job with its notes and results (admin; the deletion itself is recorded)."""
    caller.require("delete data")
    if not lifecycle.remove(services.store, "job", job_id, by=caller.name):
        raise MedcodeError(ErrorCode.NOT_FOUND, what="job", id=job_id)
    return Response(status_code=204)


@router.get("/{job_id}/results", response_model=JobResults, responses={404: {"description": "No such job"}})
def job_results(job_id: str, caller: CallerDep, session: SessionDep,
                offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> JobResults:
    """The job's notes in order, with their suggestions or their error (a page at a time)."""
    caller.require("run jobs")
    job = _job(session, job_id)
    items = session.scalars(select(JobItem).where(JobItem.job_id == job_id).order_by(JobItem.seq)
                            .offset(offset).limit(limit))
    return JobResults(job=JobPublic.model_validate(job, from_attributes=True), results=[_result(i) for i in items])


def _result(item: JobItem) -> JobResult:
    """One item's outcome; items coded before the coding step stored a bare list of suggestions."""
    found = {"suggestions": item.result} if isinstance(item.result, list) else item.result or {}
    return JobResult(id=item.item_id, status=item.status, error=item.error, **found)
