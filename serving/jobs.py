"""Batch jobs: stored with their notes, coded by a worker thread outside the request, resumed after a restart.

The worker takes the oldest unfinished job, codes its pending items a chunk at a time and saves each
chunk's results before the next, so a restart loses at most one chunk of work. Once coded, an item's
text is dropped from the store. A bad note is recorded as failed (by error code) and the rest goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

from sqlalchemy import func, select, update

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from nlp.note import check_note
from serving.metrics import Metrics
from serving.runner import Runner
from serving.schemas import JobCreate
from serving.store.db import Store
from serving.store.models import Job, JobItem, utcnow

log = logging.getLogger("medcode.serving.jobs")


def parse_jsonl(raw: bytes) -> list[tuple[str, Any]]:
    """JSONL lines of `{id, text}` as (id, text); a broken line becomes (line N, the error)."""
    items: list[tuple[str, Any]] = []
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            items.append((f"line {lineno}", MedcodeError(ErrorCode.BAD_INPUT, detail=f"line {lineno}: not JSON")))
            continue
        rid = record.get("id") if isinstance(record, dict) else None
        if not isinstance(rid, (str, int)) or isinstance(rid, bool):
            items.append((f"line {lineno}", MedcodeError(ErrorCode.BAD_INPUT,
                                                         detail=f"line {lineno}: needs an \"id\"")))
            continue
        items.append((str(rid)[:200], record.get("text")))
    if not items:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail="the upload holds no JSONL lines")
    return items


def create_job(store: Store, items: list[tuple[str, Any]], options: dict[str, Any], created_by: str,
               limit: int) -> Job:
    """Store a job and its notes; notes that cannot be coded are failed at once, with their error code."""
    now = utcnow()
    job = Job(id=uuid.uuid4().hex, status="queued", options=options, total=len(items), done=0, failed=0,
              created_at=now, updated_at=now, created_by=created_by)
    with store.session() as session:
        session.add(job)
        session.flush()
        for seq, (item_id, text) in enumerate(items):
            try:
                if isinstance(text, MedcodeError):
                    raise text
                note = check_note(text, limit=limit)
            except MedcodeError as error:
                job.failed += 1
                session.add(JobItem(job_id=job.id, seq=seq, item_id=item_id, text=None, status="failed",
                                    error=error.as_dict()))
                continue
            session.add(JobItem(job_id=job.id, seq=seq, item_id=item_id, text=note, status="pending"))
        if job.failed == job.total:
            job.status = "done"
    return job


def job_options(body: JobCreate) -> dict[str, Any]:
    return {"top": body.top, "systems": body.systems, "negated": body.negated}


class JobWorker:
    """The thread that codes queued jobs; `wake()` after adding one."""

    def __init__(self, store: Store, runner: Runner, settings: Settings, metrics: Metrics, *,
                 chunk: int | None = None) -> None:
        self.store = store
        self.runner = runner
        self.chunk = chunk or settings.serving.job_chunk
        self.metrics = metrics
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="medcode-jobs", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._wake.set()  # jobs left unfinished by a previous process

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=60)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5.0)
            self._wake.clear()
            while not self._stop.is_set():
                try:
                    if not self._step():
                        break
                except Exception:  # noqa: BLE001 - a worker that dies silently would strand every job
                    log.exception("job worker step failed; retrying shortly")
                    self._stop.wait(2.0)
                    break

    def _step(self) -> bool:
        """Code one chunk of the oldest unfinished job; False when there is nothing to do."""
        with self.store.session() as session:
            job = session.scalars(select(Job).where(Job.status.in_(("queued", "running")))
                                  .order_by(Job.created_at, Job.id).limit(1)).first()
            if job is None:
                return False
            items = list(session.scalars(select(JobItem).where(JobItem.job_id == job.id, JobItem.status == "pending")
                                         .order_by(JobItem.seq).limit(self.chunk)))
            if not items:
                job.status, job.updated_at = "done", utcnow()
                return True
            job.status = "running"
            job_id, options = job.id, dict(job.options)
            work = [(item.id, item.text or "") for item in items]
        results = self._code(work, options)
        with self.store.session() as session:
            done = failed = 0
            for item_id, (status, payload) in results.items():
                values: dict[str, Any] = {"status": status, "text": None}
                values["result" if status == "done" else "error"] = payload
                session.execute(update(JobItem).where(JobItem.id == item_id).values(**values))
                done += status == "done"
                failed += status == "failed"
            counts = session.execute(select(JobItem.status, func.count()).where(JobItem.job_id == job_id)
                                     .group_by(JobItem.status)).all()
            by_status = dict(counts)
            session.execute(update(Job).where(Job.id == job_id).values(
                done=by_status.get("done", 0), failed=by_status.get("failed", 0), updated_at=utcnow(),
                status="done" if not by_status.get("pending") else "running"))
        self.metrics.jobs.labels("done").inc(done)
        self.metrics.jobs.labels("failed").inc(failed)
        return True

    def _code(self, work: list[tuple[int, str]], options: dict[str, Any]) -> dict[int, tuple[str, Any]]:
        """Code a chunk together; should it fail, code its notes one by one so only the bad ones fail."""
        try:
            found = self.runner.suggest_many([t for _, t in work], **options)
        except Exception as error:  # noqa: BLE001 - recorded on the item by code, never by message text
            if len(work) > 1:
                return {k: v for item in work for k, v in self._code([item], options).items()}
            if not isinstance(error, MedcodeError):
                log.error("job item failed: %s", type(error).__name__)
                error = MedcodeError(ErrorCode.INTERNAL, incident=f"job item {work[0][0]}")
            return {work[0][0]: ("failed", error.as_dict())}
        return {i: ("done", [s.model_dump(mode="json") for s in ss]) for (i, _), ss in zip(work, found, strict=True)}
