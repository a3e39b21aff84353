"""Every 4xx and 5xx as RFC 9457 problem JSON: `{type, title, status, detail, code}` with a stable code."""

from __future__ import annotations

import logging
import traceback
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medcode.errors import MESSAGES, ErrorCode, MedcodeError

log = logging.getLogger("medcode.serving")
PROBLEM_TYPE = "https://medcode.dev/problems/"

#: The HTTP status of each error code; codes not listed are 400.
STATUS: dict[ErrorCode, int] = {
    ErrorCode.EMPTY_NOTE: 422,
    ErrorCode.NOTE_TOO_LARGE: 413,
    ErrorCode.NOTE_NOT_TEXT: 422,
    ErrorCode.UNKNOWN_SYSTEM: 422,
    ErrorCode.UNKNOWN_CODE: 404,
    ErrorCode.INDEX_MISSING: 503,
    ErrorCode.INDEX_STALE: 503,
    ErrorCode.RANKER_STALE: 503,
    ErrorCode.BAD_INPUT: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.CONFLICT: 409,
    ErrorCode.BAD_FHIR: 422,
    ErrorCode.UNSUPPORTED_MEDIA: 415,
    ErrorCode.NOT_ACCEPTABLE: 406,
    ErrorCode.NOT_SUGGESTED: 422,
    ErrorCode.NOT_READY: 503,
    ErrorCode.BAD_REMITTANCE: 422,
    ErrorCode.BAD_CLAIM: 422,
    ErrorCode.HEADERS_TOO_LARGE: 431,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.INTERNAL: 500,
}
#: The problem body names at most this many invalid fields: a body of 60,000 stray keys gets a short answer.
MAX_ERRORS = 10
#: Errors raised by the framework (routing, body parsing), by HTTP status.
FROM_STATUS: dict[int, ErrorCode] = {401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN,
                                     404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED,
                                     406: ErrorCode.NOT_ACCEPTABLE,
                                     409: ErrorCode.CONFLICT, 413: ErrorCode.BODY_TOO_LARGE,
                                     415: ErrorCode.UNSUPPORTED_MEDIA, 429: ErrorCode.RATE_LIMITED}


class Problem(BaseModel):
    """An error (RFC 9457): `code` is stable (E001 …) and what a program should branch on."""

    type: str = Field(examples=[PROBLEM_TYPE + "E001"])
    title: str = Field(examples=["EMPTY_NOTE"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["The note is empty."])
    code: str = Field(examples=["E001"])
    errors: list[dict[str, Any]] | None = Field(default=None, description="Which fields were invalid, and why.")


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}}, "description": text}
    for status, text in ((401, "No or unknown API key"), (403, "The key's role may not do this"),
                         (422, "Invalid input"), (429, "Rate limit, or the key's notes in flight; see Retry-After"))
}
#: Answers any operation can give before its route runs (guards, body parsing), by whether it takes a body.
ANY_ROUTE = {414: "URL too long", 431: "Request headers too large"}
WITH_BODY = {400: "The body is not JSON (or not UTF-8)", 413: "Body too large", 415: "Unsupported Content-Type"}


def document_statuses(document: dict[str, Any]) -> None:
    """Add to each operation of an OpenAPI document the problem answers its guards and parsing may give."""
    ref = {"$ref": "#/components/schemas/Problem"}
    document.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}"))
    for path in document.get("paths", {}).values():
        for operation in path.values():
            statuses = {**ANY_ROUTE, **(WITH_BODY if "requestBody" in operation else {})}
            responses = operation.setdefault("responses", {})
            for status, text in statuses.items():
                responses.setdefault(str(status), {"description": text,
                                                   "content": {"application/problem+json": {"schema": ref}}})


def problem_body(code: ErrorCode, status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> dict:
    """The problem document for one error."""
    body: dict[str, Any] = {"type": PROBLEM_TYPE + code.value, "title": code.name, "status": status,
                            "detail": detail, "code": code.value}
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(error: MedcodeError, status: int | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    """A MedcodeError as an HTTP response."""
    status = status or STATUS.get(error.code, 400)
    if error.code == ErrorCode.RATE_LIMITED:
        headers = {**(headers or {}), "Retry-After": str(error.params["retry_after"])}
    elif error.code == ErrorCode.UNAUTHORIZED:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="medcode"'}
    return JSONResponse(problem_body(error.code, status, str(error)), status_code=status,
                        media_type="application/problem+json", headers=headers)


def _safe_errors(errors: Any) -> list[dict[str, Any]]:
    """The first `MAX_ERRORS` validation errors without the offending input: it may be note text (PHI)."""
    return [{"loc": list(e.get("loc", ()))[:8], "type": e.get("type"), "msg": str(e.get("msg"))[:300]}
            for e in errors[:MAX_ERRORS]]


async def _medcode_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MedcodeError)
    return problem_response(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    found = exc.errors()
    errors = _safe_errors(found)
    malformed = any(e["type"] == "json_invalid" for e in errors)
    status = 400 if malformed else 422
    detail = "The body is not valid JSON." if malformed else "The request does not match the schema; see errors."
    if len(found) > MAX_ERRORS:
        detail += f" {len(found)} errors, the first {MAX_ERRORS} listed."
    return JSONResponse(problem_body(ErrorCode.BAD_INPUT, status, detail, errors), status_code=status,
                        media_type="application/problem+json")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = FROM_STATUS.get(exc.status_code, ErrorCode.BAD_INPUT)
    detail = str(exc.detail)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 404:
        detail = "No such route."
    elif exc.status_code == 413:
        detail = "The request body is too large."
    elif exc.status_code == 405:
        allowed = _allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = str(MedcodeError(code, method=request.method, allowed=headers["Allow"]))
    return JSONResponse(problem_body(code, exc.status_code, detail), status_code=exc.status_code,
                        media_type="application/problem+json", headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette's 405 names only the first route's): the methods
    for which a route matches the path fully."""
    from starlette.routing import Match

    allowed = {method for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
               if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                      for route in request.app.router.routes)}
    return sorted(allowed | ({"HEAD"} if "GET" in allowed else set()))


class CatchAllMiddleware:
    """Any unexpected error becomes a 500 problem (E099) with an incident id, logged without its message.

    A handler for `Exception` would not do: Starlette re-raises after it, and the server then logs the
    exception's message, which could quote the note.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # noqa: BLE001 - the last line of defence, by design
            incident = uuid.uuid4().hex[:12]
            log.error("unhandled %s, incident %s\n%s", type(exc).__name__, incident,
                      "".join(traceback.format_tb(exc.__traceback__)))
            if scope["type"] != "http" or started:
                return
            await problem_response(MedcodeError(ErrorCode.INTERNAL, incident=incident))(scope, receive, send)


def install(app: FastAPI) -> None:
    """Route every error of `app` through the problem handlers."""
    app.add_exception_handler(MedcodeError, _medcode_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(CatchAllMiddleware)


__all__ = ["MESSAGES", "PROBLEM_RESPONSES", "Problem", "document_statuses", "install", "problem_body",
           "problem_response"]
