"""The numbers a coding manager asks for: acceptance of suggestions by code and by coder, codes coders added
that medcode never suggested, denials by reason, and time from open to submit."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from codesets.types import normalize_code
from serving.review import aware
from serving.store.models import Adjustment, Encounter, Remittance
from serving.store.models import Denial as DenialRow


class Acceptance(BaseModel):
    """Decisions on suggested codes: accepted over accepted + rejected + changed to another code."""

    key: str = Field(description="The code (`system code`) or the coder.")
    accepted: int
    decided: int
    rate: float


class AddedCode(BaseModel):
    """A code coders added by hand that medcode had not suggested for that note."""

    system: str
    code: str
    times: int


class DenialRate(BaseModel):
    """Remitted claims adjusted for one reason, over all remitted claims."""

    carc: str
    coding: bool = Field(description="Whether the reason points at the coding (it reopens encounters).")
    claims: int
    rate: float


class OpenToSubmit(BaseModel):
    """Hours from an encounter's creation to its submission, over submitted encounters."""

    encounters: int
    median_hours: float | None
    mean_hours: float | None
    p90_hours: float | None


class CodingMetrics(BaseModel):
    since: datetime | None
    by_code: list[Acceptance]
    by_coder: list[Acceptance]
    added_not_suggested: list[AddedCode]
    denials: list[DenialRate]
    remitted_claims: int
    open_denials: int
    open_to_submit: OpenToSubmit


def _rates(counts: dict[str, list[int]], top: int) -> list[Acceptance]:
    rows = [Acceptance(key=k, accepted=a, decided=n, rate=round(a / n, 4)) for k, (a, n) in counts.items() if n]
    return sorted(rows, key=lambda r: (-r.decided, r.key))[:top]


def coding_metrics(session: Session, *, since: datetime | None = None, top: int = 50) -> CodingMetrics:
    """The metrics over decisions, submissions and remittances since `since` (everything when None)."""
    by_code: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_coder: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    added: Counter[tuple[str, str]] = Counter()
    query = select(Encounter).where(Encounter.decisions.any())
    for row in session.scalars(query):
        suggested = {(s["system"], normalize_code(s["code"])) for s in row.suggestions}
        for d in row.decisions:
            if since and aware(d.at) < since:
                continue
            # A modify judges the suggestion it replaces; its new code is a hand-added one when not suggested.
            judged = d.replaces if d.action == "modify" else d.code
            on_suggestion = judged is not None and (d.system, normalize_code(judged)) in suggested
            if d.action in ("accept", "reject", "modify") and on_suggestion:
                hit = int(d.action == "accept")
                for counts, key in ((by_code, f"{d.system} {judged}"), (by_coder, d.coder)):
                    counts[key][0] += hit
                    counts[key][1] += 1
            if d.action in ("add", "modify") and (d.system, normalize_code(d.code)) not in suggested:
                added[(d.system, d.code)] += 1
    adjusted = select(Adjustment.carc, Adjustment.coding, Adjustment.remittance_id, Adjustment.claim_id).distinct()
    if since:
        adjusted = adjusted.join(Remittance, Remittance.id == Adjustment.remittance_id).where(
            Remittance.received_at >= since)
    submitted = select(Encounter.created_at, Encounter.submitted_at).where(Encounter.status == "submitted",
                                                                            Encounter.submitted_at.is_not(None))
    open_denials = select(func.count()).select_from(DenialRow).where(DenialRow.status == "open")
    if since:
        submitted = submitted.where(Encounter.submitted_at >= since)
    reasons: dict[str, set[tuple[int, str]]] = defaultdict(set)
    coding_reasons: set[str] = set()
    for carc, coding, remittance_id, claim_id in session.execute(adjusted):
        reasons[carc].add((remittance_id, claim_id))
        if coding:
            coding_reasons.add(carc)
    remitted = len(set().union(*reasons.values())) if reasons else 0
    denials = [DenialRate(carc=carc, coding=carc in coding_reasons, claims=len(claims),
                          rate=round(len(claims) / remitted, 4)) for carc, claims in reasons.items()]
    hours = sorted((aware(done) - aware(opened)).total_seconds() / 3600 for opened, done in session.execute(submitted))
    timing = OpenToSubmit(
        encounters=len(hours), median_hours=round(statistics.median(hours), 3) if hours else None,
        mean_hours=round(statistics.fmean(hours), 3) if hours else None,
        p90_hours=round(hours[min(len(hours) - 1, int(0.9 * len(hours)))], 3) if hours else None)
    return CodingMetrics(
        since=since, by_code=_rates(by_code, top), by_coder=_rates(by_coder, top),
        added_not_suggested=[AddedCode(system=s, code=c, times=n) for (s, c), n in added.most_common(top)],
        denials=sorted(denials, key=lambda r: (-r.claims, r.carc)), remitted_claims=remitted,
        open_denials=session.scalar(open_denials) or 0, open_to_submit=timing)
