"""Payers' 835 remittances into the store, in one transaction: adjustments recorded, coding denials reopening
their encounters into the denied worklist."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from claims.denials import CodingDenial, Concerns, review_adjustments
from claims.remittance import read_835
from claims.types import ClaimCoding
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from serving.claim_export import claim_coding_for
from serving.store.models import Adjustment, Denial, Encounter, Remittance, utcnow

#: Encounters a coding denial sends back: a claim went out for them.
REOPENED_FROM = ("submitted", "denied")
#: SQL IN lists stay under every driver's parameter limit.
CHUNK = 500


class ImportResult(BaseModel):
    """What one 835 file did: transaction sets stored, claims matched or not, encounters sent back to coding."""

    remittances: list[int] = Field(description="Ids of the stored remittances (one per 835 transaction set).")
    claims: int
    matched: int
    unmatched: list[str] = Field(description="CLP01 values no encounter has; their adjustments are kept.")
    adjustments: int
    coding_denials: int
    denied: list[str] = Field(description="Encounters reopened into the denied worklist.")


class DenialPublic(BaseModel):
    """A payer's coding reason next to the codes it concerns."""

    id: int
    encounter_id: str
    external_id: str | None
    remittance_id: int
    payer: str
    group: str
    carc: str
    rarcs: list[str]
    reason: str
    concerns: Concerns
    codes: list[str]
    amount: Decimal
    status: str
    created_at: datetime
    resolved_at: datetime | None


def _match(session: Session, claim_ids: Sequence[str]) -> dict[str, Encounter]:
    """Encounters by claim id (the external id, else medcode's id); the newest wins a shared external id."""
    found: dict[str, Encounter] = {}
    ids = list(dict.fromkeys(claim_ids))
    for i in range(0, len(ids), CHUNK):
        part = ids[i:i + CHUNK]
        rows = session.scalars(select(Encounter).where(or_(Encounter.external_id.in_(part), Encounter.id.in_(part)))
                               .order_by(Encounter.created_at))
        for row in rows:
            found[row.external_id if row.external_id in part else row.id] = row
    return found


def import_835(session: Session, data: bytes, settings: Settings, received_by: str,
               source: str = "835") -> ImportResult:
    """Store an 835 file's remittances; E070 for a malformed file and E055 for one imported before.

    Nothing is written until the whole file has parsed; the caller's transaction makes it all or nothing.
    """
    digest = hashlib.sha256(data).hexdigest()
    before = session.scalar(select(Remittance.id).where(Remittance.sha256 == digest).limit(1))
    if before is not None:
        raise MedcodeError(ErrorCode.CONFLICT, detail=f"this 835 file was imported before (remittance {before})")
    parsed = read_835(data, source)
    encounters = _match(session, [c.claim_id for r in parsed for c in r.claims])
    result = ImportResult(remittances=[], claims=0, matched=0, unmatched=[], adjustments=0, coding_denials=0,
                          denied=[])
    for remittance in parsed:
        row = Remittance(sha256=digest, payer=remittance.payer[:200], trace=remittance.trace,
                         paid_on=remittance.paid_on, claims=len(remittance.claims), matched=0, denied=0,
                         received_at=utcnow(), received_by=received_by)
        session.add(row)
        session.flush()
        pending: list[tuple[Adjustment, Encounter, CodingDenial]] = []
        for claim in remittance.claims:
            encounter = encounters.get(claim.claim_id)
            reopen = encounter is not None and encounter.status in REOPENED_FROM
            coding = _lazy(encounter, settings) if encounter is not None and reopen else _no_coding
            if encounter is None:
                result.unmatched.append(claim.claim_id)
            else:
                row.matched += 1
            for judged in review_adjustments(claim, coding, settings.billing.coding_carcs):
                adjustment = Adjustment(
                    remittance_id=row.id, claim_id=claim.claim_id[:200],
                    encounter_id=encounter.id if encounter else None, claim_status=claim.status,
                    service=judged.service[:48] if judged.service else None, group=judged.adjustment.group,
                    carc=judged.adjustment.carc, rarcs=judged.remarks, amount=judged.adjustment.amount,
                    coding=judged.denial is not None)
                session.add(adjustment)
                result.adjustments += 1
                if judged.denial is not None and encounter is not None and reopen:
                    pending.append((adjustment, encounter, judged.denial))
        session.flush()  # adjustment ids, for the denials that cite them
        for adjustment, encounter, denial in pending:
            session.add(Denial(encounter_id=encounter.id, remittance_id=row.id, adjustment_id=adjustment.id,
                               group=denial.group, carc=denial.carc, rarcs=denial.rarcs, reason=denial.reason,
                               concerns=denial.concerns, codes=denial.codes, status="open", created_at=utcnow()))
            if encounter.status != "denied":
                # Reopened: its final codes replay from the trail again, so the coder's corrections count.
                encounter.status, encounter.final_codes = "denied", None
                result.denied.append(encounter.id)
                row.denied += 1
        result.coding_denials += len(pending)
        result.claims += len(remittance.claims)
        result.matched += row.matched
        result.remittances.append(row.id)
    session.flush()
    return result


def _no_coding() -> None:
    return None


def _lazy(encounter: Encounter, settings: Settings) -> Callable[[], ClaimCoding | None]:
    @cache
    def coding() -> ClaimCoding | None:
        return claim_coding_for(encounter, settings, with_drg=False)  # a denial names codes, not the DRG
    return coding


def denials(session: Session, *, status: str | None = "open", encounter_id: str | None = None,
            limit: int = 200) -> list[DenialPublic]:
    """The coding denials (open ones by default), newest first, with the encounter and payer they concern."""
    query = (select(Denial, Encounter.external_id, Remittance.payer, Adjustment.amount)
             .join(Encounter, Encounter.id == Denial.encounter_id)
             .join(Adjustment, Adjustment.id == Denial.adjustment_id)
             .join(Remittance, Remittance.id == Denial.remittance_id)
             .order_by(Denial.created_at.desc(), Denial.id.desc()).limit(limit))
    if status:
        query = query.where(Denial.status == status)
    if encounter_id:
        query = query.where(Denial.encounter_id == encounter_id)
    out = []
    for denial, external_id, payer, amount in session.execute(query):
        out.append(DenialPublic(id=denial.id, encounter_id=denial.encounter_id, external_id=external_id,
                                remittance_id=denial.remittance_id, payer=payer, group=denial.group,
                                carc=denial.carc, rarcs=denial.rarcs, reason=denial.reason, concerns=denial.concerns,
                                codes=denial.codes, amount=amount,
                                status=denial.status, created_at=denial.created_at, resolved_at=denial.resolved_at))
    return out
