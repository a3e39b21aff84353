"""The coding rules as data: `coding/resources/*.json`, read once per process into typed, compiled records.

`guidelines.json` holds what the tabular does not say (combination codes found from the note, integral
symptoms by body system, personal and family history, long-term drug status, sequencing); the tabular's own
notes (Excludes1, code first, use additional) are read from the loaded ICD-10-CM code set (validation.references).
Each rule cites its ICD-10-CM/PCS Official Guidelines (FY2026) section.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any

from codesets.types import normalize_code


def _prefixes(items: list[str] | None) -> tuple[str, ...]:
    return tuple(normalize_code(i) for i in items or ())


def phrases(items: list[str] | None) -> tuple[re.Pattern[str], ...]:
    """Rule phrases as one word-bounded pattern, for the lower-cased note."""
    # Word-bounded, case-blind: rule authors write plain phrases or small regexes ("hyperglycemi\\w*").
    # One alternation per list: the note is scanned once per condition, not once per phrase.
    if not items:
        return ()
    # Matched on the lower-cased note (case-blind matching is several times slower): phrases are lower-cased.
    return (re.compile(r"(?<![\w-])(?:" + "|".join(f"(?:{p.lower()})" for p in items) + r")(?![\w])"),)


def matches(key: str, prefixes: tuple[str, ...]) -> bool:
    """Whether a code's lookup key starts with one of the prefixes."""
    return key.startswith(prefixes) if prefixes else False


@dataclass(frozen=True, slots=True)
class Condition:
    """Met by a coded diagnosis under one of `codes`, or by one of `text` stated in the note (in one of
    `sections` when given; with one of `assertions` when given, else as the patient's condition)."""

    codes: tuple[str, ...]
    text: tuple[re.Pattern[str], ...]
    sections: frozenset[str] = frozenset()
    assertions: frozenset[str] = frozenset()

    @classmethod
    def of(cls, data: dict[str, Any]) -> Condition:
        return cls(_prefixes(data.get("codes")), phrases(data.get("text")), frozenset(data.get("sections", ())),
                   frozenset(data.get("assertions", ())))


@dataclass(frozen=True, slots=True)
class Combination:
    """A code the note supports as a whole ("with" combinations, I.B.9, I.A.15; codes no suggestion named)."""

    id: str
    code: str
    section: str
    message: str
    group: str
    all: tuple[Condition, ...]
    none: tuple[Condition, ...]
    replaces: tuple[str, ...]
    settings: tuple[str, ...]
    same_sentence: bool = False


@dataclass(frozen=True, slots=True)
class Integral:
    """Symptoms a confirmed diagnosis of the same body system explains (I.B.4-5)."""

    symptoms: tuple[str, ...]
    explained_by: tuple[str, ...]
    section: str


@dataclass(frozen=True, slots=True)
class History:
    """A condition's history codes: a relative's (Z80-Z84) and the patient's own (Z85-Z87)."""

    codes: tuple[str, ...]
    family: str | None
    personal: str | None


@dataclass(frozen=True, slots=True)
class Guidelines:
    """All of guidelines.json, compiled."""

    combinations: tuple[Combination, ...]
    integral: tuple[Integral, ...]
    history: tuple[History, ...]
    never_principal: tuple[str, ...]
    sepsis: tuple[str, ...]
    poa_exempt: tuple[str, ...]
    chronic: tuple[str, ...]
    one_per_category: tuple[str, ...]
    #: (codes, the underlying conditions to code first) where the tabular's "code first underlying disease"
    #: names no code (I.A.13).
    underlying: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
    #: Codes that give the principal's place to the condition the note says they are due to.
    cause_first: tuple[str, ...]
    #: "with <phrase>" of a title that only a note saying the phrase supports (else the "without" sibling).
    unstated_with: tuple[str, ...]
    poa_no: tuple[re.Pattern[str], ...]
    poa_yes: tuple[re.Pattern[str], ...]
    laparoscopic: tuple[re.Pattern[str], ...]
    endoscopic: tuple[re.Pattern[str], ...]
    diagnostic: tuple[re.Pattern[str], ...]
    subsequent: tuple[re.Pattern[str], ...]
    sequela: tuple[re.Pattern[str], ...]

    def history_of(self, key: str) -> History | None:
        for h in self.history:
            if matches(key, h.codes):
                return h
        return None


def _combination(data: dict[str, Any]) -> Combination:
    return Combination(
        id=data["id"], code=data["code"], section=data["section"], message=data["message"],
        group=data.get("group", data["id"]),
        all=tuple(Condition.of(c) for c in data["all"]), none=tuple(Condition.of(c) for c in data.get("none", ())),
        replaces=_prefixes(data.get("replaces")), settings=tuple(data.get("settings", ("inpatient", "outpatient"))),
        same_sentence=bool(data.get("same_sentence", False)))


def read(name: str) -> dict[str, Any]:
    """A JSON file of coding/resources, checked for its "version" key."""
    data = json.loads(files("coding").joinpath("resources", name).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "version" not in data:
        raise ValueError(f"coding/resources/{name} has no 'version' key")
    return data


@cache
def guidelines() -> Guidelines:
    """guidelines.json, compiled once per process."""
    data = read("guidelines.json")
    cues = data["cues"]
    return Guidelines(
        combinations=tuple(_combination(c) for c in data["combinations"]),
        integral=tuple(Integral(_prefixes(i["symptoms"]), _prefixes(i["explained_by"]), i["section"])
                       for i in data["integral"]),
        history=tuple(History(_prefixes(h["codes"]), h.get("family"), h.get("personal")) for h in data["history"]),
        never_principal=_prefixes(data["never_principal"]),
        sepsis=_prefixes(data["sepsis"]),
        poa_exempt=_prefixes(data["poa_exempt"]),
        chronic=_prefixes(data["chronic"]),
        one_per_category=_prefixes(data["one_per_category"]),
        cause_first=_prefixes(data["cause_first"]["codes"]),
        unstated_with=tuple(data["unstated_with"]["phrases"]),
        underlying=tuple((_prefixes(u["codes"]), _prefixes(u["underlying"])) for u in data["code_first_underlying"]),
        poa_no=phrases(cues["poa_no"]), poa_yes=phrases(cues["poa_yes"]),
        laparoscopic=phrases(cues["laparoscopic"]), endoscopic=phrases(cues["endoscopic"]),
        diagnostic=phrases(cues["diagnostic"]),
        subsequent=phrases(cues["subsequent"]), sequela=phrases(cues["sequela"]),
    )
