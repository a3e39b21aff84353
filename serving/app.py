"""The HTTP service: `create_app(settings)` wires the store, security, the coder and the routers.

The coder and the type-ahead index load in a background thread, so `/healthz` answers at once and
`/readyz` turns 200 when they are in; routes that need them answer 503 (E060) until then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import func, select

import medcode
import validation
from medcode.errors import MedcodeError
from medcode.settings import Settings, get_settings
from nlp.note import json_limits
from serving import problems
from medcode.types import SYSTEMS
from serving.deps import Services, loaded_systems
from serving.metrics import Metrics, MetricsMiddleware
from serving.routes import (
    claims,
    coding_metrics,
    codes,
    encounters,
    exports,
    health,
    jobs,
    remittances,
    suggest,
    ui,
    validate,
)
from serving.guards import HeaderLimitMiddleware, JsonGuardMiddleware
from serving.lifecycle import RetentionSweeper
from serving.security import BodyLimitMiddleware, InFlightLimiter, RateLimiter
from serving.startup import settle_gc, warm_up
from serving.store.db import Store
from serving.store.models import Decision

log = logging.getLogger("medcode.serving")

DESCRIPTION = """ICD-10-CM / ICD-10-PCS suggestions with evidence, the coders' review workflow and its audit trail.

Every route under `/v1` needs an API key: `Authorization: Bearer <key>` (`medcode keys create`).
Errors are RFC 9457 problem documents whose `code` (E001 …) is stable. Note text is never logged."""


def _acceptance(store: Store) -> float:
    """accept / (accept + reject + modify) over the whole trail; 0 before any decision."""
    with store.session() as session:
        counts = dict(session.execute(select(Decision.action, func.count()).group_by(Decision.action)).all())
    decided = sum(counts.get(a, 0) for a in ("accept", "reject", "modify"))
    return counts.get("accept", 0) / decided if decided else 0.0


def _build_search(services: Services) -> Any:
    """The type-ahead index over the shipped code sets and the site's CPT / HCPCS files, by usage."""
    from codesets.registry import load_codeset
    from codesets.usage import Usage
    from serving.codesearch import CodeSearch

    started = time.perf_counter()
    codesets = [load_codeset("ICD-10-CM"), load_codeset("ICD-10-PCS")]
    codesets += [load_codeset(system, path) for system, path in services.settings.code_files.items()]
    usage_file = services.settings.data_dir / "index" / "usage.json"
    counts = Usage.load(usage_file).counts if usage_file.exists() else {}
    search = CodeSearch(codesets, counts)
    services.timings["search_s"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    validation.warm()  # code-set releases and DRG grouper tables, before the first request needs them
    services.timings["validation_s"] = round(time.perf_counter() - started, 2)
    return search


def _load(services: Services, coder: Any | None) -> None:
    """Load the coder and the search index (seconds); errors are kept for /readyz, never raised."""
    from serving.codesearch import CodeSearch
    from serving.jobs import JobWorker
    from serving.pool import EnginePool, engine_count
    from serving.runner import CoderRunner, Runner

    started = time.perf_counter()
    try:
        # The type-ahead index builds alongside the coder: much of the coder's load (faiss, torch) frees the GIL.
        searches: list[CodeSearch] = []
        builder = threading.Thread(target=lambda: searches.append(_build_search(services)), daemon=True)
        builder.start()
        engines = engine_count(services.settings)
        runner: Runner
        if coder is None and engines > 1:
            runner = EnginePool(services.settings, processes=engines)
        else:
            if coder is None:
                from nlp.coder import Coder

                coder = Coder.load(services.settings)
            runner = CoderRunner(coder, window_ms=services.settings.serving.batch_window_ms,
                                 max_batch=services.settings.serving.max_batch)
            warm_up(runner)
        services.timings["coder_s"] = round(time.perf_counter() - started, 2)
        builder.join()
        if not searches:
            raise RuntimeError("the code search index failed to build")
        search = searches[0]
        settle_gc()
        jobs_runner: Runner = runner  # ready only once the cluster's actors are
        chunk = None
        if services.settings.ray_address:  # batch jobs code on the cluster; their state stays in the store
            from serving.cluster import RayRunner

            cluster = RayRunner(services.settings)
            jobs_runner = services.cluster = cluster
            chunk = services.settings.serving.job_chunk * cluster.size
            services.timings["ray_workers"] = cluster.size
        services.runner, services.search = runner, search
        worker = JobWorker(services.store, jobs_runner, services.settings, services.metrics, chunk=chunk)
        worker.start()
        services.worker = worker
        services.timings["ready_s"] = round(time.perf_counter() - started, 2)
        log.info("ready in %.1f s", services.timings["ready_s"])
    except MedcodeError as error:
        services.load_error = f"{error.code.value}: {error}"
        log.error("loading failed: %s", services.load_error)
    except Exception as error:  # noqa: BLE001 - reported by /readyz; the process stays up to say so
        services.load_error = f"{type(error).__name__} while loading"
        log.exception("loading failed")


def create_app(settings: Settings | None = None, *, coder: Any | None = None, store: Store | None = None,
               wait: bool = False) -> FastAPI:
    """The app. `coder` skips loading one (tests); `wait` loads before serving instead of alongside."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services(settings=settings, store=store or Store.from_settings(settings), metrics=metrics,
                            limiter=RateLimiter(settings.serving.rate_limit, settings.serving.rate_burst),
                            in_flight=InFlightLimiter(settings.serving.key_notes_in_flight))
        sweeper = RetentionSweeper(services.store, settings.retention_days)
        sweeper.start()
        metrics.track_acceptance(lambda: _acceptance(services.store))
        app.state.services = services
        loader = threading.Thread(target=_load, args=(services, coder), name="medcode-load", daemon=True)
        loader.start()
        if wait:
            loader.join()
        try:
            yield
        finally:
            sweeper.stop()
            loader.join(timeout=120)
            if services.worker is not None:
                services.worker.stop()  # type: ignore[attr-defined]
            if services.runner is not None:
                services.runner.close()
            if services.cluster is not None:
                services.cluster.close()  # type: ignore[attr-defined]
            if store is None:
                services.store.close()

    metrics = Metrics()
    app = FastAPI(title="medcode", version=medcode.__version__, description=DESCRIPTION, lifespan=lifespan)
    problems.install(app)
    # Inside the body limit: the guard reads a JSON body (bounded by it) whole before any route parses it.
    app.add_middleware(JsonGuardMiddleware, limits=json_limits(settings), body_limit=settings.serving.max_body_bytes)
    for router in (suggest.router, codes.router, encounters.router, exports.router, jobs.router,
                   validate.router, claims.router, remittances.router, coding_metrics.router):
        app.include_router(router, prefix="/v1")
    app.include_router(health.router)
    app.include_router(ui.router)  # the coder's review page at /ui (static files, no API of its own)
    # Outermost last: metrics see every response, the body limit refuses before anything reads the body.
    if settings.serving.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.serving.cors_origins,
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type", "Accept"])
    app.add_middleware(BodyLimitMiddleware, limit=settings.serving.max_body_bytes)
    app.add_middleware(HeaderLimitMiddleware, header_bytes=settings.serving.max_header_bytes,
                       url_bytes=settings.serving.max_url_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    keep_queries_out_of_access_log()
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    return app


class _NoQueryString(logging.Filter):
    """Drops the query string from uvicorn's access lines: a search box's `?q=` may hold a patient's words."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def keep_queries_out_of_access_log() -> None:
    """Install `_NoQueryString` on uvicorn's access logger, once."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _NoQueryString) for f in access.filters):
        access.addFilter(_NoQueryString())


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    """FastAPI's document, plus the schemas of bodies that routes read themselves (jobs take JSON or JSONL),
    every problem status a route can answer, and only the code systems this service has loaded."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi
        from pydantic.json_schema import models_json_schema

        from serving.schemas import JobCreate

        document = get_openapi(title=app.title, version=app.version, description=app.description,
                               routes=app.routes)
        _, extra = models_json_schema([(JobCreate, "validation")], ref_template="#/components/schemas/{model}")
        document.setdefault("components", {}).setdefault("schemas", {}).update(extra.get("$defs", {}))
        problems.document_statuses(document)
        _only_loaded_systems(document, loaded_systems(settings))
        app.openapi_schema = document
    return app.openapi_schema


def _only_loaded_systems(node: Any, loaded: list[str]) -> None:
    """Narrow every enum of code systems to those loaded: CPT and HCPCS only with the site's files."""
    if isinstance(node, dict):
        if sorted(node.get("enum") or ()) == sorted(SYSTEMS):
            node["enum"] = loaded
        for value in node.values():
            _only_loaded_systems(value, loaded)
    elif isinstance(node, list):
        for value in node:
            _only_loaded_systems(value, loaded)


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory serving.app:app_from_env`."""
    return create_app(get_settings())
