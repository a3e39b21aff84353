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
    INDEX_MISMATCH = "E023"
    CLUSTER = "E024"
    CORPUS_MISSING = "E030"
    BAD_DECISIONS = "E031"
    TRAINING_FAILED = "E032"
    BAD_INPUT = "E040"
    BAD_ENCOUNTER = "E041"
    BAD_RELEASE = "E013"
    NOT_FOUND = "E050"
    UNAUTHORIZED = "E051"
    FORBIDDEN = "E052"
    RATE_LIMITED = "E053"
    BODY_TOO_LARGE = "E054"
    CONFLICT = "E055"
    BAD_FHIR = "E056"
    UNSUPPORTED_MEDIA = "E057"
    NOT_ACCEPTABLE = "E058"
    NOT_SUGGESTED = "E059"
    NOT_READY = "E060"
    BAD_REMITTANCE = "E070"
    BAD_CLAIM = "E071"
    HEADERS_TOO_LARGE = "E061"
    METHOD_NOT_ALLOWED = "E062"
    INTERNAL = "E099"


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
    ErrorCode.INDEX_MISMATCH: "The worker on node {node} has index build {worker} under {path}, the driver has build "
    "{driver}; give every node the same index (the Docker image, or one shared MEDCODE_DATA_DIR).",
    ErrorCode.CLUSTER: "Ray cluster: {detail}",
    ErrorCode.CORPUS_MISSING: "No CodiEsp corpus under {path}.",
    ErrorCode.BAD_INPUT: "{detail}",
    ErrorCode.BAD_DECISIONS: "Coder decisions {path}: {detail}.",
    ErrorCode.TRAINING_FAILED: "Training step {step} failed: {detail}",
    ErrorCode.BAD_ENCOUNTER: "Encounter {source}: {detail}",
    ErrorCode.BAD_RELEASE: "Code-set release data {source}: {detail}",
    ErrorCode.NOT_FOUND: "No {what} {id!r}.",
    ErrorCode.UNAUTHORIZED: "A valid API key is needed: header `Authorization: Bearer <key>`.",
    ErrorCode.FORBIDDEN: "The {role} role may not {action}.",
    ErrorCode.RATE_LIMITED: "Too many requests for this key; retry in {retry_after} s.",
    ErrorCode.BODY_TOO_LARGE: "The request body is over the limit of {limit} bytes.",
    ErrorCode.CONFLICT: "{detail}",
    ErrorCode.BAD_FHIR: "Not a usable FHIR R4 resource: {detail}",
    ErrorCode.UNSUPPORTED_MEDIA: "Content-Type {media_type!r} is not accepted here; use {accepted}.",
    ErrorCode.NOT_ACCEPTABLE: "Cannot answer in {accept!r}; available: {available}.",
    ErrorCode.NOT_SUGGESTED: "{system} {code} was not suggested for this encounter; use action 'add'.",
    ErrorCode.NOT_READY: "The service is still loading the index and models.",
    ErrorCode.BAD_REMITTANCE: "Remittance {source}: {detail}",
    ErrorCode.BAD_CLAIM: "No {format} claim for encounter {id}: {detail}",
    ErrorCode.HEADERS_TOO_LARGE: "The request's {what} is over the limit of {limit} bytes.",
    ErrorCode.METHOD_NOT_ALLOWED: "{method} is not allowed here; allowed: {allowed}.",
    ErrorCode.INTERNAL: "An internal error occurred; it has been logged under id {incident}.",
}


class MedcodeError(Exception):
    """An error with a stable code; `str()` is the user-facing message."""

    def __init__(self, code: ErrorCode, /, **params: object) -> None:
        # `code` is positional-only because UNKNOWN_CODE's message itself takes a `code` parameter.
        self.code = code
        self.params = params
        super().__init__(MESSAGES[code].format(**params))

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled by code and parameters: Ray and the engine processes hand errors across processes.
        return (_restore, (self.code, self.params))

    def as_dict(self) -> dict[str, object]:
        """The machine-readable body: `{"code": "E001", "message": "..."}`."""
        return {"code": self.code.value, "message": str(self)}


def _restore(code: ErrorCode, params: dict[str, object]) -> MedcodeError:
    return MedcodeError(code, **params)
