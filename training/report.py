"""The evaluation report: `medcode eval codiesp --split dev --report out/` writes Markdown and PNG plots.

Figures per system on CodiEsp-form rankings (the list MAP scores, `training.metrics.ranked_codes`):
MAP, MAP@10, precision / recall / F1 at 5 and 10 (averaged over the notes that have gold codes of
the system), recall at 10 and among all candidates by ICD-10-CM chapter and by ICD-10-PCS section,
before and after training, and the most frequent misses (a gold code not in the top 10) with the
note id and a short piece of evidence: the candidate's span, or the note's clause closest to the
code's description when the engine never proposed it. Whole notes are never written.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from codesets.text import STOPWORDS, clauses, words
from codesets.types import CodeSet
from codesets.usage import PCS_PREFIX, CodedNote
from medcode.types import ICD10_SYSTEMS, System
from nlp.evidence import CodeCandidates
from training.metrics import RunSummary, SystemMetrics, average_precision, codiesp_form, ranked_codes
from training.plots import bar_plot, group_plot

CUTS = (5, 10)
SNIPPET = 140
#: ICD-10-PCS sections, by the code's first character.
PCS_SECTIONS = {
    "0": "Medical and Surgical", "1": "Obstetrics", "2": "Placement", "3": "Administration",
    "4": "Measurement and Monitoring", "5": "Extracorporeal Assistance", "6": "Extracorporeal Therapies",
    "7": "Osteopathic", "8": "Other Procedures", "9": "Chiropractic", "B": "Imaging", "C": "Nuclear Medicine",
    "D": "Radiation Therapy", "F": "Physical Rehabilitation", "G": "Mental Health", "H": "Substance Abuse",
    "X": "New Technology",
}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def group_of(system: System, code: str, codesets: Mapping[System, CodeSet]) -> str:
    """The ICD-10-CM chapter or the ICD-10-PCS section of a CodiEsp-form gold code."""
    if system == "ICD-10-PCS":
        return f"{code[:1].upper()} {PCS_SECTIONS.get(code[:1].upper(), '?')}"
    record = codesets[system].get(code) if system in codesets else None
    if record is None and system in codesets:
        record = codesets[system].get(code[:3])
    chapter = record.chapter if record and record.chapter else "?"
    return f"chapter {chapter}"


def system_metrics(notes: Sequence[CodedNote], rankings: Sequence[list[CodeCandidates]], system: System,
                   codesets: Mapping[System, CodeSet], truncation: Mapping[str, float] | None = None) -> SystemMetrics:
    """MAP, MAP@10, P/R/F1 at 5 and 10, and recall by chapter / section, of one system."""
    aps, aps10 = [], []
    prec: dict[int, list[float]] = defaultdict(list)
    rec: dict[int, list[float]] = defaultdict(list)
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for note, ranked in zip(notes, rankings, strict=True):
        gold = {codiesp_form(s, c) for s, c in note.codes if s == system}
        if not gold:
            continue
        codes = ranked_codes(ranked, system, truncation)
        aps.append(average_precision(codes, gold))
        aps10.append(average_precision(codes[:10], gold) * len(gold) / min(len(gold), 10))
        for k in CUTS:
            hits = len(set(codes[:k]) & gold)
            prec[k].append(hits / k)
            rec[k].append(hits / len(gold))
        top, everything = set(codes[:10]), set(codes)
        for g in gold:
            slot = groups[group_of(system, g, codesets)]
            slot[0] += 1
            slot[1] += g in top
            slot[2] += g in everything
    out = SystemMetrics(len(aps), _mean(aps), _mean(aps10), by_group=dict(sorted(groups.items())))
    for k in CUTS:
        p, r = _mean(prec[k]), _mean(rec[k])
        out.precision[k], out.recall[k], out.f1[k] = p, r, (2 * p * r / (p + r) if p + r else 0.0)
    return out


@dataclass(frozen=True)
class Miss:
    """A gold code often outside the top 10, with a few places it was missed."""

    system: System
    code: str
    description: str
    misses: int
    candidate: int  # how many of those misses had it among the candidates at all
    examples: tuple[tuple[str, str], ...]  # (note id, evidence or closest clause)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…"


def _closest_clause(note: str, description: str) -> str:
    target = {w for w, _, _ in words(description) if w not in STOPWORDS}
    best, best_overlap = "", 0
    for start, end in clauses(note):
        overlap = len(target & {w for w, _, _ in words(note[start:end])})
        if overlap > best_overlap:
            best, best_overlap = note[start:end], overlap
    return f"not a candidate; closest clause: \"{_snippet(best)}\"" if best else "not a candidate"


def _match(g: CodeCandidates, gold: str) -> bool:
    form = codiesp_form(g.system, g.code)
    return form == gold or (g.system == "ICD-10-PCS" and len(gold) == PCS_PREFIX and form[:PCS_PREFIX] == gold)


def frequent_misses(notes: Sequence[CodedNote], rankings: Sequence[list[CodeCandidates]],
                    codesets: Mapping[System, CodeSet], truncation: Mapping[str, Mapping[str, float]] | None = None,
                    *, n: int = 20, examples: int = 2) -> list[Miss]:
    """The `n` gold codes most often outside the top 10, both systems together."""
    count: Counter[tuple[System, str]] = Counter()
    found: Counter[tuple[System, str]] = Counter()
    where: dict[tuple[System, str], list[tuple[str, str]]] = defaultdict(list)
    for note, ranked in zip(notes, rankings, strict=True):
        for system in ICD10_SYSTEMS:
            top = set(ranked_codes(ranked, system, (truncation or {}).get(system))[:10])
            for gold in sorted({codiesp_form(s, c) for s, c in note.codes if s == system} - top):
                key = (system, gold)
                count[key] += 1
                hit = next((g for g in ranked if g.system == system and _match(g, gold)), None)
                found[key] += hit is not None
                if len(where[key]) < examples:
                    if hit is not None:
                        ev = hit.evidence()
                        rank = ranked.index(hit) + 1
                        text = f"candidate at rank {rank}: \"{_snippet(ev[0].mention.text)}\"" if ev else f"rank {rank}"
                    else:
                        text = _closest_clause(note.text, _description(system, gold, codesets))
                    where[key].append((note.id, text))
    return [Miss(s, c, _description(s, c, codesets), k, found[(s, c)], tuple(where[(s, c)]))
            for (s, c), k in sorted(count.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def _description(system: System, code: str, codesets: Mapping[System, CodeSet]) -> str:
    record = codesets[system].get(code) if system in codesets else None
    if record is None and system == "ICD-10-PCS" and system in codesets:
        # A 4-character PCS prefix has no record: describe it by its first full code's root operation.
        first = next(iter(codesets[system].with_prefix(code.upper())), None)
        return f"{first.description.split(',')[0]} … (prefix)" if first else ""
    return record.description if record else ""


def summarize(label: str, engine: str, notes: Sequence[CodedNote], rankings: Sequence[list[CodeCandidates]],
              codesets: Mapping[System, CodeSet], truncation: Mapping[str, Mapping[str, float]]) -> RunSummary:
    """The figures of one run over `notes` (`truncation`: `training.metrics.truncation_rates`)."""
    return RunSummary(label, engine, len(notes), {
        s: system_metrics(notes, rankings, s, codesets, truncation.get(s)) for s in ICD10_SYSTEMS})


def _rows(runs: Sequence[RunSummary], system: str) -> list[str]:
    head = "| figure | " + " | ".join(r.label for r in runs) + " |"
    lines = [head, "|---" * (len(runs) + 1) + "|"]
    figures = [("MAP", lambda m: m.map), ("MAP@10", lambda m: m.map_at_10)]
    for k in CUTS:
        figures += [(f"P@{k}", lambda m, k=k: m.precision[k]), (f"R@{k}", lambda m, k=k: m.recall[k]),
                    (f"F1@{k}", lambda m, k=k: m.f1[k])]
    for name, get in figures:
        lines.append(f"| {name} | " + " | ".join(f"{get(r.systems[system]):.3f}" for r in runs) + " |")
    return lines


def _group_rows(runs: Sequence[RunSummary], system: str) -> list[str]:
    lines = ["| group | gold | " + " | ".join(f"R@10 {r.label} | cand. {r.label}" for r in runs) + " |",
             "|---" * (2 + 2 * len(runs)) + "|"]
    names = sorted({g for r in runs for g in r.systems[system].by_group}, key=lambda g: (len(g), g))
    for g in names:
        cells = []
        total = max(r.systems[system].by_group.get(g, [0, 0, 0])[0] for r in runs)
        for r in runs:
            n, top, cand = r.systems[system].by_group.get(g, [0, 0, 0])
            cells += [f"{top / n:.2f}" if n else "–", f"{cand / n:.2f}" if n else "–"]
        lines.append(f"| {g} | {total} | " + " | ".join(cells) + " |")
    return lines


def write_report(out: Path, runs: Sequence[RunSummary], misses: Sequence[Miss], *, split: str,
                 extra: Sequence[str] = ()) -> Path:
    """Write `report.md`, `metrics.json` and the PNG plots into `out`; returns the Markdown file."""

    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps([r.to_json() for r in runs], indent=2))
    bar_plot(runs, out / "metrics.png")
    group_plot(runs, "ICD-10-CM", out / "recall_by_chapter.png", title="ICD-10-CM recall@10 by chapter")
    group_plot(runs, "ICD-10-PCS", out / "recall_by_section.png", title="ICD-10-PCS recall@10 by section")
    md = [f"# medcode on CodiEsp {split} (English)", ""]
    md += [f"- **{r.label}**: {r.engine} ({r.notes} notes)" for r in runs]
    md += ["", ("Averages over the notes with gold codes of the system; PCS codes enter as CodiEsp forms "
                "(7 characters and/or the 4-character prefix coders wrote). MAP@10 divides by min(gold, 10)."), ""]
    for system, name in (("ICD-10-CM", "Diagnoses (ICD-10-CM)"), ("ICD-10-PCS", "Procedures (ICD-10-PCS)")):
        docs = runs[-1].systems[system].documents
        md += [f"## {name}, {docs} notes", "", *_rows(runs, system), ""]
    md += ["![figures](metrics.png)", "", "## Recall by ICD-10-CM chapter", "",
           *_group_rows(runs, "ICD-10-CM"), "", "![chapters](recall_by_chapter.png)", "",
           "## Recall by ICD-10-PCS section", "", *_group_rows(runs, "ICD-10-PCS"), "",
           "![sections](recall_by_section.png)", "", f"## The {len(misses)} most frequent misses ({runs[-1].label})",
           "", "A miss: a gold code outside the top 10 of its note.", "",
           "| code | description | misses | of which candidates | where (note: evidence) |", "|---|---|---|---|---|"]
    for m in misses:
        where = "<br>".join(f"{nid}: {text}".replace("|", "/") for nid, text in m.examples)
        md.append(f"| {m.code.upper()} | {m.description.replace('|', '/')} | {m.misses} | {m.candidate} | {where} |")
    md += ["", *extra]
    path = out / "report.md"
    path.write_text("\n".join(md) + "\n")
    return path
