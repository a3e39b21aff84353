"""The Medicare Code Editor (msdrg's MceEditor): its edits as findings, each tied to the codes that fire it.

The MCE reports edit names and counts, not codes; an edit about single codes is traced to them by
editing each code alone beside the principal diagnosis (a fraction of a millisecond per code).
"""

from __future__ import annotations

import json
from datetime import date
from functools import cache, lru_cache
from importlib.resources import files
from typing import Any

from codesets.types import display_code, normalize_code
from medcode.types import System
from validation.claims import claim, engine, first_listed
from validation.types import CodedDiagnosis, Encounter, Finding, Severity

#: The last discharge date CMS's MCE ran its sex-conflict edit on (deleted from MCE v42, FY2025).
SEX_EDIT_LAST_DAY = date(2024, 9, 30)
#: Outpatient claims are not MCE claims; only its code-level age and sex lists still say something there.
_OUTPATIENT_EDITS = ("AGE_CONFLICT", "SEX_CONFLICT", "LEGACY_SEX_CONFLICT")
#: A principal diagnosis that fires no edit, beside which a procedure is edited alone.
_PROBE_PDX = "I10"


@cache
def _table() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files("validation").joinpath("resources", "mce_edits.json").read_text("utf-8"))
    return data


def _editor() -> Any:
    import msdrg

    return engine("mce", msdrg.MceEditor)


def _edits(claim_dict: dict[str, Any]) -> tuple[str, dict[str, int]]:
    result = _editor().edit(claim_dict)
    return result["edit_type"], {e["name"]: e["count"] for e in result["edits"]}


def mce_findings(encounter: Encounter) -> list[Finding]:
    """The MCE's edits of the encounter as findings (inpatient: all; outpatient: age and sex lists only)."""
    principal, secondary = first_listed(encounter)
    if principal is None:
        return []
    procedures = [p.code for p in encounter.procedures]
    edit_type, fired = _edits(claim(encounter, principal, secondary, procedures))
    if edit_type == "INVALID_DISCHARGE_DATE":
        return [Finding(severity="info", rule="mce-out-of-range", codes=[],
                        message=f"The Medicare Code Editor has no data for {encounter.day.isoformat()}; "
                        "its edits did not run.", fix=None)]
    if encounter.day > SEX_EDIT_LAST_DAY and encounter.patient.sex != "unknown":
        legacy = encounter.model_copy(update={"date_of_service": SEX_EDIT_LAST_DAY})
        _, before = _edits(claim(legacy, principal, secondary, procedures))
        if before.get("SEX_CONFLICT"):
            fired["LEGACY_SEX_CONFLICT"] = before["SEX_CONFLICT"]
    findings = []
    for name in fired:
        if name in _table()["skip"] or (encounter.patient.age is None and name in ("AGE_CONFLICT", "INVALID_AGE")):
            continue
        if encounter.setting == "outpatient" and name not in _OUTPATIENT_EDITS:
            continue
        if name == "INVALID_SEX" and encounter.day > SEX_EDIT_LAST_DAY:
            continue
        findings.append(_finding(encounter, name, _codes_of(encounter, name, principal, secondary)))
    return findings


def _codes_of(encounter: Encounter, name: str, principal: CodedDiagnosis,
              secondary: list[CodedDiagnosis]) -> list[tuple[System, str]]:
    """The codes an edit is about: the principal, or each code that fires it on its own."""
    scope = _table()["edits"].get(name, {}).get("scope", "code")
    if scope == "claim":
        return []
    if scope == "pdx":
        return [("ICD-10-CM", principal.code)]
    day = SEX_EDIT_LAST_DAY if name == "LEGACY_SEX_CONFLICT" else encounter.day
    edit = "SEX_CONFLICT" if name == "LEGACY_SEX_CONFLICT" else name
    probe = encounter.model_copy(update={"date_of_service": day})
    alone = _edits(claim(probe, principal))[1].get(edit, 0)
    found: list[tuple[System, str]] = [("ICD-10-CM", principal.code)] if alone else []
    for d in secondary:
        if _edits(claim(probe, principal, [d]))[1].get(edit, 0) > alone:
            found.append(("ICD-10-CM", d.code))
    for p in encounter.procedures:
        if _edits(claim(probe, principal, procedures=[p.code]))[1].get(edit, 0) > alone:
            found.append(("ICD-10-PCS", p.code))
    if found:
        return found
    # A combination edit: no single code fires it, so it is about all of them.
    return [("ICD-10-CM", principal.code), *(("ICD-10-CM", d.code) for d in secondary),
            *(("ICD-10-PCS", p.code) for p in encounter.procedures)]


def _finding(encounter: Encounter, name: str, codes: list[tuple[System, str]]) -> Finding:
    spec = _table()["edits"].get(name)
    shown = list(dict.fromkeys(display_code(system, normalize_code(code)) for system, code in codes))
    if spec is None:
        return Finding(severity="warning", rule=f"mce-{name.lower().replace('_', '-')}", codes=shown,
                       message=f"Medicare Code Editor edit {name} on {', '.join(shown) or 'the claim'}.", fix=None)
    fill = {"codes": ", ".join(shown), "age": encounter.patient.age, "sex": encounter.patient.sex,
            "date": encounter.day.isoformat()}
    severity: Severity = spec["severity"]
    return Finding(severity=severity, rule=f"mce-{name.lower().replace('_', '-')}", codes=shown,
                   message=spec["message"].format(**fill), fix=spec["fix"].format(**fill) if spec.get("fix") else None)


def code_conflicts(encounter: Encounter, system: System, code: str) -> list[Finding]:
    """Age and sex edits for one code on its own, against the encounter's patient and date (for suggestions)."""
    key = normalize_code(code)
    return [_finding(encounter, name, [(system, key)]) for name in _conflicts(
        system, key, encounter.patient.age, encounter.patient.sex, encounter.day)]


@lru_cache(maxsize=16384)
def _conflicts(system: System, key: str, age: int | None, sex: str, day: date) -> tuple[str, ...]:
    alone = Encounter(setting="inpatient", date_of_service=day, patient={"age": age, "sex": sex})
    if system == "ICD-10-CM":
        probe = claim(alone, CodedDiagnosis(code=key))
    else:
        probe = claim(alone, CodedDiagnosis(code=_PROBE_PDX), procedures=[key])
    _, fired = _edits(probe)
    names = [n for n in ("AGE_CONFLICT", "SEX_CONFLICT") if fired.get(n) and (n != "AGE_CONFLICT" or age is not None)]
    if day > SEX_EDIT_LAST_DAY and sex != "unknown":
        _, before = _edits({**probe, "discharge_date": int(SEX_EDIT_LAST_DAY.strftime("%Y%m%d"))})
        if before.get("SEX_CONFLICT"):
            names.append("LEGACY_SEX_CONFLICT")
    return tuple(names)
