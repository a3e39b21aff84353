"""Coding-rule findings and DRG for a note's suggestions, from the validation package (issue 5).

The serving API only assembles the validation package's `Encounter` from what it stores and passes
it on; the rules themselves live in `validation/`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import validation
from medcode.types import Suggestion
from serving.schemas import EncounterMeta, FinalCode
from validation.types import CodedDiagnosis, CodedProcedure, DrgImpact, DrgResult, Encounter, Finding


@dataclass
class Review:
    """What validation says about an encounter: findings, its DRG, and each pending suggestion's DRG."""

    findings: list[Finding] = field(default_factory=list)
    drg: DrgResult | None = None
    drg_impact: list[DrgImpact] = field(default_factory=list)


def review(meta: EncounterMeta | None, suggestions: list[Suggestion], final: list[FinalCode] | None = None) -> Review:
    """Findings on the final codes and the suggestions, the DRG, and the DRG impact of pending suggestions."""
    meta = meta or EncounterMeta()
    final = final or []
    diagnoses = [CodedDiagnosis(code=c.code, principal=i == 0) for i, c in
                 enumerate(c for c in final if c.system == "ICD-10-CM")]
    procedures = [CodedProcedure(code=c.code, date=meta.date_of_service) for c in final if c.system == "ICD-10-PCS"]
    encounter = Encounter(setting=meta.setting or "outpatient", date_of_service=meta.date_of_service,
                          patient=meta.patient, diagnoses=diagnoses,
                          procedures=procedures)
    # Negated and family-history codes are shown dimmed, never billed: checking them would raise
    # Excludes1 pairs like R07.9 beside a present R52 for a note that says "denies chest pain".
    suggestions = [s for s in suggestions if s.assertion not in ("negated", "family")]
    findings = [*validation.check_suggestions(encounter, suggestions)]
    if final:
        findings = [*validation.validate(encounter), *findings]
    drg = validation.group(encounter) if meta.setting == "inpatient" else None
    impact = validation.drg_impact(encounter, suggestions) if meta.setting == "inpatient" else []
    return Review(findings=findings, drg=drg, drg_impact=impact)
