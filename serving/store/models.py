"""The service's tables: API keys, encounters with their audit trail of decisions, batch jobs, deletions, and
the payers' remittances with their adjustments and the denials that sent encounters back to coding."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from decimal import Decimal

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """A caller's key: only its SHA-256 is kept; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Encounter(Base):
    """A note with its metadata, the suggestions made for it, and its review state."""

    __tablename__ = "encounters"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), index=True, nullable=True)
    note: Mapped[str] = mapped_column(Text)
    setting: Mapped[str | None] = mapped_column(String(20), nullable=True)
    date_of_service: Mapped[date | None] = mapped_column(Date, nullable=True)
    patient_age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    patient_sex: Mapped[str | None] = mapped_column(String(10), nullable=True)
    systems: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    suggestions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    drg: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    submitted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    final_codes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    #: The coding step's proposal (`coding.Coding`) when the note was coded; decisions replay onto it.
    coding: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    decisions: Mapped[list[Decision]] = relationship(back_populates="encounter", order_by="Decision.seq",
                                                     lazy="selectin")


class Decision(Base):
    """One coder decision: appended, never updated or deleted (a database trigger refuses both)."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("encounter_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    system: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(20))
    replaces: Mapped[str | None] = mapped_column(String(20), nullable=True)
    coder: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The POA indicator of a `poa` decision, the new position of a `sequence` one.
    value: Mapped[str | None] = mapped_column(String(20), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    key_name: Mapped[str] = mapped_column(String(200))
    #: The open denial the coder was answering, when the encounter was denied (claims learn from them).
    denial_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)

    encounter: Mapped[Encounter] = relationship(back_populates="decisions")


class Job(Base):
    """A batch of notes coded by the worker; its items carry the progress, so a restart resumes it."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True, default="queued")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class JobItem(Base):
    """One note of a job; its text is dropped once coded, so the store keeps no more PHI than needed."""

    __tablename__ = "job_items"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    #: `{"suggestions": [...], "coding": {...}}` (a bare list of suggestions from before the coding step).
    result: Mapped[dict[str, Any] | list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Remittance(Base):
    """One 835 transaction set as imported: who paid, its trace number, when, and what it matched."""

    __tablename__ = "remittances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    payer: Mapped[str] = mapped_column(String(200))
    trace: Mapped[str | None] = mapped_column(String(80), nullable=True)
    paid_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    claims: Mapped[int] = mapped_column(Integer)
    matched: Mapped[int] = mapped_column(Integer)
    denied: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    received_by: Mapped[str] = mapped_column(String(200))


class Adjustment(Base):
    """One CAS adjustment of a remitted claim; `encounter_id` is empty when no encounter has its claim id."""

    __tablename__ = "adjustments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    claim_id: Mapped[str] = mapped_column(String(200), index=True)
    encounter_id: Mapped[str | None] = mapped_column(ForeignKey("encounters.id"), nullable=True, index=True)
    claim_status: Mapped[str] = mapped_column(String(4))
    service: Mapped[str | None] = mapped_column(String(48), nullable=True)
    group: Mapped[str] = mapped_column(String(2))
    carc: Mapped[str] = mapped_column(String(8), index=True)
    rarcs: Mapped[list[str]] = mapped_column(JSON, default=list)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    coding: Mapped[bool] = mapped_column(default=False)


class Denial(Base):
    """A coding reason a payer gave for an encounter's claim: it reopens the encounter until resubmitted."""

    __tablename__ = "denials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    encounter_id: Mapped[str] = mapped_column(ForeignKey("encounters.id"), index=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    adjustment_id: Mapped[int] = mapped_column(ForeignKey("adjustments.id"))
    group: Mapped[str] = mapped_column(String(2))
    carc: Mapped[str] = mapped_column(String(8))
    rarcs: Mapped[list[str]] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text)
    concerns: Mapped[str] = mapped_column(String(20))
    codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(10), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Deletion(Base):
    """A record that an encounter or a job was deleted: what, when, by whom, how many rows; never its content.

    The decisions trail's trigger lets an encounter's decisions go only once this row exists.
    """

    __tablename__ = "deletions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # encounter | job
    target: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(String(20))  # request | purge | retention
    removed: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by: Mapped[str] = mapped_column(String(200))
