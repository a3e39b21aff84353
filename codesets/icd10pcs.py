"""ICD-10-PCS from the `drg` package's Tuva code list, with axes derived from the descriptions."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from importlib.metadata import version
from importlib.resources import files
from typing import Any

from codesets.cache import cached_codes, files_digest
from codesets.types import Code, CodeSet, normalize_code
from medcode.errors import ErrorCode, MedcodeError

# Named for what the file holds, not what we hoped: drg 1.0.0 implements MS-DRG FY2026 v43.0, but its
# Tuva PCS list has no New Technology group A (FY2025) or B (FY2026) codes, only groups up to 9 (FY2024);
# 78,638 codes is the FY2024 order of magnitude (FY2025 and FY2026 have more). So it is the FY2024 list.
RELEASE = "FY2024"
#: Bump when the records built here change, so older caches are ignored.
LOADER_VERSION = "icd10pcs-1"
_CSV = ("drg", "data/tuva/icd_10_pcs.csv")

#: Words that join the parts of a PCS description; each part then belongs to one axis.
_DELIMITERS = re.compile(r"(,? (?:of|to|with|into|using|from|for|in) |, )")
#: Joining words that say which axis the next part names: a device or substance, or the body part.
_BEFORE_DEVICE = (" with ", ", with ", " using ", ", using ")
_BEFORE_BODY_PART = (" into ", " in ", ", in ")
_APPROACH = re.compile(r"(Approach|^Via Natural or Artificial Opening.*|^External|^Open|^Percutaneous.*)$")


@cache
def _resource(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files("codesets").joinpath("resources", name).read_text(encoding="utf-8"))
    return data


def _tables() -> dict[str, Any]:
    return _resource("pcs_tables.json")


def _paraphrases() -> dict[str, Any]:
    return _resource("pcs_paraphrases.json")


def _csv_bytes() -> bytes:
    return files(_CSV[0]).joinpath(_CSV[1]).read_bytes()


def load() -> CodeSet:
    """All ICD-10-PCS codes with their axes and paraphrases, from cache when built before."""
    raw = _csv_bytes()
    resources = files("codesets").joinpath("resources")
    fingerprint = files_digest(
        LOADER_VERSION.encode(),
        raw,
        resources.joinpath("pcs_tables.json").read_bytes(),
        resources.joinpath("pcs_paraphrases.json").read_bytes(),
    )
    codes = cached_codes(f"icd10pcs-{RELEASE}-{fingerprint}", lambda: build(_rows(raw)))
    return CodeSet("ICD-10-PCS", RELEASE, codes, source=f"drg {version('drg')} (Tuva icd_10_pcs.csv)")


def _rows(raw: bytes) -> list[tuple[str, str]]:
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig")))
    return [(row[0].strip().upper(), row[1].strip()) for row in reader if row]


def build(rows: Iterable[tuple[str, str]]) -> list[Code]:
    """PCS records from (code, description) rows; axes are read off the descriptions table by table."""
    by_table: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for code, description in rows:
        by_table[code[:3]].append((code, description))
    codes: list[Code] = []
    for table, members in by_table.items():
        meanings = _table_meanings(table, members)
        for code, description in members:
            axes = _axes(code, meanings)
            codes.append(
                Code(
                    code=code,
                    system="ICD-10-PCS",
                    description=description,
                    billable=True,
                    synonyms=paraphrases(code, axes, description),
                    parent=None,
                    chapter=code[0],
                    block=table,
                    axes=axes,
                )
            )
    return codes


def axis_names(section: str) -> list[str]:
    """The names of the 7 axes of a section; generic names for a section the manual table lacks."""
    names: list[str] = _tables()["axes"].get(section, [])
    return names or ["section", "body system", "axis 3", "axis 4", "axis 5", "axis 6", "axis 7"]


def _axes(code: str, meanings: dict[tuple[int, str], str]) -> tuple[tuple[str, str], ...]:
    tables = _tables()
    section = code[0]
    values = [
        tables["sections"].get(section, ""),
        tables["body_systems"].get(section, {}).get(code[1], ""),
        *(meanings.get((i, code[i]), "") for i in range(2, 7)),
    ]
    return tuple(zip(axis_names(section), values, strict=True))


def _root(table: str, descriptions: list[str]) -> str:
    """The table's 3rd-axis meaning: a fixed root operation in Medical and Surgical, else the shared lead words."""
    fixed = _tables()["root_operations"].get(table[0])
    if fixed:
        return str(fixed.get(table[2], ""))
    lead = descriptions[0]
    for d in descriptions[1:]:
        n = 0
        while n < min(len(lead), len(d)) and lead[n] == d[n]:
            n += 1
        lead = lead[:n]
    cut = _DELIMITERS.search(lead)
    if cut:
        return lead[: cut.start()].strip()
    if all(d == lead for d in descriptions):
        return lead.strip()
    # A shared prefix that stops mid-word ("Release L" of "Release Left ..."/"Release Lower ...") keeps whole words.
    return lead[: lead.rfind(" ")].strip() if " " in lead else ""


def _parts(description: str, root: str) -> list[tuple[str, str]]:
    """(joining word, text) parts of a description after its root operation."""
    rest = description[len(root) :] if root and description.startswith(root) else description
    rest = re.sub(r"^(?:, | of | )", "", rest)
    pieces = _DELIMITERS.split(rest)
    parts = [("", pieces[0].strip())]
    parts += [(pieces[i], pieces[i + 1].strip()) for i in range(1, len(pieces) - 1, 2)]
    # Some rows say "Percutaneous", most "Percutaneous Approach": one text per approach.
    return [(joint, re.sub(r" Approach$", "", text)) for joint, text in parts if text]


def _table_meanings(table: str, members: list[tuple[str, str]]) -> dict[tuple[int, str], str]:
    """(axis index, value) -> meaning for axes 3 to 7 of one PCS table.

    A description part belongs to the axis whose value decides it: it appears in every code with some
    values of that axis and in none with the others ("Gallbladder" comes and goes with the 4th character).
    """
    names = axis_names(table[0])
    root = _root(table, [d for _, d in members])
    meanings: dict[tuple[int, str], str] = {(2, table[2]): root}
    parts = [_parts(d, root) for _, d in members]
    holders: dict[str, set[int]] = defaultdict(set)
    joints: dict[str, str] = {}
    next_joints: dict[str, str] = {}
    order: dict[str, int] = {}
    for i, code_parts in enumerate(parts):
        for rank, (joint, text) in enumerate(code_parts):
            holders[text].add(i)
            joints.setdefault(text, joint)
            next_joints.setdefault(text, code_parts[rank + 1][0] if rank + 1 < len(code_parts) else "")
            order.setdefault(text, rank)
    groups = {p: _groups([c for c, _ in members], p) for p in range(3, 7)}
    owner: dict[str, int] = {}
    for text, held in holders.items():
        axis = _owner(text, (joints[text], next_joints[text]), held, groups, names, len(members))
        if axis is not None:
            owner[text] = axis
    for p in range(3, 7):
        for value, group in groups[p].items():
            texts = [t for t, axis in owner.items() if axis == p and group <= holders[t]]
            texts.sort(key=lambda t: order[t])
            meaning = "".join(f"{joints[t]}{t}" if k else t for k, t in enumerate(texts))
            if not meaning and value == "Z":
                meaning = "None" if names[p] in ("contrast", "approach") else f"No {names[p].title()}"
            meanings[(p, value)] = meaning
    return meanings


def _groups(codes: list[str], p: int) -> dict[str, set[int]]:
    groups: dict[str, set[int]] = defaultdict(set)
    for i, code in enumerate(codes):
        groups[code[p]].add(i)
    return groups


def _owner(
    text: str,
    around: tuple[str, str],
    held: set[int],
    groups: dict[int, dict[str, set[int]]],
    names: list[str],
    total: int,
) -> int | None:
    """The axis (3..6) whose value decides whether `text` is in a description, or None.

    `around` holds the joining words before and after the part; they break ties between axes that
    decide it equally well ("Introduction of <substance> into <body part>").
    """
    decided = []
    for p, by_value in groups.items():
        values = [v for v, g in by_value.items() if g & held]
        if sum(len(by_value[v]) for v in values) == len(held):
            decided.append((len(values), p))
    if not decided:
        return None
    axes = {p for _, p in decided}
    if len(held) == total:
        # Shared by the whole table, so it cannot name a Z ("None") value ("Matter" of Extirpation is no device).
        axes = {p for p in axes if set(groups[p]) != {"Z"}}
    if _APPROACH.search(text) and "approach" in names and names.index("approach") in axes:
        return names.index("approach")
    before, after = around
    if (before in _BEFORE_DEVICE or after in _BEFORE_BODY_PART) and 5 in axes:
        return 5
    if before in _BEFORE_BODY_PART and 3 in axes:
        return 3
    if len(held) == total:
        # Shared by the whole table: it names an axis with a single value there, the body part first.
        single = [p for p in sorted(axes) if len(groups[p]) == 1]
        return single[0] if single else None
    return min(decided)[1]


def paraphrases(code: str, axes: tuple[tuple[str, str], ...], description: str = "") -> tuple[str, ...]:
    """Plain-language names of a PCS code built from its axes with the rules in pcs_paraphrases.json."""
    rules = _paraphrases()
    meaning = [m for _, m in axes]
    names = [n for n, _ in axes]
    section, root, body_part, qualifier = code[0], meaning[2], meaning[3], meaning[6]
    approach = meaning[names.index("approach")] if "approach" in names else ""
    device = meaning[5] if names[5] == "device" and not meaning[5].startswith("No ") else ""
    substance = meaning[5] if "substance" in names[5] else ""
    verbs = rules["verbs"].get(f"{root}|{qualifier}") or rules["verbs"].get(root) or ([root.lower()] if root else [])
    approaches = rules["approaches"]
    slots: dict[str, list[str]] = {
        "approach": [approaches.get(f"{approach}|{code[:2]}", approaches.get(approach, ""))],
        "verb": verbs,
        "verb1": verbs[:1],
        "root": [root],
        "body_part": [body_part],
        "body_part_adj": [rules["body_part_adjectives"].get(body_part, body_part)],
        "device": [device],
        "substance": [substance],
        "named": [
            name
            for key, names_ in rules["named_procedures"].items()
            if key.partition("|")[0] == root and body_part.startswith(key.partition("|")[2])
            for name in names_
        ],
    }
    found: list[str] = []
    for template in _templates(section, root, body_part):
        found.extend(_fill(template, slots))
    for m in meaning:
        found.extend(rules["meaning_phrases"].get(m, []))
    seen = {description.lower()}
    unique = []
    for phrase in (_lower(p) for p in found):
        if phrase.lower() not in seen:
            seen.add(phrase.lower())
            unique.append(phrase)
    return tuple(unique[: rules["max_per_code"]])


def _templates(section: str, root: str, body_part: str) -> list[str]:
    templates: dict[str, list[str]] = _paraphrases()["templates"]
    if f"{section}|{root}" in templates:
        return templates[f"{section}|{root}"]
    words = set(body_part.split())
    for key, listed in templates.items():
        head, _, word = key.partition("|")
        if head == section and word in words:
            return listed
    return templates.get(section, templates["default"])


def _fill(template: str, slots: dict[str, list[str]]) -> list[str]:
    """Every filling of `template`, or none when one of its slots is empty."""
    filled = [template]
    for slot in re.findall(r"\{(\w+)\}", template):
        values = [v for v in slots.get(slot, []) if v and v != "None"]
        if not values:
            return []
        filled = [f.replace(f"{{{slot}}}", v, 1) for f in filled for v in values]
    return [re.sub(r"\s+", " ", f).strip() for f in filled]


def _lower(text: str) -> str:
    """Lower case, keeping acronyms (CT, MRI, CABG)."""
    return " ".join(w if len(w) > 1 and w.isupper() else w.lower() for w in text.split())


def prefix_description(codeset: CodeSet, prefix: str) -> str:
    """Describes a 1-7 character PCS prefix (CodiEsp truncates codes to 4, e.g. "bw20") by the axes its codes share."""
    key = normalize_code(prefix)
    if not 1 <= len(key) <= 7:
        raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"A PCS prefix has 1 to 7 characters, not {prefix!r}.")
    under = [c for c in codeset if c.key.startswith(key)]
    if not under:
        raise MedcodeError(ErrorCode.UNKNOWN_CODE, system=codeset.system, code=prefix)
    described = []
    for i in range(len(key)):
        shared = {c.axes[i][1] for c in under if len(c.axes) > i}
        if len(shared) == 1 and (only := shared.pop()):
            described.append(only)
    return ", ".join(described)
