"""An encounter as the claim dict msdrg's grouper and code editor read, and their native engines opened once."""

from __future__ import annotations

import atexit
from collections.abc import Callable, Iterable
from threading import Lock
from typing import Any, TypeVar

from codesets.types import normalize_code
from medcode.settings import get_settings
from validation.types import CodedDiagnosis, Encounter

#: msdrg's sex codes.
SEX_CODES = {"male": 0, "female": 1, "unknown": 2}
#: The age sent when the encounter has none; age edits are then dropped, not reported.
NEUTRAL_AGE = 40

T = TypeVar("T")
_engines: dict[str, Any] = {}
_lock = Lock()


def engine(name: str, factory: Callable[[], T]) -> T:
    """One msdrg engine per process (opening one maps its data: ~0.1 s); closed at exit, as msdrg asks."""
    with _lock:
        if name not in _engines:
            made = factory()
            atexit.register(made.close)  # type: ignore[attr-defined]
            _engines[name] = made
        return _engines[name]  # type: ignore[no-any-return]


def first_listed(encounter: Encounter) -> tuple[CodedDiagnosis | None, list[CodedDiagnosis]]:
    """The principal diagnosis (outpatient: the first listed when none is marked) and the others, in claim order."""
    principal = encounter.principal
    if principal is None and encounter.setting == "outpatient" and encounter.diagnoses:
        principal = encounter.diagnoses[0]
    return principal, [d for d in encounter.diagnoses if d is not principal]


def claim(
    encounter: Encounter,
    principal: CodedDiagnosis,
    secondary: Iterable[CodedDiagnosis] = (),
    procedures: Iterable[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """The msdrg claim for these codes and the encounter's patient and date; POA 1 (exempt) is sent blank."""
    patient = encounter.patient
    return {
        "discharge_date": int(encounter.day.strftime("%Y%m%d")),
        "age": patient.age if patient.age is not None else NEUTRAL_AGE,
        "sex": SEX_CODES[patient.sex],
        "discharge_status": get_settings().validation.discharge_status,
        "pdx": _dx(principal),
        "sdx": [_dx(d) for d in secondary],
        "procedures": [{"code": normalize_code(p)} for p in procedures],
        **extra,
    }


def _dx(diagnosis: CodedDiagnosis) -> dict[str, str]:
    out = {"code": normalize_code(diagnosis.code)}
    if diagnosis.poa and diagnosis.poa != "1":
        out["poa"] = diagnosis.poa
    return out
