"""The guideline notes' codings as billing gets them: a FHIR R4 `Claim`, an HL7 `DFT^P03` and the X12 HI
segments, each through its validator and read back (principal first, POA, procedures in sequence).

Used by `python -m benchmarks.coding` (the full index) and by tests/coding (the small one).
"""

from __future__ import annotations

from fhir.resources.R4B.claim import Claim

from claims.fhir_claim import claim_resource
from claims.hl7_dft import dft_message, read_diagnoses, validate_message
from claims.types import ClaimCoding
from claims.x12_hi import hi_segments, read_hi
from codesets.types import normalize_code
from coding import Coding, CodingContext
from medcode.errors import MedcodeError
from medcode.settings import BillingSettings
from validation.types import CodedDiagnosis, CodedProcedure, Encounter

FORMATS = ("fhir", "hl7", "x12")
BILLING = BillingSettings(facility="General Hospital", provider_npi="1234567893")


def claim_coding(name: str, coding: Coding, context: CodingContext) -> ClaimCoding:
    """The claim coding a coder who confirmed the proposed coding as it stands would submit."""
    encounter = Encounter(
        setting=context.setting, date_of_service=context.date_of_service, patient=context.patient,
        diagnoses=[CodedDiagnosis(code=d.code, principal=d.principal, poa=d.poa) for d in coding.diagnoses],
        procedures=[CodedProcedure(code=p.code, date=context.date_of_service) for p in coding.procedures
                    if p.system == "ICD-10-PCS"])
    inpatient = context.setting == "inpatient"
    return ClaimCoding.of(encounter, encounter_id=name, claim_id=name[:20],
                          claim_type="institutional" if inpatient else "professional",
                          drg=coding.drg,  # the coding step grouped it (inpatient only)
                          descriptions={normalize_code(d.code): d.description for d in coding.diagnoses})


def export_failures(codings: dict[str, Coding], contexts: dict[str, CodingContext]) -> tuple[int, list[str]]:
    """(exports checked, what failed): every note's coding in each of `FORMATS`."""
    checked, failures = 0, []
    for name, coding in codings.items():
        if not coding.diagnoses:
            failures.append(f"{name}: no diagnosis to bill")
            continue
        claim = claim_coding(name, coding, contexts[name])
        principal = normalize_code(coding.diagnoses[0].code)
        pcs = [normalize_code(p.code) for p in coding.procedures if p.system == "ICD-10-PCS"]
        for fmt in FORMATS:
            checked += 1
            try:
                if fmt == "fhir":
                    read = Claim.model_validate(claim_resource(claim, BILLING))
                    first = read.diagnosis[0]
                    ok = (normalize_code(first.diagnosisCodeableConcept.coding[0].code) == principal
                          and first.type[0].coding[0].code == "principal")
                elif fmt == "hl7":
                    message = dft_message(claim, BILLING)
                    validate_message(message, name)
                    ok = normalize_code(read_diagnoses(message)[0][0]) == principal
                else:
                    hi = read_hi(hi_segments(claim))
                    ok = (hi[0][0] == "ABK" and normalize_code(hi[0][1]) == principal
                          and [c for q, c, _, _ in hi if q in ("BBR", "BBQ")] == pcs
                          and (claim.setting != "inpatient" or hi[0][3] == coding.diagnoses[0].poa))
            except (MedcodeError, ValueError) as error:  # pydantic's ValidationError is a ValueError
                failures.append(f"{name} {fmt}: {str(error).splitlines()[0]}")
                continue
            if not ok:
                failures.append(f"{name} {fmt}: read back without its principal {principal} first")
    return checked, failures
