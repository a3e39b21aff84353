"""The claim-ready coding of one encounter, the typed input of every export format."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from codesets.types import normalize_code
from validation.types import DrgResult, Encounter, Patient

ClaimType = Literal["institutional", "professional"]
DiagnosisRole = Literal["principal", "admitting", "secondary"]
Format = Literal["fhir", "hl7", "x12"]


class ClaimDiagnosis(BaseModel):
    """One ICD-10-CM code of the claim, in claim sequence."""

    model_config = ConfigDict(frozen=True)

    sequence: int = Field(ge=1)
    code: str = Field(description="ICD-10-CM with its dot.", examples=["I50.23"])
    description: str = ""
    role: DiagnosisRole
    poa: str | None = Field(default=None, description="Present on admission: Y, N, U, W or 1 (institutional).")

    @property
    def bare(self) -> str:
        """The code without its dot, as X12 and most HL7 feeds carry it."""
        return normalize_code(self.code)


class ClaimProcedure(BaseModel):
    """One ICD-10-PCS code of the claim, in claim sequence (1 is the principal procedure)."""

    model_config = ConfigDict(frozen=True)

    sequence: int = Field(ge=1)
    code: str = Field(examples=["0FT44ZZ"])
    description: str = ""
    date: dt.date | None = None


class ClaimCoding(BaseModel):
    """What billing needs of one submitted encounter's coding: ids, patient, dates, codes in sequence, MS-DRG."""

    model_config = ConfigDict(frozen=True)

    encounter_id: str = Field(description="medcode's id of the encounter.")
    claim_id: str = Field(description="The patient control number (CLP01 in the payer's 835): the EHR's "
                          "encounter id, else medcode's.")
    claim_type: ClaimType
    setting: Literal["inpatient", "outpatient"]
    date_of_service: dt.date | None = None
    patient: Patient = Patient()
    diagnoses: list[ClaimDiagnosis] = Field(default_factory=list)
    procedures: list[ClaimProcedure] = Field(default_factory=list)
    drg: DrgResult | None = None
    submitted_at: dt.datetime | None = None

    @property
    def principal(self) -> ClaimDiagnosis | None:
        return next((d for d in self.diagnoses if d.role == "principal"), None)

    @property
    def admitting(self) -> ClaimDiagnosis | None:
        return next((d for d in self.diagnoses if d.role == "admitting"), None)

    @property
    def day(self) -> dt.date:
        """The date of service, else the submission's day, else today."""
        if self.date_of_service:
            return self.date_of_service
        return (self.submitted_at or dt.datetime.now(dt.UTC)).date()

    @classmethod
    def of(cls, encounter: Encounter, *, encounter_id: str, claim_id: str, claim_type: ClaimType,
           descriptions: dict[str, str] | None = None, admitting: str | None = None, drg: DrgResult | None = None,
           submitted_at: dt.datetime | None = None) -> ClaimCoding:
        """The claim coding of a validation `Encounter`: its principal first, then the others in order.

        `descriptions` maps normalized codes to their text; `admitting` is the admitting diagnosis code.
        """
        descriptions = descriptions or {}
        principal = encounter.principal
        ordered = ([principal] if principal else []) + [d for d in encounter.diagnoses if d is not principal]
        diagnoses = [ClaimDiagnosis(sequence=i, code=d.code, description=descriptions.get(normalize_code(d.code), ""),
                                    role="principal" if d is principal else "secondary", poa=d.poa)
                     for i, d in enumerate(ordered, start=1)]
        if admitting:
            diagnoses.append(ClaimDiagnosis(sequence=len(diagnoses) + 1, code=admitting, role="admitting",
                                            description=descriptions.get(normalize_code(admitting), "")))
        procedures = [ClaimProcedure(sequence=i, code=p.code, date=p.date or encounter.date_of_service,
                                     description=descriptions.get(normalize_code(p.code), ""))
                      for i, p in enumerate(encounter.procedures, start=1)]
        return cls(encounter_id=encounter_id, claim_id=claim_id, claim_type=claim_type, setting=encounter.setting,
                   date_of_service=encounter.date_of_service, patient=encounter.patient, diagnoses=diagnoses,
                   procedures=procedures, drg=drg, submitted_at=submitted_at)
