"""The coding as a FHIR R4 `Claim` (institutional or professional), validated by fhir.resources before it leaves.

fhir.resources 8.x carries R4 as `fhir.resources.R4B` (R4's technical correction; `Claim` is the same).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.claim import Claim
from pydantic import ValidationError

from claims.types import ClaimCoding
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import BillingSettings

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
MS_DRG = "https://www.cms.gov/Medicare/Medicare-Fee-for-Service-Payment/AcuteInpatientPPS/MS-DRG-Classifications-and-Software"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
ON_ADMISSION = "http://terminology.hl7.org/CodeSystem/ex-diagnosis-on-admission"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
CLAIM_ID = "https://medcode.dev/fhir/sid/patient-control-number"
NPI = "http://hl7.org/fhir/sid/us-npi"
#: CMS's POA 1 (exempt from reporting) has no code in ex-diagnosis-on-admission: it is sent as no onAdmission.
POA_CODES = {"Y": "y", "N": "n", "U": "u", "W": "w"}


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def claim_resource(coding: ClaimCoding, billing: BillingSettings) -> dict[str, Any]:
    """The `Claim` as JSON, validated against R4; E071 when the coding cannot make one."""
    if coding.principal is None:
        raise MedcodeError(ErrorCode.BAD_CLAIM, format="FHIR", id=coding.encounter_id,
                           detail="it has no principal diagnosis")
    package = (_concept(MS_DRG, str(coding.drg.drg), coding.drg.description)
               if coding.drg and coding.drg.drg != 999 else None)
    diagnoses = []
    for d in coding.diagnoses:
        entry: dict[str, Any] = {"sequence": d.sequence, "diagnosisCodeableConcept": _concept(ICD10CM, d.code,
                                 d.description or None), "type": [_concept(DIAGNOSIS_TYPE, d.role)]}
        if d.poa in POA_CODES and coding.claim_type == "institutional":
            entry["onAdmission"] = _concept(ON_ADMISSION, POA_CODES[d.poa])
        if package and d.role == "principal":
            entry["packageCode"] = package
        diagnoses.append(entry)
    procedures = [{"sequence": p.sequence, **({"date": p.date.isoformat()} if p.date else {}),
                   "procedureCodeableConcept": _concept(ICD10PCS, p.code, p.description or None)}
                  for p in coding.procedures]
    provider: dict[str, Any] = {"display": billing.facility or "Billing provider"}
    if billing.provider_npi:
        provider["identifier"] = {"system": NPI, "value": billing.provider_npi}
    payload = {
        "resourceType": "Claim", "id": coding.encounter_id, "status": "active",
        "identifier": [{"system": CLAIM_ID, "value": coding.claim_id}],
        "type": _concept(CLAIM_TYPE, coding.claim_type), "use": "claim",
        "patient": {"identifier": {"system": CLAIM_ID, "value": coding.claim_id},
                    "display": "Patient of the encounter"},
        "billablePeriod": {"start": coding.day.isoformat(), "end": coding.day.isoformat()},
        "created": (coding.submitted_at or dt.datetime.now(dt.UTC)).isoformat(),
        "provider": provider, "priority": _concept(PROCESS_PRIORITY, "normal"),
        # Coverage lives in patient accounting; the coding fragment only names the slot the biller fills.
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Coverage on file"}}],
        "diagnosis": diagnoses,
    }
    if procedures:
        payload["procedure"] = procedures
    return validated(payload)


def validated(payload: dict[str, Any]) -> dict[str, Any]:
    """`payload` parsed as an R4 `Claim` and written back; E071 naming the first bad field otherwise."""
    try:
        return Claim.model_validate(payload).model_dump(mode="json", exclude_none=True)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "Claim"
        raise MedcodeError(ErrorCode.BAD_CLAIM, format="FHIR", id=payload.get("id"),
                           detail=f"{where}: {first['msg']}") from None
