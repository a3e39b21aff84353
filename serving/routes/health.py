"""Liveness, readiness and Prometheus metrics (no key needed; none of them carries PHI)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from medcode.errors import ErrorCode, MedcodeError
from serving.deps import ServicesDep
from serving.problems import problem_body

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Still loading, or loading failed"}})
def readyz(services: ServicesDep) -> JSONResponse:
    """The index, code sets and models are loaded and the store answers."""
    if not services.ready:
        error = MedcodeError(ErrorCode.NOT_READY)
        body = problem_body(error.code, 503, services.load_error or str(error))
        return JSONResponse(body, status_code=503, media_type="application/problem+json")
    return JSONResponse({"status": "ready", "timings": services.timings,
                         "systems": list(services.search.codesets) if services.search else []})


@router.get("/metrics", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    """Prometheus metrics: requests, latencies, suggestions per note, decisions, acceptance rate."""
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
