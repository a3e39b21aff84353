"""The reranker on real feature rows: the engine's candidates for a few CodiEsp train notes."""

import numpy as np
import pytest
from rich.console import Console

from codesets.usage import read_codiesp
from medcode.settings import RerankSettings
from medcode.types import ICD10_SYSTEMS
from nlp.features import FEATURES
from nlp.ranker import Ranker, fitted_on
from training import reranker
from training.reranker import Rows, group_sizes
from training.rows import as_rows, candidate_rows, discounted, label
from training.tune import fit_ranker

TINY = RerankSettings(max_trees=30, early_stopping=10, min_child_samples=3, num_leaves=7, learning_rate=0.2)


@pytest.fixture(scope="module")
def rows(coder, settings):
    notes = read_codiesp(settings.corpus_dir / "train", split="train")[:8]
    raw = candidate_rows(coder, [n.text for n in notes], [(lambda g, n=n: label(g, n)) for n in notes],
                         notes=list(range(len(notes))))
    return as_rows(raw)


def _ap(scores, y):
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(y[order])
    return float(np.sum(y[order] * hits / np.arange(1, len(y) + 1)) / max(y.sum(), 1))


def test_rows_group_notes_and_carry_labels(rows):
    cm = rows["ICD-10-CM"]
    assert cm.x.shape == (len(cm), len(FEATURES))
    assert 0 < cm.y.sum() < len(cm)
    assert sum(group_sizes(cm.note)) == len(cm)
    assert list(cm.note) == sorted(cm.note)  # a note's rows are contiguous
    both = cm + cm
    assert len(group_sizes(both.note)) == 2 * len(group_sizes(cm.note))


@pytest.mark.parametrize("objective", ["lambdarank", "binary"])
def test_fit_ranks_assigned_codes_high_then_saves_and_reloads(rows, tmp_path, objective):
    opts = TINY.model_copy(update={"objective": objective})
    cm = rows["ICD-10-CM"]
    fitted = reranker.fit(cm, cm, opts)
    assert 1 <= fitted.trees <= opts.max_trees
    scores = fitted.booster.predict(cm.x)
    assert _ap(scores, cm.y) > 2 * cm.y.mean()  # far better than a random order
    ranker = Ranker({"ICD-10-CM": fitted.booster}, fallback={}, fallback_bias=0.0, card={"objective": objective},
                    calibration={"ICD-10-CM": ([0.0, 1.0], [0.0, 0.5])})
    ranker.save(tmp_path / "r", data="test")
    again = Ranker.load(tmp_path / "r")
    rows_as_dicts = [dict(zip(FEATURES, x, strict=True)) for x in cm.x[:20]]
    assert again.score("ICD-10-CM", rows_as_dicts) == pytest.approx(ranker.score("ICD-10-CM", rows_as_dicts))
    assert all(0.0 <= s <= 1.0 for s in again.score("ICD-10-CM", rows_as_dicts))
    assert again.calibrate("ICD-10-CM", [0.5, 1.0]) == pytest.approx([0.25, 0.5])
    assert again.card["objective"] == objective and again.card["data"] == "test"


def test_an_ensemble_averages_its_members_and_saves_and_reloads_them_all(rows, tmp_path):
    opts = TINY.model_copy(update={"members": 3})
    cm = rows["ICD-10-CM"]
    members = reranker.fit_members(cm, opts, trees=10)
    raw = [m.predict(cm.x[:30]) for m in members]
    assert len(members) == 3 and not np.allclose(raw[0], raw[1])  # each its own sample of rows and features
    ranker = Ranker({"ICD-10-CM": members}, fallback={}, fallback_bias=0.0, card={"objective": "lambdarank"})
    x = [dict(zip(FEATURES, r, strict=True)) for r in cm.x[:30]]
    expected = np.mean([Ranker.squash(r, "lambdarank") for r in raw], axis=0)
    assert ranker.score("ICD-10-CM", x) == pytest.approx(expected)
    ranker.save(tmp_path / "r")
    again = Ranker.load(tmp_path / "r")
    assert len(again.boosters["ICD-10-CM"]) == 3
    assert again.score("ICD-10-CM", x) == pytest.approx(expected)
    # Out of fold, the ensemble still orders coders' codes first on notes none of its members saw.
    oof = reranker.members_oof(cm, opts, trees=10, folds=4)
    seen = ~np.isnan(oof)
    assert seen.sum() > len(cm) // 2
    assert _ap(oof[seen], cm.y[seen]) > 2 * cm.y[seen].mean()


def test_fit_ranker_calibrates_on_dev(rows, settings):
    settings = settings.model_copy(update={"rerank": TINY.model_copy(update={"tune_on": "dev"})})
    ranker, metrics, curves = fit_ranker(rows, rows, settings, console=Console(quiet=True))
    for system in ICD10_SYSTEMS:
        assert system in ranker.boosters and system in ranker.calibration
        assert 0.0 <= metrics[system]["ece_dev"] <= 1.0
        p, y = curves[system]
        assert len(p) == len(y) == len(rows[system])
        _, ys = ranker.calibration[system]
        assert list(ys) == sorted(ys)


def _shuffled_labels(rows: dict[str, Rows]) -> dict[str, Rows]:
    rng = np.random.default_rng(0)
    return {s: Rows(r.x, rng.permutation(r.y), r.note, r.weight, r.code) for s, r in rows.items()}


def test_tuned_on_train_never_looks_at_dev(rows, settings):
    settings = settings.model_copy(update={"rerank": TINY.model_copy(update={"tune_on": "train", "folds": 4})})
    quiet = Console(quiet=True)
    one, metrics, curves = fit_ranker(rows, rows, settings, console=quiet)
    other, _, _ = fit_ranker(rows, _shuffled_labels(rows), settings, console=quiet)
    for system in ICD10_SYSTEMS:
        x = [dict(zip(FEATURES, r, strict=True)) for r in rows[system].x[:50]]
        assert one.score(system, x) == other.score(system, x)
        assert one.calibration[system] == other.calibration[system]
        assert 1 <= metrics[system]["trees"] <= TINY.max_trees and len(metrics[system]["fold_trees"]) >= 2
        assert 0.0 <= metrics[system]["ece_dev"] <= 1.0
        p, y = curves[system]
        assert len(p) == len(y) == len(rows[system])


def test_cross_fit_scores_each_note_with_a_booster_that_did_not_see_it(rows):
    cm = rows["ICD-10-CM"]
    crossed = reranker.cross_fit(cm, TINY, folds=4)
    assert crossed.oof.shape == (len(cm),)
    assert crossed.trees == round(float(np.mean(crossed.fold_trees)))
    seen = ~np.isnan(crossed.oof)
    assert seen.sum() > len(cm) // 2
    assert np.all((crossed.oof[seen] >= 0) & (crossed.oof[seen] <= 1))
    # Out of fold still orders coders' codes first on notes it never saw.
    assert _ap(crossed.oof[seen], cm.y[seen]) > 2 * cm.y[seen].mean()


def test_rows_cache_is_keyed_by_its_stamp(rows, tmp_path):
    path = tmp_path / "rows.npz"
    reranker.save_rows(path, rows, {"a": 1})
    back = reranker.load_rows(path, {"a": 1})
    assert back is not None and set(back) == set(rows)
    assert np.array_equal(back["ICD-10-CM"].x, rows["ICD-10-CM"].x)
    assert list(back["ICD-10-PCS"].code) == list(rows["ICD-10-PCS"].code)
    assert reranker.load_rows(path, {"a": 2}) is None


def test_discount_follows_the_engine():
    r = Rows.build([[0.0] * len(FEATURES)] * 3, [1, 0, 0], [0, 0, 0], [1, 1, 1], ["BW20ZZZ", "BW201ZZ", "0FT44ZZ"])
    out = discounted(np.array([0.9, 0.8, 0.5]), r, "ICD-10-PCS", 0.3)
    assert out == pytest.approx([0.9, 0.24, 0.5])


def test_newest_ranker_is_found_by_version(tmp_path):
    assert Ranker.newest(tmp_path) is None
    for name in ("20250101-000000", "20260101-000000"):
        Ranker.hand_set().save(tmp_path / "models" / "ranker" / name)
    (tmp_path / "models" / "ranker" / "20270101-000000").mkdir()  # unfinished: no card
    assert Ranker.newest(tmp_path).name == "20260101-000000"


def test_newest_ranker_for_the_splits_it_was_fitted_on(tmp_path):
    root = tmp_path / "models" / "ranker"
    Ranker.hand_set().save(root / "20250101-000000", corpus_splits=["train"])
    Ranker.hand_set().save(root / "20260101-000000", corpus_splits=["train", "dev"])
    assert Ranker.newest(tmp_path).name == "20260101-000000"
    assert Ranker.newest(tmp_path, ["train"]).name == "20250101-000000"
    assert Ranker.newest(tmp_path, ["dev"]) is None


def test_the_shipped_rankers_say_what_they_were_fitted_on():
    # The engine runs the one fitted on train and dev; dev is measured with the one fitted on train alone.
    assert fitted_on(Ranker.shipped()) == ["train", "dev"]
    assert fitted_on(Ranker.shipped(["train"])) == ["train"]
    assert Ranker.load(Ranker.shipped()).boosters and Ranker.load(Ranker.shipped(["train"])).boosters
