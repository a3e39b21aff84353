"""Batch jobs: stored with their notes, coded by a worker thread outside the request, resumed after a restart.

The worker takes the oldest unfinished job, codes its pending items a chunk at a time and saves each
chunk's results before the next, so a restart loses at most one chunk of work. Once coded, an item's
text is dropped from the store. A bad note is recorded as failed (by error code) and the rest goes on.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from sqlalchemy import func, select, update

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from nlp.note import Item, check_note, json_limits, read_jsonl
from serving.metrics import Metrics
from serving.runner import Runner
from serving import proposals
from serving.schemas import EncounterMeta, JobCreate
from serving.store.db import Store
from serving.store.models import Job, JobItem, utcnow

log = logging.getLogger("medcode.serving.jobs")


def parse_jsonl(raw: bytes, settings: Settings) -> list[Item]:
    """An upload's JSONL lines of `{id, text}`, each note checked (a bad one carries its error)."""
    items = list(read_jsonl(raw.splitlines(), limit=settings.max_note_chars, json_limits=json_limits(settings)))
    if not items:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail="the upload holds no JSONL lines")
    return items


def check_notes(notes: list[tuple[str, str]], settings: Settings) -> list[Item]:
    """A JSON job's notes, each checked (a bad one carries its error)."""
    items: list[Item] = []
    for rid, text in notes:
        try:
            items.append(Item(rid, check_note(text, limit=settings.max_note_chars)))
        except MedcodeError as error:
            items.append(Item(rid, error))
    return items


def create_job(store: Store, items: list[Item], options: dict[str, Any], created_by: str) -> Job:
    """Store a job and its checked notes; notes that cannot be coded are failed at once, with their error code."""
    now = utcnow()
    job = Job(id=uuid.uuid4().hex, status="queued", options=options, total=len(items), done=0, failed=0,
              created_at=now, updated_at=now, created_by=created_by)
    with store.session() as session:
        session.add(job)
        session.flush()
        for seq, (item_id, note, _) in enumerate(items):
            if isinstance(note, MedcodeError):
                job.failed += 1
                session.add(JobItem(job_id=job.id, seq=seq, item_id=item_id, text=None, status="failed",
                                    error=note.as_dict()))
            else:
                session.add(JobItem(job_id=job.id, seq=seq, item_id=item_id, text=note, status="pending"))
        if job.failed == job.total:
            job.status = "done"
    return job


def job_options(body: JobCreate) -> dict[str, Any]:
    encounter = body.encounter.model_dump(mode="json") if body.encounter else None
    return {"top": body.top, "systems": body.systems, "negated": body.negated, "encounter": encounter}


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
            options = dict(options)
            meta = EncounterMeta.model_validate(options.pop("encounter", None) or {})
            found = proposals.propose_many(self.runner, [t for _, t in work], [meta.context()] * len(work), **options)
        except Exception as error:  # noqa: BLE001 - recorded on the item by code, never by message text
            if len(work) > 1:
                return {k: v for item in work for k, v in self._code([item], options).items()}
            if not isinstance(error, MedcodeError):
                log.error("job item failed: %s", type(error).__name__)
                error = MedcodeError(ErrorCode.INTERNAL, incident=f"job item {work[0][0]}")
            return {work[0][0]: ("failed", error.as_dict())}
        return {i: ("done", proposal.as_dict()) for (i, _), proposal in zip(work, found, strict=True)}
