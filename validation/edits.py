"""ICD-10-CM / PCS code edits: invalid or retired codes, header codes, 7th characters, Excludes1 pairs,
code-first and use-additional instructions, duplicates, the principal diagnosis."""

from __future__ import annotations

import re
from datetime import date

from codesets import versions
from codesets.types import Code, CodeSet, display_code, normalize_code
from medcode.settings import get_settings
from medcode.types import System
from validation.references import CodeRef, Note, excludes1, instructions, lineage
from validation.types import Encounter, Finding

_MANIFESTATION = re.compile(r"classified elsewhere", re.IGNORECASE)
_IF_APPLICABLE = re.compile(r"\bif (?:applicable|known)\b", re.IGNORECASE)


def _named(codeset: CodeSet | None, system: System, key: str) -> str:
    """`I50.23 Acute on chronic systolic heart failure`, or the bare code when the code set lacks it."""
    shown = display_code(system, key)
    record = codeset.get(key) if codeset is not None else None
    return f"{shown} {record.description}" if record else shown


def _listing(codeset: CodeSet, codes: list[Code]) -> str:
    limit = get_settings().validation.max_children
    shown = "; ".join(f"{c.code} {c.description}" for c in codes[:limit])
    return shown + (f"; … ({len(codes) - limit} more)" if len(codes) > limit else "")


def check_code(system: System, code: str, day: date, cm: CodeSet, pcs: CodeSet | None = None) -> list[Finding]:
    """Whether one code may be billed on a date: valid in the release of that date, else why not and what instead."""
    key = normalize_code(code)
    release = versions.release_on(system, day)
    valid = versions.is_valid(system, key, release)
    if valid:
        return []
    shape = _cm_shape(key, cm) if system == "ICD-10-CM" else []
    shown = display_code(system, key)
    if valid is None:
        return shape or [Finding(
            severity="info", rule="release-unknown", codes=[shown],
            message=f"No code list is known for {release.tag}; {shown} was not checked against it.",
            fix="Drop the release's CMS code file into the releases folder (see codesets/versions.py).")]
    held = versions.valid_in(system, key)
    if not held:
        return shape or [_unknown(system, key, pcs)]
    successors = versions.successors(system, key, release)
    span = held[0].name if len(held) == 1 else f"{held[0].name} to {held[-1].name}"
    retired = held[-1].effective < release.effective
    book = cm if system == "ICD-10-CM" else pcs
    if successors:
        fix = (f"Use {', '.join(_named(book, system, s) for s in successors)} (CMS conversion table, "
               f"FY{held[-1].fiscal_year if retired else held[0].fiscal_year} to FY{release.fiscal_year}).")
    else:
        fix = shape[0].fix if shape and shape[0].fix else f"Choose a code valid in {release.tag}."
    return [Finding(severity="error", rule="code-not-valid-on-date", codes=[shown],
                    message=f"{shown} is {'retired before' if retired else 'not yet valid in'} {release.tag}, the "
                    f"release for a date of service of {day.isoformat()}; it is valid in {span}.", fix=fix)]


def _unknown(system: System, key: str, pcs: CodeSet | None) -> Finding:
    shown = display_code(system, key)
    fix = f"Check the code against the {system} tabular."
    if system == "ICD-10-PCS" and pcs is not None and len(key) < 7 and (under := pcs.with_prefix(key)):
        fix = f"A PCS code has 7 characters; codes starting {key}: {_listing(pcs, under)}."
    return Finding(severity="error", rule="invalid-code", codes=[shown],
                   message=f"{shown} is not an {system} code in any known release.", fix=fix)


def _cm_shape(key: str, cm: CodeSet) -> list[Finding]:
    """Header codes, a missing or wrong 7th character, a missing placeholder X."""
    record = cm.get(key)
    if record is not None and not record.billable:
        billable = [c for c in cm.with_prefix(key) if c.billable]
        if record.seventh and len(key) == 6:
            options = ", ".join(ch for ch, _ in record.seventh)
            return [Finding(severity="error", rule="seventh-character", codes=[record.code],
                            message=f"{record.code} needs a 7th character (episode of care, {options}).",
                            fix=f"Use one of: {_listing(cm, billable)}.")]
        return [Finding(severity="error", rule="header-code", codes=[record.code],
                        message=f"{record.code} ({record.description}) is a header, not a billable code.",
                        fix=f"Use a billable code under it: {_listing(cm, billable)}." if billable else None)]
    if record is not None or len(key) < 4:
        return []
    seventh = _seventh_of(cm, key)
    if not seventh:
        return []
    shown = display_code("ICD-10-CM", key)
    if len(key) < 7 and key[-1] in seventh:
        body, missing = key[:-1], 7 - len(key)
        padded = [body[:i] + "X" * missing + body[i:] + key[-1] for i in range(3, len(body) + 1)]
        found = [c for c in map(cm.get, padded) if c is not None and c.billable]
        if found:
            return [Finding(severity="error", rule="placeholder-x", codes=[shown],
                            message=f"{shown} lacks the placeholder X: {key[:3]} codes carry the 7th character "
                            "in 7th position.", fix=f"Use {_listing(cm, found)}.")]
    if len(key) == 7 and (stem := cm.get(key[:6])) is not None and key[6] not in seventh:
        options = [c for c in cm.with_prefix(key[:6]) if c.billable]
        return [Finding(severity="error", rule="seventh-character", codes=[shown],
                        message=f"{key[6]} is not a valid 7th character for {stem.code}; valid: "
                        f"{', '.join(sorted(seventh))}.", fix=f"Use one of: {_listing(cm, options)}.")]
    return []


def _seventh_of(cm: CodeSet, key: str) -> set[str]:
    """The 7th characters the nearest known ancestor of `key` defines (empty when none does)."""
    for n in range(min(len(key), 6), 2, -1):
        record = cm.get(key[:n])
        if record is not None:
            return {ch for ch, _ in record.seventh}
    return set()


def check_principal(encounter: Encounter) -> list[Finding]:
    """An inpatient claim has exactly one principal diagnosis."""
    principals = [d for d in encounter.diagnoses if d.principal]
    if encounter.setting == "inpatient" and not principals and encounter.diagnoses:
        return [Finding(severity="error", rule="principal-missing", codes=[],
                        message="No diagnosis is marked principal on this inpatient encounter.",
                        fix="Mark the condition chiefly responsible for the admission as principal.")]
    if len(principals) > 1:
        shown = [display_code("ICD-10-CM", d.code) for d in principals]
        return [Finding(severity="error", rule="principal-multiple", codes=shown,
                        message=f"{len(principals)} diagnoses are marked principal: {', '.join(shown)}.",
                        fix="Keep one principal diagnosis; list the others as secondary.")]
    return []


def check_duplicates(encounter: Encounter) -> list[Finding]:
    """The same diagnosis twice; the same procedure twice on one date."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for d in encounter.diagnoses:
        key = normalize_code(d.code)
        if key in seen:
            shown = display_code("ICD-10-CM", key)
            findings.append(Finding(severity="error", rule="duplicate", codes=[shown],
                                    message=f"{shown} is coded more than once.", fix="Remove the repeated line."))
        seen.add(key)
    done: set[tuple[str, date | None]] = set()
    for p in encounter.procedures:
        item = (normalize_code(p.code), p.date)
        if item in done:
            findings.append(Finding(severity="warning", rule="duplicate", codes=[item[0]],
                                    message=f"{item[0]} is coded twice for the same date.",
                                    fix="Remove the repeat, unless the procedure was really performed twice."))
        done.add(item)
    return findings


def check_excludes1(keys: list[str], cm: CodeSet) -> list[Finding]:
    """Pairs of codes where one's Excludes1 note (its own or inherited) names the other."""
    findings: list[Finding] = []
    reported: set[frozenset[str]] = set()
    for a in keys:
        for note in excludes1(cm, a):
            for b in keys:
                # The note is tested first: most pairs fail it, and a frozenset per pair is not free.
                if b != a and note.matches(b) and (pair := frozenset((a, b))) not in reported:
                    reported.add(pair)
                    sa, sb = display_code("ICD-10-CM", a), display_code("ICD-10-CM", b)
                    findings.append(Finding(
                        severity="error", rule="excludes1", codes=[sa, sb],
                        message=f"{sa} and {sb} are coded together, but {note.owner} has Excludes1: "
                        f"\"{note.text}\"; the two are not coded together.",
                        fix=f"Keep the code that fits the record ({sa} or {sb}) and remove the other, unless the "
                        "conditions are unrelated (guideline I.A.12.a)."))
    return findings


def check_instructions(keys: list[str], cm: CodeSet) -> list[Finding]:
    """Unmet "code first" and "use additional code" notes; `keys` in claim order, the principal first."""
    findings: list[Finding] = []
    for i, key in enumerate(keys):
        record = cm.get(key)
        if record is None:
            continue
        shown = record.code
        manifestation = any(_MANIFESTATION.search(c.description) for c in lineage(cm, record))
        for group in instructions(cm, key, "code_first"):
            refs = [r for note in group for r in note.refs]
            text = _quote(group)
            present = [j for j, other in enumerate(keys) if j != i and any(r.matches(other) for r in refs)]
            if refs and not present:
                findings.append(Finding(
                    severity="warning" if manifestation else "info", rule="code-first", codes=[shown],
                    message=f"{shown} has a \"code first\" note: {text}.",
                    fix=f"If one applies, code it and sequence it before {shown}: {_refs(refs)}."))
            elif refs and min(present) > i:
                first = display_code("ICD-10-CM", keys[min(present)])
                findings.append(Finding(
                    severity="warning", rule="code-first-sequence", codes=[first, shown],
                    message=f"{first} should be sequenced before {shown} (\"code first\" note at {group[0].owner}).",
                    fix=f"Move {first} ahead of {shown}."))
            elif not refs and manifestation and i == 0:
                findings.append(Finding(
                    severity="warning", rule="code-first", codes=[shown],
                    message=f"{shown} is a manifestation code listed first; its note says code first {text}.",
                    fix=f"Code the underlying condition and sequence it before {shown}."))
        for group in instructions(cm, key, "use_additional"):
            refs = [r for note in group for r in note.refs]
            if refs and not any(j != i and any(r.matches(other) for r in refs) for j, other in enumerate(keys)):
                findings.append(Finding(
                    severity="info" if _optional(group) else "warning", rule="use-additional", codes=[shown],
                    message=f"{shown} has a \"use additional code\" note: {_quote(group)}.",
                    fix=f"Add the code the note asks for if the record supports it: {_refs(refs)}."))
    return findings


def _optional(group: tuple[Note, ...]) -> bool:
    """The note itself says "if applicable" / "if known"."""
    return any(_IF_APPLICABLE.search(n.text) for n in group)


def _quote(group: tuple[Note, ...]) -> str:
    lines = [n.text.rstrip(".:") for n in group]
    return "; ".join(lines[:4]) + ("; …" if len(lines) > 4 else "")


def _refs(refs: list[CodeRef]) -> str:
    unique = list(dict.fromkeys(str(r) for r in refs))
    return ", ".join("-".join(display_code("ICD-10-CM", b) for b in r.split("-")) for r in unique[:8])


def check_poa(encounter: Encounter) -> list[Finding]:
    """Inpatient diagnoses reported without a present-on-admission indicator."""
    if encounter.setting != "inpatient":
        return []
    missing = [display_code("ICD-10-CM", d.code) for d in encounter.diagnoses if d.poa is None]
    if not missing:
        return []
    return [Finding(severity="info", rule="poa-missing", codes=missing,
                    message=f"No present-on-admission indicator for {', '.join(missing)}.",
                    fix="Report POA (Y, N, U, W, or 1 when exempt); hospital-acquired conditions depend on it.")]
