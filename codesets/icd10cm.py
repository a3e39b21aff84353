"""ICD-10-CM (April 2026 release) from the `simple_icd_10_cm` package, with note-friendly synonyms."""

from __future__ import annotations

import importlib.util
import re
import warnings
from importlib.metadata import version
from pathlib import Path

from codesets.cache import cached_codes, files_digest
from codesets.types import Code, CodeSet

RELEASE = "2026-04"  # simple_icd_10_cm 1.5.0 ships icd10c-tabular-April-1-2026.xml
#: Bump when the records built here change, so older caches are ignored.
LOADER_VERSION = "icd10cm-1"
#: How many "modifier + head" variants one term with trailing nonessential modifiers yields.
MAX_MODIFIER_VARIANTS = 3

_PARENS = re.compile(r"\s*\(([^()]*)\)")
_BRACKETS = re.compile(r"\s*\[([^\[\]]*)\]")
_TRAILING_PARENS = re.compile(r"^(?P<head>[^()]+?)(?P<mods>(?:\s*\([^()]*\))+)$")
_NOS = re.compile(r"\s*,?\s*\b(?:NOS|not otherwise specified)\b", re.IGNORECASE)
#: ", unspecified" or ", unspecified side" closing the text or one of its comma-separated parts.
_UNSPECIFIED_PART = re.compile(r",\s*unspecified(?:\s+\w+){0,2}(?=,|$)", re.IGNORECASE)
_UNSPECIFIED_WORD = re.compile(r"\bunspecified\s+", re.IGNORECASE)
_STOP_WORDS = frozenset("of with in and or due to without for on by from other not as at".split())
#: Tails that qualify rather than invert, so "X, left side" is not flipped into "left side X".
_NO_FLIP_TAILS = re.compile(r"\b(left|right|bilateral|encounter|sequela|initial|subsequent|site|side|type|unspecified|specified|other|multiple)\b", re.I)


def _data_dir() -> Path:
    """The package's data folder, found without importing the package (its import parses the XML)."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("simple_icd_10_cm")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _fingerprint() -> str:
    files = sorted(p for p in _data_dir().iterdir() if p.is_file() and p.suffix in {".txt", ".xml"})
    return files_digest(LOADER_VERSION.encode(), *(p.name.encode() + p.read_bytes() for p in files))


def load() -> CodeSet:
    """Every category, subcategory and 7th-character code of ICD-10-CM, from cache when built before."""
    source = f"simple-icd-10-cm {version('simple_icd_10_cm')}"
    codes = cached_codes(f"icd10cm-{RELEASE}-{_fingerprint()}", _build)
    return CodeSet("ICD-10-CM", RELEASE, codes, source=source)


def _build() -> list[Code]:
    # The package reads its data with importlib.resources' deprecated read_text: its warning, not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as cm  # slow import (parses 10 MB of XML): only when the cache is cold

    codes: list[Code] = []
    seen: set[str] = set()
    for c in cm.get_all_codes(with_dots=True):
        # Not is_block/is_chapter: single-category blocks (B20, C50, R99) are both block and category,
        # and are listed twice, once as each.
        if c in seen or not (cm.is_category_or_subcategory(c) or cm.is_extended_subcategory(c)):
            continue
        seen.add(c)
        ancestors = cm.get_ancestors(c)  # nearest first, the chapter number last, the block before it
        description = cm.get_description(c)
        terms = [*cm.get_inclusion_term(c), *cm.get_includes(c)]
        seventh = cm.get_seven_chr_def(c, search_in_ancestors=True)
        codes.append(
            Code(
                code=c,
                system="ICD-10-CM",
                description=description,
                billable=cm.is_leaf(c),
                synonyms=synonyms(description, terms),
                parent=ancestors[0] if len(ancestors) > 2 else None,
                chapter=ancestors[-1],
                block=ancestors[-2],
                excludes1=tuple(cm.get_excludes1(c)),
                excludes2=tuple(cm.get_excludes2(c)),
                code_first=_lines(cm.get_code_first(c)),
                use_additional=_lines(cm.get_use_additional_code(c)),
                code_also=_lines(cm.get_code_also(c)),
                seventh=tuple(sorted(seventh.items())),
            )
        )
    return codes


def _lines(note: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in note.split("\n") if line.strip())


def synonyms(description: str, terms: list[str] | tuple[str, ...] = ()) -> tuple[str, ...]:
    """Inclusion terms plus variants a note would use: no NOS, no nonessential modifiers, no "unspecified".

    Case-insensitively unique, in a stable order (given terms first), never the description itself.
    """
    found: list[str] = [t.strip() for t in terms]
    for text in (description, *terms):
        found.extend(variants(text))
    seen = {description.strip().lower()}
    unique: list[str] = []
    for term in found:
        key = term.lower()
        if term and key not in seen:
            seen.add(key)
            unique.append(term)
    return tuple(unique)


def variants(text: str) -> list[str]:
    """Derived forms of one term, each lower case except its acronyms (HIV, FUO)."""
    forms = [_tidy(_NOS.sub("", text))]
    for step in (_without_parens, _without_brackets, _without_unspecified, _flipped):
        forms = forms + [new for form in forms for new in step(form) if new not in forms]
    return [_lower(f) for f in forms if f and f.lower() != text.strip().lower()]


def _without_parens(text: str) -> list[str]:
    """Nonessential modifiers dropped; trailing ones also each put before the head ("arterial hypertension")."""
    if "(" not in text:
        return []
    out = [_tidy(_PARENS.sub("", text))]
    trailing = _TRAILING_PARENS.match(text)
    # Only short heads: "hypertension (arterial)" reads "arterial hypertension", but a modifier placed
    # before a long head lands on the wrong word ("insulin resistant diabetes (mellitus)").
    if trailing and len(trailing.group("head").split()) <= 2:
        head = trailing.group("head").strip()
        mods = re.findall(r"\(([^()]*)\)", trailing.group("mods"))
        for mod in [m for m in mods if "," not in m and len(m.split()) <= 3][:MAX_MODIFIER_VARIANTS]:
            out.append(_tidy(f"{mod} {head}"))
    return out


def _without_brackets(text: str) -> list[str]:
    """A bracketed abbreviation dropped, and swapped in for the words it abbreviates ("HIV disease")."""
    match = _BRACKETS.search(text)
    if match is None:
        return []
    out = [_tidy(_BRACKETS.sub("", text))]
    abbreviation = match.group(1).strip()
    before = text[: match.start()].split()
    n = len(abbreviation)
    if abbreviation.isupper() and abbreviation.isalpha() and 1 < n <= len(before):
        initials = "".join(w[0] for w in before[-n:]).upper()
        if initials == abbreviation:
            out.append(_tidy(" ".join([*before[:-n], abbreviation]) + text[match.end() :]))
    return out


def _without_unspecified(text: str) -> list[str]:
    """'Fever, unspecified' -> 'Fever'; 'Pain in unspecified joint' -> 'Pain in joint'."""
    if "unspecified" not in text.lower():
        return []
    out = _tidy(_UNSPECIFIED_PART.sub("", text))
    out = _tidy(_UNSPECIFIED_WORD.sub("", out))
    return [out] if out and out.lower() != "unspecified" else []


def _flipped(text: str) -> list[str]:
    """A short comma inversion read the natural way: 'Gout, chronic' -> 'chronic Gout'."""
    head, sep, tail = text.partition(", ")
    if not sep or "," in tail:
        return []
    head_words, tail_words = head.split(), tail.split()
    if len(head_words) > 2 or len(tail_words) > 2 or any(ch.isdigit() for ch in text):
        return []
    if any(w.lower() in _STOP_WORDS for w in head_words + tail_words) or _NO_FLIP_TAILS.search(tail):
        return []
    return [f"{tail} {head}"]


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" ,;:-")


def _lower(text: str) -> str:
    return " ".join(w if len(w) > 1 and w.isupper() else w.lower() for w in text.split())
