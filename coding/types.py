"""The claim-ready coding: what a certified coder would bill for the note, and why each code is (not) in it.

These are the library's types and the API's response schema alike (`POST /v1/suggest` returns `coding`
beside `suggestions`). Each code carries the guideline rules that put it there; each candidate left out
carries the rule that dropped it and the code it gave way to.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from medcode.types import Evidence, System
from validation.types import DrgResult, Patient, ServiceDate

Setting = Literal["inpatient", "outpatient"]
#: Present-on-admission: Y yes, N no, U documentation insufficient, W clinically undetermined,
#: 1 exempt from POA reporting (CMS's list). None for outpatient codings, which report no POA.
Poa = Literal["Y", "N", "U", "W", "1"]


class CodingContext(BaseModel):
    """The encounter the coding is for: setting, date of service and patient decide which rules apply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    setting: Setting = "inpatient"
    date_of_service: ServiceDate | None = Field(default=None, description="Discharge date for inpatient stays.")
    patient: Patient = Patient()


class RuleRef(BaseModel):
    """A guideline rule applied to a code: its stable name, the section it cites, and what it did here."""

    model_config = ConfigDict(frozen=True)

    rule: str = Field(description="Stable rule name, e.g. combination-code, integral-symptom, excludes1.",
                      examples=["combination-code"])
    section: str = Field(description="ICD-10-CM/PCS Official Guidelines section, e.g. I.B.9.", examples=["I.B.9"])
    message: str = Field(description="What the rule did for this code, in a coder's words.")


class CodedDiagnosisProposal(BaseModel):
    """One ICD-10-CM code of the proposed coding, in claim sequence."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="ICD-10-CM with its dot.", examples=["K80.00"])
    description: str
    sequence: int = Field(ge=1, description="Claim order: 1 is the principal (inpatient) or first-listed diagnosis.")
    principal: bool
    poa: Poa | None = Field(default=None, description="Present on admission (inpatient only).")
    evidence: list[Evidence]
    rules: list[RuleRef]
    score: float | None = Field(default=None, ge=0.0, le=1.0, description="The ranked suggestion's score, "
                                "when the code was suggested; None for a code the rules derived.")


class CodedProcedureProposal(BaseModel):
    """One procedure code of the proposed coding, in claim sequence (ICD-10-PCS inpatient; CPT/HCPCS outpatient)."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(examples=["0FT44ZZ"])
    system: System = "ICD-10-PCS"
    description: str
    sequence: int = Field(ge=1)
    principal: bool
    date: dt.date | None = None
    evidence: list[Evidence]
    rules: list[RuleRef]
    score: float | None = Field(default=None, ge=0.0, le=1.0)


class DroppedCode(BaseModel):
    """A ranked candidate the coding leaves out, with the rule that dropped it and in favour of what."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(examples=["R50.9"])
    system: System
    rule: str = Field(examples=["integral-symptom"])
    section: str = Field(examples=["I.B.5"])
    by: str | None = Field(default=None, description="The code it gave way to, if any.", examples=["K80.00"])
    message: str = Field(examples=["R50.9: integral to K80.00, guideline I.B.5"])


class Coding(BaseModel):
    """The proposed claim coding for one note: principal diagnosis, secondaries in sequence, procedures, MS-DRG."""

    model_config = ConfigDict(frozen=True)

    context: CodingContext
    diagnoses: list[CodedDiagnosisProposal]
    procedures: list[CodedProcedureProposal]
    drg: DrgResult | None = Field(default=None, description="MS-DRG of this coding (inpatient), else None.")
    dropped: list[DroppedCode]
