"""The API's request and response bodies; suggestions are the library's own `Suggestion`."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from coding.types import Coding, CodingContext, DroppedCode, Poa, RuleRef
from medcode.types import ICD10_SYSTEMS, Evidence, Suggestion, System
from serving.fhir_schema import fhir_input_schema
from validation.types import DrgImpact, DrgResult, Finding, Patient, ServiceDate

#: What a coder decides: a code in or out (accept, reject, add, modify), or its place in the claim
#: (principal, sequence) and its present-on-admission indicator (poa).
Action = Literal["accept", "reject", "add", "modify", "principal", "sequence", "poa"]
EncounterStatus = Literal["pending", "submitted", "denied"]
#: A note has some text that is not blank: the intake refuses a blank one (E001, 422), and the document says so.
NOTE_PATTERN = r"\S"
NOTE_EXAMPLE = ("Chief complaint: chest pain.\nHistory: hypertension, type 2 diabetes.\n"
                "Assessment: NSTEMI. Plan: cardiac catheterization.")


def _iso_time(value: object) -> object:
    """A time is written in ISO 8601: pydantic would read "0.5" as Unix time, which the schema does not allow."""
    if isinstance(value, str) and not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a time is ISO 8601 (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS), not a number")
    return value


#: A time in a query string (`?since=`), ISO 8601 only.
IsoTime = Annotated[datetime, BeforeValidator(_iso_time), Field(json_schema_extra={"pattern": r"^\d{4}-\d{2}-\d{2}"})]


class EncounterMeta(BaseModel):
    """The encounter a note belongs to: setting, date and patient drive validation and grouping."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, max_length=200, description="The EHR's id of the encounter.")
    setting: Literal["inpatient", "outpatient"] | None = None
    date_of_service: ServiceDate | None = None
    patient: Patient = Patient()

    def context(self) -> CodingContext:
        """The coding context of this encounter (the coding step's default setting when none is given)."""
        return CodingContext.model_validate(self.model_dump(exclude={"id"}, exclude_none=True))


class SuggestRequest(BaseModel):
    """A note to code, with its encounter and the options of the ranking."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "text": NOTE_EXAMPLE, "top": 10, "systems": list(ICD10_SYSTEMS),
        "encounter": {"id": "ENC-1001", "setting": "inpatient", "date_of_service": "2026-03-02",
                      "patient": {"age": 67, "sex": "male"}}}]})

    text: str = Field(json_schema_extra={"pattern": NOTE_PATTERN},
                      description="The note, as plain text. PHI: never logged.")
    encounter: EncounterMeta | None = None
    systems: list[System] | None = Field(default=None, min_length=1, description="Only these code systems.")
    top: int | None = Field(default=None, ge=1, le=200, description="At most this many suggestions.")
    negated: Literal["drop", "flag"] | None = Field(default=None, description="Drop or flag negated codes.")


class FhirInput(BaseModel):
    """A FHIR R4 `DocumentReference` with a base64 text attachment, or a `Bundle` holding one."""

    # The server reads the resource with fhir.resources (serving/fhir.py); the document shows its elements.
    model_config = ConfigDict(extra="allow", json_schema_extra=fhir_input_schema)

    resourceType: Literal["DocumentReference", "Bundle"]


class SuggestResponse(BaseModel):
    """The suggestions for a note and its proposed claim coding, with the validation findings and DRG."""

    suggestions: list[Suggestion]
    coding: Coding = Field(description="The claim-ready coding the guidelines give: principal diagnosis, "
                           "secondaries and procedures in sequence with POA, and the candidates left out and why. "
                           "Its rules follow the encounter's setting (inpatient when none is given).")
    findings: list[Finding] = Field(default_factory=list, description="Coding-rule findings on the suggestions.")
    drg: DrgResult | None = Field(default=None, description="The MS-DRG of the coded codes (inpatient).")
    drg_impact: list[DrgImpact] = Field(default_factory=list,
                                        description="The DRG each suggestion would lead to if accepted (inpatient).")


class DecisionCreate(BaseModel):
    """A coder's decision on one code of an encounter."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"action": "accept", "code": "I10", "system": "ICD-10-CM", "coder": "jdoe"},
        {"action": "modify", "code": "I21.4", "system": "ICD-10-CM", "replaces": "I21.9", "coder": "jdoe",
         "reason": "documented NSTEMI"},
        {"action": "principal", "code": "K80.00", "system": "ICD-10-CM", "coder": "jdoe"},
        {"action": "sequence", "code": "E11.65", "system": "ICD-10-CM", "position": 2, "coder": "jdoe"},
        {"action": "poa", "code": "N17.9", "system": "ICD-10-CM", "poa": "N", "coder": "jdoe"}]})

    action: Action
    code: str = Field(min_length=1, max_length=20)
    system: System
    replaces: str | None = Field(default=None, min_length=1, max_length=20,
                                 description="For modify: the suggested code this one replaces.")
    position: int | None = Field(default=None, ge=1, le=100,
                                 description="For sequence: the code's new place in its list (1 = principal).")
    poa: Poa | None = Field(default=None, description="For poa: the present-on-admission indicator.")
    coder: str = Field(min_length=1, max_length=200, description="Who decided (the person, not the key).")
    reason: str | None = Field(default=None, max_length=2000)


class DecisionPublic(BaseModel):
    """A decision as recorded in the audit trail."""

    seq: int
    action: Action
    code: str
    system: System
    replaces: str | None
    position: int | None = None
    poa: Poa | None = None
    coder: str
    reason: str | None
    at: datetime
    key_name: str
    denial_id: int | None = Field(default=None, description="The payer's denial this decision answered, if any.")


class FinalCode(BaseModel):
    """A code of the final set, its place on the claim, and how it got there."""

    code: str
    system: System
    description: str
    sequence: int = Field(default=1, ge=1, description="Claim order within its system's list.")
    principal: bool = Field(default=False, description="The principal (first-listed) diagnosis or procedure.")
    poa: Poa | None = Field(default=None, description="Present on admission (inpatient diagnoses).")
    source: Literal["accepted", "added", "modified"]
    replaces: str | None = None
    decided_by: str
    decided_at: datetime


CodeStatus = Literal["proposed", "confirmed"]


class WorkingCode(BaseModel):
    """One code of the coding being built: proposed by the coding step or put there by the coder."""

    code: str
    system: System
    description: str
    sequence: int = Field(ge=1, description="Place in its list; diagnosis 1 is the principal (first-listed).")
    principal: bool
    poa: Poa | None = None
    status: CodeStatus = Field(description="proposed: not yet confirmed by a coder; confirmed: accepted, "
                               "added, changed or chosen as principal.")
    source: Literal["proposed", "added", "modified"]
    replaces: str | None = Field(default=None, description="For a changed code: the code it replaced.")
    severity: Literal["MCC", "CC"] | None = Field(default=None, description="What the MS-DRG grouper counts "
                                                  "this secondary diagnosis as (inpatient).")
    evidence: list[Evidence] = Field(default_factory=list)
    rules: list[RuleRef] = Field(default_factory=list)
    score: float | None = None
    if_principal: DrgImpact | None = Field(default=None, description="The MS-DRG with this secondary diagnosis "
                                           "as principal (inpatient).")
    if_removed: DrgImpact | None = Field(default=None, description="The MS-DRG without this secondary diagnosis "
                                         "or procedure (inpatient).")


class Alternative(BaseModel):
    """A ranked candidate outside the coding being built, with why the coding step left it out."""

    suggestion: Suggestion
    dropped: DroppedCode | None = None
    rejected: bool = Field(default=False, description="A coder rejected it.")
    impact: DrgImpact | None = Field(default=None, description="The MS-DRG if it were added; only for codes "
                                     "whose evidence is present (never negated, historical, family or rule-out).")


class AlternativeGroup(BaseModel):
    """Candidates that compete for one concept (an ICD-10-CM category, an ICD-10-PCS root operation)."""

    concept: str = Field(examples=["R10"])
    title: str = Field(examples=["Abdominal and pelvic pain"])
    system: System
    coded: list[str] = Field(description="Codes of the coding being built under the same concept.")
    alternatives: list[Alternative]


class WorkingCoding(BaseModel):
    """The proposed coding with the coder's decisions replayed: what the claim would be now."""

    diagnoses: list[WorkingCode]
    procedures: list[WorkingCode]
    alternatives: list[AlternativeGroup]


#: Paging offsets past this are refused (422): the database drivers overflow on larger integers.
MAX_OFFSET = 2**31 - 1


class EncounterSummary(BaseModel):
    """One line of the worklist."""

    id: str
    external_id: str | None
    status: EncounterStatus
    setting: str | None
    date_of_service: date | None
    created_at: datetime
    patient: Patient = Patient()
    suggestions: int = Field(description="Suggestions for the patient (negated and family-history ones left out).")
    decisions: int
    top_finding: Finding | None = Field(default=None, description="The most severe finding when the note was coded.")


class EncounterPublic(BaseModel):
    """An encounter: its note, suggestions, decisions, state and final code set."""

    id: str
    external_id: str | None
    status: EncounterStatus
    text: str
    encounter: EncounterMeta
    systems: list[System] | None
    suggestions: list[Suggestion]
    coding: Coding | None = Field(default=None, description="The coding step's proposal when the note was coded "
                                  "(None for encounters stored before it existed).")
    working: WorkingCoding = Field(description="The coding being built: the proposal with the decisions replayed.")
    pending: list[Suggestion] = Field(description="Suggestions no decision has touched yet.")
    decisions: list[DecisionPublic]
    final_codes: list[FinalCode] = Field(description="The confirmed codes of the coding being built, in sequence.")
    findings: list[Finding] = Field(description="Findings on the coding being built (never between candidates).")
    drg: DrgResult | None = Field(description="The MS-DRG of the coding being built (inpatient).")
    drg_impact: list[DrgImpact] = Field(default_factory=list,
                                        description="The DRG each alternative would lead to if added.")
    created_at: datetime
    created_by: str
    submitted_at: datetime | None
    submitted_by: str | None


class Worklist(BaseModel):
    """A page of encounters, newest first."""

    items: list[EncounterSummary]
    total: int
    limit: int
    offset: int


class CodeHit(BaseModel):
    """A type-ahead match."""

    code: str
    system: System
    description: str
    billable: bool
    matched: str = Field(description="The text that matched: the description, an inclusion term or the code.")


class CodeSearchResult(BaseModel):
    items: list[CodeHit]


class CodeRef(BaseModel):
    code: str
    description: str
    billable: bool


class CodeDetail(BaseModel):
    """One code: description, billable, place in the hierarchy, and its notes."""

    code: str
    system: System
    description: str
    long_description: str | None
    billable: bool
    release: str
    parents: list[CodeRef] = Field(description="From the chapter's first category down to the direct parent.")
    children: list[CodeRef]
    chapter: str | None
    block: str | None
    synonyms: list[str]
    excludes1: list[str]
    excludes2: list[str]
    code_first: list[str]
    use_additional: list[str]
    code_also: list[str]
    seventh: list[tuple[str, str]]
    axes: list[tuple[str, str]]


class NoteIn(BaseModel):
    """One note of a batch job."""

    id: str = Field(min_length=1, max_length=200)
    text: str = Field(description="A blank note fails alone (E001); the rest of the job goes on.")


class JobCreate(BaseModel):
    """A batch of notes to code in the background (or send JSONL lines of `{id, text}`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "notes": [{"id": "n1", "text": "Known hypertension."}, {"id": "n2", "text": "Fever and cough."}],
        "top": 10}]})

    notes: list[NoteIn] = Field(min_length=1, max_length=10_000)
    encounter: EncounterMeta | None = Field(default=None, description="Setting, date and patient the notes' "
                                            "codings follow (inpatient when none is given).")
    top: int | None = Field(default=None, ge=1, le=200)
    systems: list[System] | None = Field(default=None, min_length=1)
    negated: Literal["drop", "flag"] | None = None


class JobPublic(BaseModel):
    """A job's progress."""

    id: str
    status: Literal["queued", "running", "done"]
    total: int
    done: int
    failed: int
    created_at: datetime
    updated_at: datetime


class JobResult(BaseModel):
    """One note's outcome: its suggestions, or the error that stopped it (by code, never by content)."""

    id: str
    status: Literal["pending", "done", "failed"]
    suggestions: list[Suggestion] | None = None
    coding: Coding | None = None
    error: dict[str, Any] | None = None


class JobResults(BaseModel):
    job: JobPublic
    results: list[JobResult]
