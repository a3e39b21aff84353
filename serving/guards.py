"""Bounds on what a request may be before any route reads it: header and URL sizes, JSON shape and text.

A JSON body is read whole (the body limit bounds it) and refused when it nests too deep, holds an object
with too many members, or escapes a lone surrogate; the same checks the note intake makes on JSONL
lines (`nlp.note`). The route then reads the same bytes.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medcode.errors import ErrorCode, MedcodeError
from nlp.note import JsonLimits, check_json_shape, has_lone_surrogate
from serving.problems import problem_response

#: Bodies parsed as one JSON document (JSONL is checked line by line by the note intake instead).
JSON_TYPES = ("application/json", "application/fhir+json", "application/problem+json")


async def _answer(error: MedcodeError, scope: Scope, receive: Receive, send: Send, status: int | None = None) -> None:
    await problem_response(error, status)(scope, receive, send)


class HeaderLimitMiddleware:
    """431 when the request's headers, 414 when its URL, are over their limits (uvicorn sets neither)."""

    def __init__(self, app: ASGIApp, *, header_bytes: int, url_bytes: int) -> None:
        self.app = app
        self.header_bytes = header_bytes
        self.url_bytes = url_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
            if size > self.header_bytes:
                await _answer(MedcodeError(ErrorCode.HEADERS_TOO_LARGE, what="header section",
                                           limit=self.header_bytes), scope, receive, send, 431)
                return
            if len(scope.get("raw_path") or b"") + len(scope.get("query_string", b"")) > self.url_bytes:
                await _answer(MedcodeError(ErrorCode.HEADERS_TOO_LARGE, what="URL", limit=self.url_bytes),
                              scope, receive, send, 414)
                return
        await self.app(scope, receive, send)


class JsonGuardMiddleware:
    """422 (E040) for a JSON body too deep, too wide, or escaping a lone surrogate."""

    def __init__(self, app: ASGIApp, *, limits: JsonLimits, body_limit: int) -> None:
        self.app = app
        self.limits = limits
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        media = dict(scope.get("headers", ())).get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["type"] != "http" or media.decode("latin-1") not in JSON_TYPES:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except HTTPException as error:  # the body limit, raised while the body streams in
            await _answer(MedcodeError(ErrorCode.BODY_TOO_LARGE, limit=self.body_limit), scope, receive, send,
                          error.status_code)
            return
        body = b"".join(chunks)
        try:
            check_json_shape(body, self.limits)
            if has_lone_surrogate(body):
                raise MedcodeError(ErrorCode.BAD_INPUT, detail="the body escapes a lone surrogate (\\ud800-\\udfff), "
                                   "which is not text")
        except MedcodeError as error:
            await _answer(error, scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
