"""What makes text a note the engine can code: decoded bytes, a string, not blank, not too long.

Import-light (no spaCy, no torch): the HTTP server checks notes with it before handing them to the
engine processes, and starts without loading what only they need.
"""

from __future__ import annotations

from medcode.errors import ErrorCode, MedcodeError


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
    return text
