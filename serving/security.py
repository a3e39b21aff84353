"""API keys (stored hashed, with roles), per-key rate and in-flight limits, and the request body limit.

Keys are 32 random bytes, so a plain SHA-256 is enough to store them: there is nothing to brute-force
that a slow hash would protect (unlike passwords).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medcode.errors import ErrorCode, MedcodeError
from serving.store.models import ApiKey, utcnow

Role = Literal["coder", "admin", "service"]
ROLES: tuple[Role, ...] = ("coder", "admin", "service")
KEY_PREFIX = "mc_"

#: What each role may do; routes name the permission they need.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "suggest": frozenset({"coder", "admin", "service"}),
    "read codes": frozenset({"coder", "admin", "service"}),
    "create encounters": frozenset({"coder", "admin", "service"}),
    "read encounters": frozenset({"coder", "admin", "service"}),
    "decide": frozenset({"coder", "admin"}),
    "run jobs": frozenset({"admin", "service"}),
    "export decisions": frozenset({"admin"}),
    "import remittances": frozenset({"admin", "service"}),
    "read metrics": frozenset({"coder", "admin"}),
    "delete data": frozenset({"admin"}),
}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's id, name and role."""

    key_id: int
    name: str
    role: Role

    def require(self, permission: str) -> None:
        """Raise E052 unless this caller's role grants `permission`."""
        if self.role not in PERMISSIONS[permission]:
            raise MedcodeError(ErrorCode.FORBIDDEN, role=self.role, action=permission)


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, *, name: str, role: str) -> tuple[ApiKey, str]:
    """A new key row and the key itself (shown once, never stored)."""
    if role not in ROLES:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"role must be one of {', '.join(ROLES)}")
    if not name.strip():
        raise MedcodeError(ErrorCode.BAD_INPUT, detail="a key needs a name")
    if session.scalar(select(ApiKey).where(ApiKey.name == name)) is not None:
        raise MedcodeError(ErrorCode.CONFLICT, detail=f"a key named {name!r} exists already")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, role=role, key_hash=hash_key(key), prefix=key[:10], created_at=utcnow())
    session.add(row)
    session.flush()
    return row, key


def revoke_key(session: Session, name: str) -> ApiKey:
    """Mark the key `name` revoked; E050 when there is none."""
    row = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is None:
        raise MedcodeError(ErrorCode.NOT_FOUND, what="API key", id=name)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def authenticate(session: Session, authorization: str | None) -> Caller:
    """The caller behind an `Authorization: Bearer <key>` header, or E051."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise MedcodeError(ErrorCode.UNAUTHORIZED)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key.strip())))
    if row is None or row.revoked_at is not None:
        raise MedcodeError(ErrorCode.UNAUTHORIZED)
    return Caller(row.id, row.name, row.role)  # type: ignore[arg-type]


class RateLimiter:
    """A token bucket per key: `burst` requests at once, refilled at `per_minute`."""

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(burst, 1)
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: int) -> None:
        """Take one token for `key_id`, or raise E053 with the seconds until the next one."""
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                raise MedcodeError(ErrorCode.RATE_LIMITED, retry_after=math.ceil((1.0 - tokens) / self.rate))
            self._buckets[key_id] = (tokens - 1.0, now)


class InFlightLimiter:
    """At most `limit` notes of one key being coded at once; the next is refused (E053, retry in 1 s)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[int, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, key_id: int) -> Iterator[None]:
        """Hold one of `key_id`'s slots while the block runs."""
        if self.limit <= 0:
            yield
            return
        with self._lock:
            if self._held.get(key_id, 0) >= self.limit:
                raise MedcodeError(ErrorCode.RATE_LIMITED, retry_after=1)
            self._held[key_id] = self._held.get(key_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                self._held[key_id] -= 1


class BodyLimitMiddleware:
    """Refuse request bodies over `limit` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException, because FastAPI turns any other error while reading a body into 400.
                    raise HTTPException(413)
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        from serving.problems import problem_response

        response = problem_response(MedcodeError(ErrorCode.BODY_TOO_LARGE, limit=self.limit))
        await response(scope, receive, send)
