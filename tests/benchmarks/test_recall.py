"""The candidate-recall benchmark: what counts as recalled, per channel and per source."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import recall
from benchmarks.recall import Found
from codesets.usage import CodedNote


def _note(*codes: tuple[str, str]) -> CodedNote:
    return CodedNote("n", "text", frozenset(codes))  # type: ignore[arg-type]


def _found(system: str, code: str, *, ranked: bool = True, channels=("exact",), sources=("description",),
           place: int | None = None) -> Found:
    return Found(system, code, ranked, frozenset(channels), frozenset(sources), place)  # type: ignore[arg-type]


def test_a_gold_pcs_prefix_is_recalled_by_any_code_of_its_family_and_families_are_counted_apart():
    notes = [_note(("ICD-10-PCS", "0FT4"), ("ICD-10-PCS", "BW03ZZZ"))]
    found = [[_found("ICD-10-PCS", "0FT44ZZ"), _found("ICD-10-PCS", "BW03ZZ1")]]
    codes, families = recall.recall(notes, found, "ICD-10-PCS", {}, lambda f: True)
    assert codes == 0.5  # 0ft4 by its family; bw03zzz not, only a sibling was proposed
    assert families == 1.0


def test_recall_keeps_only_the_candidates_selected():
    notes = [_note(("ICD-10-CM", "I10"), ("ICD-10-CM", "R509"))]
    found = [[_found("ICD-10-CM", "I10", sources=("gems_cm",)),
              _found("ICD-10-CM", "R509", ranked=False, channels=("dense",), sources=("dense",))]]
    assert recall.recall(notes, found, "ICD-10-CM", {}, lambda f: f.ranked)[0] == 0.5
    assert recall.recall(notes, found, "ICD-10-CM", {}, lambda f: True)[0] == 1.0
    rows = {r["candidates"]: r for r in recall.rows(notes, found, {"ICD-10-CM": {}, "ICD-10-PCS": {}},
                                                     ["dense", "gems_cm"], top=400)}
    assert rows["source gems_cm alone"]["diagnoses"] == 0.5
    assert rows["without source gems_cm"]["diagnoses"] == 0.0
    assert rows["all (every code)"]["diagnoses"] == 1.0
    assert recall.per_note(found)["ranked_mean"] == 1.0


def test_the_benchmark_runs_the_engine_on_a_folder_and_writes_its_figures(small_index, tmp_path: Path):
    folder = tmp_path / "site"
    (folder / "text_files_en").mkdir(parents=True)
    (folder / "text_files_en" / "n1.txt").write_text("Known hypertension. Fever since yesterday.", encoding="utf-8")
    (folder / "siteD.tsv").write_text("n1\ti10\nn1\tr50.9\n", encoding="utf-8")
    out = tmp_path / "recall.json"
    result = recall.main(["--dir", str(folder), "--json", str(out)])
    assert json.loads(out.read_text()) == result
    table = {r["candidates"]: r for r in result["recall"]}
    assert table["all (ranked)"]["diagnoses"] == 1.0
    assert table["channel exact alone"]["diagnoses"] == 1.0
    assert table["best 400 ranked"]["diagnoses"] == 1.0


def test_the_best_n_row_keeps_each_notes_first_ranked_codes_only():
    notes = [_note(("ICD-10-CM", "I10"), ("ICD-10-PCS", "0FT44ZZ"))]
    found = [[_found("ICD-10-CM", "I10", place=0), _found("ICD-10-CM", "E119", place=1),
              _found("ICD-10-PCS", "0FT44ZZ", place=2), _found("ICD-10-CM", "R509", ranked=False)]]
    best = {r["candidates"]: r for r in recall.rows(notes, found, {"ICD-10-CM": {}, "ICD-10-PCS": {}}, [], top=2)}
    assert best["best 2 ranked"]["diagnoses"] == 1.0
    assert best["best 2 ranked"]["procedures"] == 0.0  # third in its note: past the best 2
    assert best["all (ranked)"]["procedures"] == 1.0
