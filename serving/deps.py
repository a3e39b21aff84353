"""What routes receive through `Depends`: the services, a DB session, the caller, the coder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings
from serving.codesearch import CodeSearch
from serving.metrics import Metrics
from serving.runner import Runner
from serving.security import Caller, InFlightLimiter, RateLimiter, authenticate
from serving.store.db import Store


@dataclass
class Services:
    """Everything the app holds for its lifetime; the coder and search arrive when loaded."""

    settings: Settings
    store: Store
    metrics: Metrics
    limiter: RateLimiter
    in_flight: InFlightLimiter = field(default_factory=lambda: InFlightLimiter(0))
    runner: Runner | None = None
    search: CodeSearch | None = None
    worker: object | None = None
    #: The Ray actors that code batch jobs when MEDCODE_RAY_ADDRESS is set (serving.cluster.RayRunner).
    cluster: object | None = None
    load_error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.runner is not None and self.search is not None


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """One session per request, committed when the route returns."""
    with services.store.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_caller(services: ServicesDep,
               authorization: Annotated[str | None, Header(description="`Bearer <API key>`")] = None) -> Caller:
    """The caller named by the API key, within its rate limit."""
    with services.store.session() as session:
        caller = authenticate(session, authorization)
    services.limiter.check(caller.key_id)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def hold_note_slot(services: ServicesDep, caller: CallerDep) -> Iterator[None]:
    """One of the caller's notes-in-flight slots, held while the route codes its note."""
    with services.in_flight.hold(caller.key_id):
        yield


#: Declared by routes that code a note: the caller's notes in flight are bounded.
NoteSlotDep = Annotated[None, Depends(hold_note_slot)]


def loaded_systems(settings: Settings) -> list[str]:
    """The code systems this service codes and searches: ICD-10 always, CPT / HCPCS with the site's files."""
    return ["ICD-10-CM", "ICD-10-PCS", *sorted(settings.code_files)]


def check_systems(systems: Sequence[str] | None, settings: Settings) -> None:
    """E010 for a requested system that is not loaded (asking for CPT without its file gets no silent nothing)."""
    known = loaded_systems(settings)
    for system in systems or ():
        if system not in known:
            raise MedcodeError(ErrorCode.UNKNOWN_SYSTEM, system=system, known=", ".join(known))


def get_runner(services: ServicesDep) -> Runner:
    if services.runner is None:
        raise MedcodeError(ErrorCode.NOT_READY)
    return services.runner


CoderDep = Annotated[Runner, Depends(get_runner)]


def get_search(services: ServicesDep) -> CodeSearch:
    if services.search is None:
        raise MedcodeError(ErrorCode.NOT_READY)
    return services.search


SearchDep = Annotated[CodeSearch, Depends(get_search)]
