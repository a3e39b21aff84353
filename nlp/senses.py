"""The senses of an ambiguous abbreviation ("SBP": systolic blood pressure, or spontaneous bacterial peritonitis)
and the one a text's cue words pick. No spaCy here: the coding step reads abbreviations as the pipeline does."""

from __future__ import annotations

from typing import Any

#: Long form (lower case) -> its cue words (lower case).
Senses = dict[str, tuple[str, ...]]


def ambiguous_senses(data: dict[str, Any]) -> dict[str, Senses]:
    """Short form -> its senses, from the "ambiguous" part of `abbreviations.json`, lower-cased."""
    return {short: {sense.lower(): tuple(cue.lower() for cue in cues) for sense, cues in senses.items()}
            for short, senses in data.get("ambiguous", {}).items()}


def cued(senses: Senses, context: str) -> list[str]:
    """The senses whose cue words occur in the lower-cased `context`: one of them settles the abbreviation, none
    leaves it to a wider context, several leave it alone."""
    return [sense for sense, cues in senses.items() if any(cue in context for cue in cues)]
