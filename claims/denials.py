"""Which adjustments of a remitted claim point at the coding, and at which of its codes.

CARC 4, 9, 10, 11, 146, 167 and 236 always do; CARC 16 (claim lacks information) only with RARC M76,
MA63 or MA65; the site may name more (`MEDCODE_BILLING__CODING_CARCS`). The reasons' texts and the
codes each one concerns are data (`resources/coding_adjustments.json`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from claims.remittance import Adjustment, RemittedClaim
from claims.types import ClaimCoding

Concerns = Literal["diagnoses", "principal", "admitting", "procedures", "coding"]


class CodingDenial(BaseModel):
    """A payer's adjustment that sends the claim back to coding, with the codes it concerns."""

    model_config = ConfigDict(frozen=True)

    group: str
    carc: str
    rarcs: list[str] = Field(default_factory=list)
    amount: Decimal
    reason: str = Field(description="The payer's reason, as the CARC (and RARC) texts say it.")
    concerns: Concerns
    codes: list[str] = Field(description="The claim's codes the reason points at, in display form.")


@cache
def _reasons() -> dict[str, Any]:
    return json.loads(files("claims").joinpath("resources", "coding_adjustments.json").read_text("utf-8"))


def _classify(adjustment: Adjustment, remarks: list[str], extra: frozenset[str]) -> tuple[str, Concerns] | None:
    """(reason text, what it concerns) when the adjustment points at the coding, else None."""
    reasons = _reasons()
    if adjustment.carc in reasons["carcs"]:
        entry = reasons["carcs"][adjustment.carc]
        return entry["text"], entry["concerns"]
    if adjustment.carc == "16":
        rarcs = reasons["carc_16"]["rarcs"]
        hits = [r for r in remarks if r in rarcs]
        if hits:
            return (f"{reasons['carc_16']['text']} {' '.join(rarcs[r]['text'] for r in hits)}",
                    rarcs[hits[0]]["concerns"])
    if adjustment.carc in extra:
        return f"CARC {adjustment.carc} (a coding reason at this site).", "coding"
    return None


def _codes(coding: ClaimCoding | None, concerns: Concerns, service: str | None) -> list[str]:
    if coding is None:
        return [service] if service else []
    if concerns == "principal":
        chosen = [d.code for d in coding.diagnoses if d.role == "principal"]
    elif concerns == "admitting":
        chosen = [d.code for d in coding.diagnoses if d.role == "admitting"]
    elif concerns == "diagnoses":
        chosen = [d.code for d in coding.diagnoses]
    elif concerns == "procedures":
        chosen = [p.code for p in coding.procedures]
    else:
        chosen = [d.code for d in coding.diagnoses] + [p.code for p in coding.procedures]
    if service and concerns in ("procedures", "coding") and service not in chosen:
        chosen.append(service)
    return chosen


class Reviewed(BaseModel):
    """One adjustment of a remitted claim, where it sits (a service line's code, or the claim), and the
    coding denial it amounts to, if any."""

    model_config = ConfigDict(frozen=True)

    adjustment: Adjustment
    remarks: list[str]
    service: str | None = None
    denial: CodingDenial | None = None


def review_adjustments(claim: RemittedClaim, coding: Callable[[], ClaimCoding | None],
                       extra_carcs: Iterable[str] = ()) -> list[Reviewed]:
    """Every adjustment of `claim` (claim level, then each service line), judged.

    `coding` gives the claim's coding, asked only when an adjustment points at it (grouping costs time).
    """
    extra = frozenset(extra_carcs)
    out = []
    levels = [(claim.adjustments, claim.remarks, None)] + [
        (s.adjustments, claim.remarks + s.remarks, s.procedure) for s in claim.services]
    for adjustments, remarks, service in levels:
        for adjustment in adjustments:
            hit = _classify(adjustment, remarks, extra)
            denial = None
            if hit is not None:
                reason, concerns = hit
                rarcs = [r for r in remarks if r in _reasons()["carc_16"]["rarcs"]] if adjustment.carc == "16" else []
                denial = CodingDenial(group=adjustment.group, carc=adjustment.carc, rarcs=rarcs,
                                      amount=adjustment.amount, reason=reason, concerns=concerns,
                                      codes=_codes(coding(), concerns, service))
            out.append(Reviewed(adjustment=adjustment, remarks=remarks, service=service, denial=denial))
    return out
