"""Prometheus metrics: requests, latencies, suggestions per note, decisions and the acceptance rate."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("medcode_http_requests_total", "HTTP requests answered.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("medcode_http_request_seconds", "Time to answer a request.", ["method", "route"],
                                 buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 1, 2.5, 5, 10),
                                 registry=self.registry)
        self.suggestions = Histogram("medcode_suggestions_per_note", "Suggestions returned for one note.",
                                     buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200), registry=self.registry)
        self.decisions = Counter("medcode_decisions_total", "Coder decisions recorded.", ["action"],
                                 registry=self.registry)
        self.acceptance = Gauge("medcode_acceptance_rate",
                                "Share of decided suggestions accepted as suggested (accept / accept+reject+modify), "
                                "over every decision in the store.", registry=self.registry)
        self.jobs = Counter("medcode_job_notes_total", "Notes coded by batch jobs.", ["outcome"],
                            registry=self.registry)

    def track_acceptance(self, rate: Callable[[], float]) -> None:
        """Compute the acceptance rate from the store at each scrape (it survives restarts)."""
        self.acceptance.set_function(rate)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (never by its concrete path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self._count(scope, status, time.perf_counter() - started)

    def _count(self, scope: Scope, status: int, seconds: float) -> None:
        # FastAPI 0.16x keeps an included router's routes relative to its prefix; the effective
        # route context carries the full template (/v1/encounters/{encounter_id}).
        context = scope.get("fastapi", {}).get("effective_route_context")
        template = getattr(context, "path_format", None) or getattr(scope.get("route"), "path", "unmatched")
        self.metrics.requests.labels(scope["method"], template, str(status)).inc()
        self.metrics.latency.labels(scope["method"], template).observe(seconds)
