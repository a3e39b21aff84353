"""Data lifecycle: delete an encounter or a job, purge what is older than a date, and the retention sweep.

A deletion removes the note, its suggestions (their evidence quotes the note), its decisions and the
job results, and records in `deletions` what was removed, when and by whom: ids and counts, never text.
On SQLite, freed pages are zeroed (`secure_delete`, set per connection) and the WAL is checkpointed and
truncated afterwards, so the removed text does not linger in either file.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from serving.store.db import Store
from serving.store.models import Adjustment, Decision, Deletion, Denial, Encounter, Job, JobItem, utcnow

log = logging.getLogger("medcode.serving.lifecycle")
Kind = Literal["encounter", "job"]


@dataclass(frozen=True, slots=True)
class Purged:
    """How many encounters and jobs a purge deleted."""

    encounters: int
    jobs: int


def _delete_encounter(session: Session, encounter_id: str, by: str, reason: str) -> bool:
    if session.get(Encounter, encounter_id) is None:
        return False
    decisions = session.scalar(select(func.count()).where(Decision.encounter_id == encounter_id)) or 0
    # First the record: the decisions trail's trigger lets the encounter's decisions go only once it exists.
    session.add(Deletion(kind="encounter", target=encounter_id, reason=reason, removed={"decisions": decisions},
                         at=utcnow(), by=by))
    session.flush()
    session.execute(delete(Decision).where(Decision.encounter_id == encounter_id))
    # The payer's remittance stays (it is the payer's record, not the note's); it no longer points here.
    session.execute(delete(Denial).where(Denial.encounter_id == encounter_id))
    session.execute(update(Adjustment).where(Adjustment.encounter_id == encounter_id).values(encounter_id=None))
    session.execute(delete(Encounter).where(Encounter.id == encounter_id))
    session.expunge_all()
    return True


def _delete_job(session: Session, job_id: str, by: str, reason: str) -> bool:
    if session.get(Job, job_id) is None:
        return False
    items = session.scalar(select(func.count()).where(JobItem.job_id == job_id)) or 0
    session.add(Deletion(kind="job", target=job_id, reason=reason, removed={"items": items}, at=utcnow(), by=by))
    session.execute(delete(JobItem).where(JobItem.job_id == job_id))
    session.execute(delete(Job).where(Job.id == job_id))
    session.expunge_all()
    return True


_DELETE = {"encounter": _delete_encounter, "job": _delete_job}


def remove(store: Store, kind: Kind, target: str, *, by: str, reason: str = "request") -> bool:
    """Delete an encounter (note, suggestions, decisions, its denials) or a job (notes, results); False when there is none."""
    with store.session() as session:
        found = _DELETE[kind](session, target, by, reason)
    if found:
        checkpoint(store)
    return found


def purge(store: Store, before: datetime, *, by: str, reason: str = "purge") -> Purged:
    """Delete every encounter and job created before `before`, one transaction each (a long purge does not
    hold the store)."""
    with store.session() as session:
        doomed: dict[Kind, list[str]] = {
            "encounter": list(session.scalars(select(Encounter.id).where(Encounter.created_at < before))),
            "job": list(session.scalars(select(Job.id).where(Job.created_at < before)))}
    for kind, targets in doomed.items():
        for target in targets:
            with store.session() as session:
                _DELETE[kind](session, target, by, reason)
    if any(doomed.values()):
        checkpoint(store)
    return Purged(len(doomed["encounter"]), len(doomed["job"]))


def checkpoint(store: Store) -> None:
    """SQLite: copy the WAL into the database and truncate it, so deleted rows leave the WAL too."""
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as connection:
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))


class RetentionSweeper:
    """Deletes, every `every_s`, the encounters and jobs older than `days` (MEDCODE_RETENTION_DAYS)."""

    def __init__(self, store: Store, days: int, *, every_s: float = 3600.0) -> None:
        self.store = store
        self.days = days
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="medcode-retention", daemon=True)

    def start(self) -> None:
        if self.days > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def sweep(self) -> Purged:
        """One sweep now."""
        purged = purge(self.store, utcnow() - timedelta(days=self.days), by="retention", reason="retention")
        if purged.encounters or purged.jobs:
            log.info("retention: deleted %d encounters and %d jobs older than %d days", purged.encounters,
                     purged.jobs, self.days)
        return purged

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - a failed sweep is retried at the next one
                log.exception("retention sweep failed")
            self._stop.wait(self.every_s)
