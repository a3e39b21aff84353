"""The evaluation report on a couple of real notes: files written, figures consistent."""

import dataclasses
import json

import pytest

from codesets.usage import read_codiesp
from medcode.types import ICD10_SYSTEMS
from nlp.ranker import Ranker
from training.metrics import RunSummary, engine_rates, score
from training.report import (
    frequent_misses,
    summarize,
    system_metrics,
    write_report,
)


@pytest.fixture(scope="module")
def runs(coder, settings):
    notes = read_codiesp(settings.corpus_dir / "dev", split="dev")[:3]
    rates = engine_rates(coder)
    hand = dataclasses.replace(coder, ranker=Ranker.hand_set())
    before = hand.rank([n.text for n in notes])
    after = coder.rank([n.text for n in notes])
    return notes, rates, before, after


def test_report_files_and_figures(runs, coder, tmp_path):
    notes, rates, before, after = runs
    summaries = [summarize("before", "hand-set", notes, before, coder.codesets, rates),
                 summarize("after", "shipped", notes, after, coder.codesets, rates)]
    misses = frequent_misses(notes, after, coder.codesets, rates, n=5)
    path = write_report(tmp_path / "out", summaries, misses, split="dev")
    for name in ("report.md", "metrics.json", "metrics.png", "recall_by_chapter.png", "recall_by_section.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    saved = [RunSummary.from_json(r) for r in json.loads((tmp_path / "out" / "metrics.json").read_text())]
    for system in ICD10_SYSTEMS:
        official = score(notes, after, system, rates[system])
        m = saved[1].systems[system]
        assert m.map == pytest.approx(official.map) and m.documents == official.documents
        assert 0.0 <= m.map_at_10 <= 1.0
        if all(len({c for s, c in n.codes if s == system}) <= 10 for n in notes):
            assert m.map_at_10 <= m.map + 1e-9  # with at most 10 gold codes, only hits past 10 differ
        for k in (5, 10):
            p, r = m.precision[k], m.recall[k]
            assert m.f1[k] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)
        gold = sum(v[0] for v in m.by_group.values())
        assert gold == sum(len({c for s, c in n.codes if s == system}) for n in notes)
        assert all(top <= cand <= total for total, top, cand in m.by_group.values())
    text = path.read_text()
    assert "| MAP |" in text and "before" in text and "after" in text
    for m in misses:
        assert m.code.upper() in text
        assert all(len(snippet) < 300 for _, snippet in m.examples)  # evidence, never the whole note


def test_recall_groups_are_chapters_and_sections(runs, coder):
    notes, rates, _, after = runs
    cm = system_metrics(notes, after, "ICD-10-CM", coder.codesets, rates["ICD-10-CM"])
    pcs = system_metrics(notes, after, "ICD-10-PCS", coder.codesets, rates["ICD-10-PCS"])
    assert all(g.startswith("chapter ") for g in cm.by_group)
    assert all(g[0] in "0123456789BCDFGHX" for g in pcs.by_group)
