"""CPT or HCPCS codes from a user-supplied CSV (`code,description[,long_description]`).

medcode ships no CPT file: CPT is the AMA's property, so a site loads the file it licenses.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path
from typing import Literal

from codesets.types import Code, CodeSet, normalize_code
from medcode.errors import ErrorCode, MedcodeError

UserSystem = Literal["CPT", "HCPCS"]

#: CPT: five letters or digits (99213, 0001F, 0500T). HCPCS Level II: a letter and four digits (J1100).
PATTERNS: dict[UserSystem, re.Pattern[str]] = {
    "CPT": re.compile(r"[0-9A-Z]{5}"),
    "HCPCS": re.compile(r"[A-Z][0-9]{4}"),
}
_HEADER_WORDS = {"code", "codes", "cpt", "hcpcs", "cpt code", "hcpcs code"}


def load_user_codes(path: str | Path, system: UserSystem, release: str | None = None) -> CodeSet:
    """The codes of `path`; `release` defaults to the file's name stem and the first 8 hex of its sha256."""
    path = Path(path)
    if system not in PATTERNS:
        raise MedcodeError(ErrorCode.UNKNOWN_SYSTEM, system=system, known=", ".join(PATTERNS))
    if not path.is_file():
        raise MedcodeError(ErrorCode.BAD_CODE_FILE, path=path, detail="no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # utf-8-sig also reads files without a BOM
    except UnicodeDecodeError as error:
        raise MedcodeError(ErrorCode.BAD_CODE_FILE, path=path, detail=f"not UTF-8 ({error.reason})") from error
    codes = _parse(path, system, text)
    if not codes:
        raise MedcodeError(ErrorCode.BAD_CODE_FILE, path=path, detail="no codes")
    stamp = release or f"{path.stem}-{hashlib.sha256(raw).hexdigest()[:8]}"
    return CodeSet(system, stamp, codes, source=str(path))


def _parse(path: Path, system: UserSystem, text: str) -> list[Code]:
    def bad(line: int, detail: str) -> MedcodeError:
        return MedcodeError(ErrorCode.BAD_CODE_FILE, path=path, detail=f"line {line}: {detail}")

    codes: dict[str, Code] = {}
    first = True
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not any(cell.strip() for cell in row):
            continue
        if first and _is_header(row):
            first = False
            continue
        first = False
        if len(row) not in (2, 3):
            raise bad(line, f"expected 2 or 3 columns (code,description[,long_description]), found {len(row)}")
        code, description = row[0].strip(), row[1].strip()
        long_description = row[2].strip() if len(row) == 3 and row[2].strip() else None
        if not code:
            raise bad(line, "empty code")
        if not description:
            raise bad(line, f"code {code} has no description")
        key = normalize_code(code)
        if not PATTERNS[system].fullmatch(key):
            shape = "5 letters or digits" if system == "CPT" else "a letter and 4 digits"
            raise bad(line, f"{code!r} is not a {system} code ({shape})")
        known = codes.get(key)
        if known is not None and known.description != description:
            raise bad(line, f"code {code} appears again with another description")
        codes[key] = Code(code=key, system=system, description=description, long_description=long_description)
    return list(codes.values())


def _is_header(row: list[str]) -> bool:
    """Whether the first row names the columns instead of holding a code."""
    second = row[1].strip().lower() if len(row) > 1 else ""
    return row[0].strip().lower() in _HEADER_WORDS or second in {"description", "short description", "desc"}
