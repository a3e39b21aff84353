"""Every error a user can meet: a stable code and the one place its message lives."""

from __future__ import annotations

from enum import Enum


class ErrorCode(str, Enum):
    """Stable machine-readable error codes (CLI prints them, the API returns them)."""

    EMPTY_NOTE = "E001"
    NOTE_TOO_LARGE = "E002"
    NOTE_NOT_TEXT = "E003"
    UNKNOWN_SYSTEM = "E010"
    UNKNOWN_CODE = "E011"
    BAD_CODE_FILE = "E012"
    INDEX_MISSING = "E020"
    INDEX_STALE = "E021"
    RANKER_STALE = "E022"
    CORPUS_MISSING = "E030"
    BAD_INPUT = "E040"


MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.EMPTY_NOTE: "The note is empty.",
    ErrorCode.NOTE_TOO_LARGE: "The note has {size} characters; the limit is {limit}.",
    ErrorCode.NOTE_NOT_TEXT: "The note is not UTF-8 text.",
    ErrorCode.UNKNOWN_SYSTEM: "Unknown code system {system!r}; known: {known}.",
    ErrorCode.UNKNOWN_CODE: "{system} has no code {code!r}.",
    ErrorCode.BAD_CODE_FILE: "Code file {path}: {detail}",
    ErrorCode.INDEX_MISSING: "No index under {path}; run `medcode index build`.",
    ErrorCode.INDEX_STALE: "The index under {path} was built from other inputs; run `medcode index build`.",
    ErrorCode.RANKER_STALE: "The ranker under {path} was fitted on other features; run `medcode tune`.",
    ErrorCode.CORPUS_MISSING: "No CodiEsp corpus under {path}.",
    ErrorCode.BAD_INPUT: "{detail}",
}


class MedcodeError(Exception):
    """An error with a stable code; `str()` is the user-facing message."""

    def __init__(self, code: ErrorCode, /, **params: object) -> None:
        # `code` is positional-only because UNKNOWN_CODE's message itself takes a `code` parameter.
        self.code = code
        self.params = params
        super().__init__(MESSAGES[code].format(**params))

    def as_dict(self) -> dict[str, object]:
        """The machine-readable body: `{"code": "E001", "message": "..."}`."""
        return {"code": self.code.value, "message": str(self)}
