"""Code systems by name: the loader of each, and one loaded code set per system and file in the process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from threading import Lock

from codesets import icd10cm, icd10pcs
from codesets.types import CodeSet, display_code
from codesets.userfile import load_user_codes
from medcode.errors import ErrorCode, MedcodeError
from medcode.types import SYSTEMS, System

#: Loaders of the code sets medcode ships (scispaCy's DEFAULT_KNOWLEDGE_BASES).
CODESETS: dict[System, Callable[[], CodeSet]] = {
    "ICD-10-CM": icd10cm.load,
    "ICD-10-PCS": icd10pcs.load,
}
#: Systems whose codes a site supplies as a file (CPT is licensed by the AMA; see codesets/userfile.py).
USER_FILE_SYSTEMS: tuple[System, ...] = ("CPT", "HCPCS")

_loaded: dict[tuple[System, Path | None], CodeSet] = {}
_lock = Lock()


def load_codeset(system: str, path: str | Path | None = None) -> CodeSet:
    """The code set of `system` (ICD-10-CM, ICD-10-PCS, or CPT/HCPCS from `path`), loaded once per process."""
    known = _system(system)
    file = Path(path).resolve() if path is not None else None
    if known in USER_FILE_SYSTEMS and file is None:
        raise MedcodeError(ErrorCode.BAD_CODE_FILE, path="(none)", detail=f"{known} codes need a file path")
    key = (known, file if known in USER_FILE_SYSTEMS else None)
    with _lock:  # two threads asking at once would otherwise both spend seconds building
        if key not in _loaded:
            if file is not None and known in USER_FILE_SYSTEMS:
                _loaded[key] = load_user_codes(file, "CPT" if known == "CPT" else "HCPCS")
            else:
                _loaded[key] = CODESETS[known]()
        return _loaded[key]


def clear_cache() -> None:
    """Forget the loaded code sets (tests, or after the data dir changed)."""
    with _lock:
        _loaded.clear()


def _system(name: str) -> System:
    wanted = name.strip().upper().replace("_", "-")
    for system in SYSTEMS:
        if system == wanted or system.replace("-", "") == wanted.replace("-", ""):
            return system
    raise MedcodeError(ErrorCode.UNKNOWN_SYSTEM, system=name, known=", ".join(SYSTEMS))


__all__ = ["CODESETS", "USER_FILE_SYSTEMS", "clear_cache", "display_code", "load_codeset"]
