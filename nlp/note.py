"""The one intake of notes: what makes text a note the engine can code, and the one reader of `{id, text}` JSONL.

Every boundary (HTTP bodies, job uploads, `medcode batch`, `medcode suggest`) checks a note here, once:
decoded UTF-8, a string, no lone surrogates (they cannot be encoded again, and spaCy and the store fail on
them), not blank, not too long. JSON arrives bounded: `check_json_shape` refuses nesting deeper than
`max_json_depth` and objects with more than `max_json_keys` members before any parser recurses or any
validator lists every extra key.

Import-light (no spaCy, no torch): the HTTP server checks notes with it before handing them to the
engine processes, and starts without loading what only they need.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings



class Item(NamedTuple):
    """A note of an intake: its id, its checked text or the error that stops it (by code, never by the note's
    content), and the line's `encounter` object when it carries one (the coding step's setting and patient)."""

    id: str
    text: str | MedcodeError
    encounter: Any = None


#: Longest id kept: the store's column, and a bound on what an error line repeats.
MAX_ID_CHARS = 200

_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON string, escapes included, matched without backtracking so a long or unterminated one stays linear.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_STRUCTURE = re.compile(rb"[\[\]{}:,]")
# Every escape of a JSON string as one unit (so an escaped backslash is not read as the start of one),
# a high surrogate with the low one that completes it.
_ESCAPE = re.compile(rb"\\(?:u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?|u[dD][c-fC-F][0-9a-fA-F]{2}|.)",
                     re.DOTALL)


@dataclass(frozen=True, slots=True)
class JsonLimits:
    """How deep and how wide a JSON document may be (`MEDCODE_MAX_JSON_DEPTH`, `MEDCODE_MAX_JSON_KEYS`)."""

    depth: int = 64
    keys: int = 1000


def json_limits(settings: Settings) -> JsonLimits:
    """The JSON bounds the settings ask for."""
    return JsonLimits(depth=settings.max_json_depth, keys=settings.max_json_keys)


def decode_note(raw: bytes) -> str:
    """Note bytes as text: UTF-8, with or without a byte-order mark, else E003."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MedcodeError(ErrorCode.NOTE_NOT_TEXT) from None


def check_note(text: object, *, limit: int) -> str:
    """The note as given, or a MedcodeError saying why it can't be coded."""
    if not isinstance(text, str):
        raise MedcodeError(ErrorCode.NOTE_NOT_TEXT)
    if not text.strip():
        raise MedcodeError(ErrorCode.EMPTY_NOTE)
    if len(text) > limit:
        raise MedcodeError(ErrorCode.NOTE_TOO_LARGE, size=len(text), limit=limit)
    if _SURROGATE.search(text):
        raise MedcodeError(ErrorCode.NOTE_NOT_TEXT)
    return text


def check_json_shape(raw: bytes, limits: JsonLimits) -> None:
    """E040 when `raw` nests deeper than `limits.depth` or an object has over `limits.keys` members.

    Only the structure is read (strings blanked first), so it costs one pass and never recurses; what is
    not JSON at all is left for the parser to refuse.
    """
    depth = 0
    members: list[int] = []  # per open container: members so far (objects), -1 for arrays
    for token in _STRUCTURE.findall(_JSON_STRING.sub(b'""', raw)):
        if token in b"[{":
            depth += 1
            if depth > limits.depth:
                raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"JSON nested deeper than {limits.depth} levels")
            members.append(0 if token == b"{" else -1)
        elif token in b"]}":
            depth = max(depth - 1, 0)
            if members:
                members.pop()
        elif token == b":" and members and members[-1] >= 0:
            members[-1] += 1
            if members[-1] > limits.keys:
                raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"a JSON object has over {limits.keys} members")


def has_lone_surrogate(raw: bytes) -> bool:
    """Whether JSON text `raw` escapes a lone surrogate (`"\\ud800"`): valid JSON, but not text anything can store."""
    for match in _ESCAPE.finditer(raw):
        escape = match.group()
        if len(escape) == 6 and escape[2:3] in b"dD":  # \uDxxx with no partner
            return True
    return False


def _id_of(record: object) -> str | None:
    rid = record.get("id") if isinstance(record, dict) else None
    if not isinstance(rid, (str, int)) or isinstance(rid, bool):
        return None
    rid = str(rid)
    if not rid.strip() or len(rid) > MAX_ID_CHARS or _SURROGATE.search(rid):
        return None
    return rid


def _salvaged_id(raw: bytes) -> str | None:
    """The id of a line that is not UTF-8, when the rest of it is readable JSON (so the report can name it)."""
    try:
        return _id_of(json.loads(raw.decode("utf-8", "replace")))
    except (ValueError, RecursionError):
        return None


def read_jsonl(lines: Iterable[bytes], *, limit: int, json_limits: JsonLimits) -> Iterator[Item]:
    """`{id, text}` JSONL lines as (id, checked note or the error that spoils it); blank lines skipped.

    A line that cannot name its note is reported as `line N`.
    """
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        where = f"line {lineno}"
        try:
            check_json_shape(raw, json_limits)
            line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except MedcodeError as error:
            yield Item(where, MedcodeError(ErrorCode.BAD_INPUT, detail=f"{where}: {error}"))
            continue
        except UnicodeDecodeError:
            rid = _salvaged_id(raw)
            yield Item(rid or where, MedcodeError(ErrorCode.NOTE_NOT_TEXT))
            continue
        try:
            record = json.loads(line)
        except ValueError:
            yield Item(where, MedcodeError(ErrorCode.BAD_INPUT, detail=f"{where}: not JSON"))
            continue
        rid = _id_of(record)
        if rid is None:
            yield Item(where, MedcodeError(ErrorCode.BAD_INPUT, detail=f"{where}: needs an \"id\" (a string of at "
                                           f"most {MAX_ID_CHARS} characters, or a number)"))
            continue
        text = record.get("text")
        if not isinstance(text, str):
            yield Item(rid, MedcodeError(ErrorCode.BAD_INPUT, detail=f"{where}: needs a \"text\" string"))
            continue
        try:
            yield Item(rid, check_note(text, limit=limit), record.get("encounter"))
        except MedcodeError as error:
            yield Item(rid, error)
