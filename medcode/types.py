"""Typed data at the seams: what the NLP finds, what the index proposes, what the coder sees.

`Suggestion` and `Evidence` are pydantic models because they are also the API's response schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

System = Literal["ICD-10-CM", "ICD-10-PCS", "HCPCS", "CPT"]
SYSTEMS: tuple[System, ...] = ("ICD-10-CM", "ICD-10-PCS", "HCPCS", "CPT")
#: The two systems medcode ships, indexes, ranks and evaluates (CPT and HCPCS come only from user files).
ICD10_SYSTEMS: tuple[System, ...] = ("ICD-10-CM", "ICD-10-PCS")
Assertion = Literal["present", "negated", "possible", "historical", "family", "hypothetical"]
MentionKind = Literal["finding", "procedure"]


@dataclass(frozen=True, slots=True)
class Mention:
    """A span of the note that may name a finding or a procedure."""

    start: int
    end: int
    text: str
    kind: MentionKind
    section: str | None = None
    assertion: Assertion = "present"
    #: The words the index is queried with (abbreviations expanded, lower-cased).
    query: str = ""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A code proposed for one mention by one channel, with the features the ranker reads."""

    code: str
    system: System
    mention: Mention
    channel: Literal["exact", "fuzzy", "dense", "usage", "cooccurrence"]
    similarity: float
    matched_text: str = ""
    features: dict[str, float] = field(default_factory=dict)
    #: Where a lexicon candidate's term came from: its kind ("description", "synonym", "usage", a knowledge
    #: source such as "pcs_index"); empty for the dense channel.
    source: str = ""


class Evidence(BaseModel):
    """A span of the note, exactly as given: `note[start:end] == text`."""

    model_config = ConfigDict(frozen=True)

    start: int = Field(ge=0, description="Character offset, inclusive.")
    end: int = Field(ge=0, description="Character offset, exclusive.")
    text: str
    section: str | None = None
    assertion: Assertion = "present"


class Suggestion(BaseModel):
    """One code suggested for the note, with the evidence a coder confirms it by."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "code": "I10",
                    "system": "ICD-10-CM",
                    "description": "Essential (primary) hypertension",
                    "score": 0.83,
                    "rank": 1,
                    "evidence": [
                        {"start": 23, "end": 35, "text": "hypertension", "section": "past_medical_history",
                         "assertion": "historical"}
                    ],
                    "assertion": "historical",
                    "why": "exact match of inclusion term 'hypertension'",
                }
            ]
        },
    )

    code: str = Field(description="ICD-10-CM with its dot (I50.23); ICD-10-PCS as 7 characters.")
    system: System
    description: str
    score: float = Field(ge=0.0, le=1.0, description="Higher is better.")
    rank: int = Field(ge=1)
    evidence: list[Evidence]
    assertion: Assertion = "present"
    why: str
