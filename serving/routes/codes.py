"""`/v1/codes`: type-ahead search and one code's details."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from codesets.types import CodeSet
from medcode.errors import ErrorCode, MedcodeError
from medcode.types import SYSTEMS, System
from serving.codesearch import CodeSearch
from serving.deps import CallerDep, SearchDep
from serving.problems import PROBLEM_RESPONSES
from serving.schemas import CodeDetail, CodeRef, CodeSearchResult

router = APIRouter(prefix="/codes", tags=["codes"], responses=PROBLEM_RESPONSES)


def _codeset(search: CodeSearch, system: str) -> CodeSet:
    wanted = system.strip().upper().replace("_", "-")
    for name, codeset in search.codesets.items():
        if wanted in (name, name.replace("-", "")):
            return codeset
    raise MedcodeError(ErrorCode.UNKNOWN_SYSTEM, system=system, known=", ".join(search.codesets))


@router.get("/search", response_model=CodeSearchResult)
def search_codes(
    caller: CallerDep,
    search: SearchDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Code prefix or words; the last word "
                            "may be cut short.", examples=["acute myocardial inf"])],
    system: Annotated[System | None, Query(description="Only this system.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CodeSearchResult:
    """Type-ahead over the loaded code sets: codes by prefix, then by words of their texts."""
    caller.require("read codes")
    if system is not None:
        _codeset(search, system)
    return CodeSearchResult(items=search.search(q, system=system, limit=limit))


@router.get("/{system}/{code}", response_model=CodeDetail, responses={404: {"description": "No such code"}})
def get_code(system: Annotated[str, Path(json_schema_extra={"enum": list(SYSTEMS)},
                                         description="A loaded code system (ICD10CM and the like are read too).")],
             code: str, caller: CallerDep, search: SearchDep) -> CodeDetail:
    """One code: description, billable, parents and children, excludes and the other notes."""
    caller.require("read codes")
    codeset = _codeset(search, system)
    record = codeset.get(code)
    if record is None:
        raise MedcodeError(ErrorCode.UNKNOWN_CODE, system=codeset.system, code=code[:20])
    parents: list[CodeRef] = []
    parent = codeset.get(record.parent) if record.parent else None
    while parent is not None and len(parents) < 10:
        parents.insert(0, CodeRef(code=parent.code, description=parent.description, billable=parent.billable))
        parent = codeset.get(parent.parent) if parent.parent else None
    return CodeDetail(
        code=record.code, system=record.system, description=record.description,
        long_description=record.long_description, billable=record.billable, release=codeset.release,
        parents=parents,
        children=[CodeRef(code=c.code, description=c.description, billable=c.billable)
                  for c in codeset.children(record.code)],
        chapter=record.chapter, block=record.block, synonyms=list(record.synonyms),
        excludes1=list(record.excludes1), excludes2=list(record.excludes2), code_first=list(record.code_first),
        use_additional=list(record.use_additional), code_also=list(record.code_also),
        seventh=[tuple(s) for s in record.seventh], axes=[tuple(a) for a in record.axes])
