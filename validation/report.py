"""What `medcode validate` reads and prints: an encounter from JSON, its findings and DRG as one JSON object."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from medcode.errors import ErrorCode, MedcodeError
from validation import group, validate
from validation.types import Encounter, Finding


def read_encounter(raw: bytes, source: str) -> Encounter:
    """The encounter in `raw` (UTF-8 JSON); a MedcodeError naming the first problem otherwise."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise MedcodeError(ErrorCode.BAD_ENCOUNTER, source=source, detail="not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise MedcodeError(ErrorCode.BAD_ENCOUNTER, source=source,
                           detail=f"not JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    try:
        return Encounter.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise MedcodeError(ErrorCode.BAD_ENCOUNTER, source=source, detail=f"{where}: {first['msg']}{more}") from None


def report(encounter: Encounter) -> dict[str, Any]:
    """`{"findings": [...], "drg": {...} | null}` for an encounter."""
    drg = group(encounter)
    return {"findings": [f.model_dump() for f in validate(encounter)], "drg": drg.model_dump() if drg else None}


def has_errors(findings: list[Finding] | list[dict[str, Any]]) -> bool:
    """Whether any finding has error severity (the command then exits 1)."""
    return any((f.severity if isinstance(f, Finding) else f["severity"]) == "error" for f in findings)
