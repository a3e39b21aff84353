"""Learning from coders: a tiny decision file moves the ranker."""

import json

import numpy as np
import pytest

from codesets.usage import read_codiesp
from medcode.errors import MedcodeError
from medcode.settings import RerankSettings
from nlp.features import FEATURES
from training import reranker
from training.decisions import decision_rows, final_coding, read_decisions
from training.rows import as_rows, candidate_rows, label

TINY = RerankSettings(max_trees=40, min_child_samples=3, num_leaves=7, learning_rate=0.2)


def _line(code, action, at, *, replaces=None, note="Chest X-ray showed pneumonia.", system="ICD-10-CM", enc="e1"):
    return json.dumps({"encounter_id": enc, "note": note, "system": system, "code": code, "action": action,
                       "replaces": replaces, "coder": "c1", "reason": None, "at": at, "suggested": None})


def test_read_decisions_skips_bad_lines_without_echoing_them(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join([_line("J18.9", "accept", "2026-01-01T10:00:00Z"), "{not json",
                               json.dumps({"note": "secret text", "code": "X"}), ""]))
    good, bad = read_decisions(path)
    assert [d.code for d in good] == ["J18.9"] and bad == [2, 3]
    with pytest.raises(MedcodeError) as e:
        read_decisions(tmp_path / "missing.jsonl")
    assert e.value.code.value == "E031"
    (tmp_path / "bad.jsonl").write_text("secret text\n")
    with pytest.raises(MedcodeError) as e:
        read_decisions(tmp_path / "bad.jsonl")
    assert "secret" not in str(e.value)


def test_final_coding_replays_decisions_in_time_order(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join([
        _line("J18.9", "reject", "2026-01-01T10:05:00Z"),
        _line("J18.9", "accept", "2026-01-01T10:00:00Z"),
        _line("J18.1", "modify", "2026-01-01T10:06:00Z", replaces="J18.0"),
        _line("BW03ZZZ", "add", "2026-01-01T10:07:00Z", system="ICD-10-PCS"),
    ]))
    decisions, _ = read_decisions(path)
    assert final_coding(decisions) == {("ICD-10-CM", "J189"): False, ("ICD-10-CM", "J181"): True,
                                       ("ICD-10-CM", "J180"): False, ("ICD-10-PCS", "BW03ZZZ"): True}


def _order(booster, rows, note):
    mask = rows.note == note
    scores = booster.predict(rows.x[mask])
    codes = rows.code[mask]
    return [str(c) for c in codes[np.argsort(-scores, kind="stable")]]


def test_a_tiny_decision_file_moves_the_ranker(coder, settings, tmp_path):
    notes = read_codiesp(settings.corpus_dir / "train", split="train")[:6]
    base = as_rows(candidate_rows(coder, [n.text for n in notes], [(lambda g, n=n: label(g, n)) for n in notes],
                                  notes=list(range(len(notes)))))["ICD-10-CM"]
    before = reranker.fit(base, None, TINY).booster
    # The site's coder works on another note: rejects the code the ranker put first, accepts its 8th.
    site_note = read_codiesp(settings.corpus_dir / "dev", split="dev")[0].text
    site = as_rows(candidate_rows(coder, [site_note], [lambda g: 0.0], notes=[0]))["ICD-10-CM"]
    order = _order(before, site, 0)
    rejected, accepted = order[0], order[7]
    path = tmp_path / "decisions.jsonl"
    path.write_text("\n".join([_line(rejected, "reject", "2026-01-01T10:00:00Z", note=site_note),
                               _line(accepted, "accept", "2026-01-01T10:01:00Z", note=site_note)]) + "\n")
    extra, summary = decision_rows(coder, path, weight=20.0)
    assert "1 encounters, 2 decided codes" in summary
    learned = extra["ICD-10-CM"]
    assert learned.y[learned.code == accepted].tolist() == [1.0]
    assert learned.weight[learned.code == rejected].tolist() == [20.0]
    after = reranker.fit(base + learned, None, TINY).booster
    moved = _order(after, site, 0)
    assert moved.index(rejected) > order.index(rejected)
    assert moved.index(accepted) < order.index(accepted)
    assert moved.index(accepted) < moved.index(rejected)
    assert learned.x.shape[1] == len(FEATURES)
