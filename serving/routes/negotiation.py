"""Which representation a client asked for: JSON (default) or FHIR."""

from __future__ import annotations

from fastapi import Request

from medcode.errors import ErrorCode, MedcodeError
from serving.fhir import FHIR_JSON

JSON_TYPES = ("*/*", "application/*", "application/json", "application/problem+json")


def wants_fhir(request: Request) -> bool:
    """True for `Accept: application/fhir+json`; E058 for an Accept we cannot answer."""
    accept = request.headers.get("accept", "").lower()
    types = [part.split(";")[0].strip() for part in accept.split(",") if part.strip()]
    if FHIR_JSON in types:
        return True
    if not types or any(t in JSON_TYPES for t in types):
        return False
    raise MedcodeError(ErrorCode.NOT_ACCEPTABLE, accept=accept, available=f"application/json, {FHIR_JSON}")
