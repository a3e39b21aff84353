"""A note's suggestions and its proposed claim coding, from one engine call.

The coding step reads the engine's full ranked list with negated and family codes flagged, whatever the
caller asked to see; the list the caller gets back is then cut from it exactly as the engine would have
cut it (systems, negated codes dropped or flagged, the top N, ranks counted after the cut).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import coding
from coding.types import Coding, CodingContext
from medcode.settings import Settings
from medcode.types import Suggestion
from serving.runner import Runner
from serving.schemas import EncounterMeta

#: Assertions the engine drops under `negated="drop"` (nlp.ranking.NOT_PATIENT).
NOT_PATIENT = frozenset({"negated", "family"})


def context_of(meta: EncounterMeta | None) -> CodingContext:
    """The coding context of an encounter; the coding step's default setting when none is given."""
    if meta is None:
        return CodingContext()
    given: dict[str, Any] = {"date_of_service": meta.date_of_service, "patient": meta.patient}
    if meta.setting:
        given["setting"] = meta.setting
    return CodingContext(**given)


def shown(flagged: Sequence[Suggestion], *, top: int, negated: str) -> list[Suggestion]:
    """The caller's list out of the flagged full list: negated codes dropped when asked, top N, ranks renumbered."""
    kept = [s for s in flagged if negated == "flag" or s.assertion not in NOT_PATIENT][:top]
    return [s if s.rank == rank else s.model_copy(update={"rank": rank}) for rank, s in enumerate(kept, start=1)]


def suggest_many(runner: Runner, settings: Settings, texts: Sequence[str], metas: Sequence[EncounterMeta | None], *,
                 top: int | None = None, systems: Sequence[str] | None = None,
                 negated: str | None = None) -> list[tuple[list[Suggestion], Coding]]:
    """For each note: the suggestions the caller asked for, and the coding proposed from the full list."""
    want = top or settings.ranking.top
    full = runner.suggest_many(texts, top=max(want, settings.ranking.top), systems=systems, negated="flag")
    policy = negated or settings.ranking.negated
    return [(shown(found, top=want, negated=policy), coding.propose(text, found, context_of(meta)))
            for text, found, meta in zip(texts, full, metas, strict=True)]


def suggest(runner: Runner, settings: Settings, text: str, meta: EncounterMeta | None, **options: Any,
            ) -> tuple[list[Suggestion], Coding]:
    """One note's suggestions and proposed coding; see `suggest_many`."""
    return suggest_many(runner, settings, [text], [meta], **options)[0]
