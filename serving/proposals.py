"""Suggestions and the proposed coding of notes, computed in one place for the CLI, batch jobs and the API.

The engine ranks each note once, deep and with negated codes flagged (what the coding step reads); the
suggestions a user sees are then that list cut as `top`, `systems` and `negated` ask, numbered again, the
same list `Coder.suggest_many` returns for those options.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from coding import Coding, CodingContext, propose
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings
from medcode.types import Suggestion
from nlp.ranking import NOT_PATIENT

#: Keys of an encounter (`medcode validate`'s JSON, a batch line's "encounter") that make a coding context.
_CONTEXT_KEYS = ("setting", "date_of_service", "patient")


@dataclass(frozen=True, slots=True)
class Proposal:
    """One note's suggestions and its proposed coding."""

    suggestions: list[Suggestion]
    coding: Coding

    def as_dict(self) -> dict[str, Any]:
        return {"suggestions": [s.model_dump(mode="json") for s in self.suggestions],
                "coding": self.coding.model_dump(mode="json")}


def context_from(data: Mapping[str, Any] | None, source: str, **overrides: Any) -> CodingContext:
    """A coding context from an encounter object (its other keys, such as coded diagnoses, are ignored) and
    options that override it (`setting`, `date_of_service`, `age`, `sex`); a bad one is E041."""
    if data is not None and not isinstance(data, Mapping):
        raise MedcodeError(ErrorCode.BAD_ENCOUNTER, source=source, detail="an encounter must be a JSON object")
    fields: dict[str, Any] = {k: data[k] for k in _CONTEXT_KEYS if data and k in data}
    patient = dict(fields.get("patient") or {})
    for key in ("age", "sex"):
        if overrides.get(key) is not None:
            patient[key] = overrides[key]
    if patient:
        fields["patient"] = patient
    for key in ("setting", "date_of_service"):
        if overrides.get(key) is not None:
            fields[key] = overrides[key]
    try:
        return CodingContext.model_validate(fields)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "encounter"
        raise MedcodeError(ErrorCode.BAD_ENCOUNTER, source=source, detail=f"{where}: {first['msg']}") from None


def read_context(raw: bytes, source: str, **overrides: Any) -> CodingContext:
    """`context_from` over a JSON file's bytes."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MedcodeError(ErrorCode.BAD_ENCOUNTER, source=source, detail="not a JSON object") from None
    return context_from(data, source, **overrides)


def propose_many(coder: Any, texts: Sequence[str], contexts: Sequence[CodingContext], *, top: int | None = None,
                 systems: Sequence[str] | None = None, negated: str | None = None) -> list[Proposal]:
    """Each note's suggestions (as `coder.suggest_many(texts, top=top, systems=systems, negated=negated)` gives
    them) and its coding (from the engine's deep list, every system, negated codes flagged)."""
    settings = get_settings()
    top = top or settings.ranking.top
    policy = negated or settings.ranking.negated
    ranked = coder.suggest_many(list(texts), top=max(top, settings.coding.top), negated="flag")
    out: list[Proposal] = []
    for text, context, deep in zip(texts, contexts, ranked, strict=True):
        shown = [s for s in deep if (systems is None or s.system in systems)
                 and (policy == "flag" or s.assertion not in NOT_PATIENT)][:top]
        suggestions = [s if s.rank == i else s.model_copy(update={"rank": i}) for i, s in enumerate(shown, start=1)]
        out.append(Proposal(suggestions, propose(text, deep, context)))
    return out
