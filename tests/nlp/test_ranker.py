import json

import numpy as np
import pytest

from medcode.errors import ErrorCode, MedcodeError
from medcode.types import Candidate, Mention
from nlp.evidence import CodeCandidates
from nlp.features import FEATURES
from nlp.ranker import Ranker, diversify


def test_fallback_scores_monotonically():
    r = Ranker({}, fallback={"exact": 2.0, "usage": 1.0}, fallback_bias=-1.0)
    high, low = r.score("CPT", [{"exact": 1.0}, {"exact": 0.0}])
    assert 1.0 > high > low > 0.0


def test_boosted_ranker_round_trips_through_its_folder(tmp_path):
    from medcode.settings import RerankSettings
    from training.reranker import Rows, fit

    rng = np.random.default_rng(0)
    x = rng.random((400, len(FEATURES)))
    y = (x[:, FEATURES.index("exact")] > 0.5).astype(float)
    rows = Rows(x, y, np.arange(400) // 20, np.ones(400), np.array(["R509"] * 400))
    booster = fit(rows, None, RerankSettings(objective="binary", max_trees=50)).booster
    r = Ranker({"ICD-10-CM": booster}, fallback={}, fallback_bias=0.0)
    rows = [dict(zip(FEATURES, row)) for row in x[:20]]
    r.save(tmp_path / "ranker", data="test")
    again = Ranker.load(tmp_path / "ranker")
    assert again.score("ICD-10-CM", rows) == pytest.approx(r.score("ICD-10-CM", rows))
    scores = again.score("ICD-10-CM", rows)
    assert all(0.0 <= v <= 1.0 for v in scores)
    exact = [row["exact"] > 0.5 for row in rows]
    assert min(v for v, e in zip(scores, exact) if e) > max(v for v, e in zip(scores, exact) if not e)
    assert json.loads((tmp_path / "ranker" / "card.json").read_text())["data"] == "test"


def test_ranker_refuses_unknown_features():
    with pytest.raises(ValueError):
        Ranker({}, fallback={"nonsense": 1.0}, fallback_bias=0.0)


def test_a_ranker_fitted_on_other_features_is_a_clear_error(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "card.json").write_text(json.dumps({"features": ["exact", "retired_feature"], "models": {},
                                                  "fallback": {"weights": {}, "bias": 0.0}}))
    with pytest.raises(MedcodeError) as err:
        Ranker.load(folder)
    assert err.value.code == ErrorCode.RANKER_STALE


def test_a_ranker_fitted_on_fewer_features_still_loads_and_reads_its_own(tmp_path):
    folder = tmp_path / "older"
    folder.mkdir()
    (folder / "card.json").write_text(json.dumps({"features": ["exact"], "models": {},
                                                  "fallback": {"weights": {}, "bias": 0.0}}))
    assert Ranker.load(folder).features == ("exact",)


def test_shipped_ranker_loads_and_scores_every_system():
    r = Ranker.load()
    for system in ("ICD-10-CM", "ICD-10-PCS", "CPT"):
        assert 0.0 <= r.score(system, [{"exact": 1.0, "usage": 0.9}])[0] <= 1.0


def test_the_fallback_clips_its_margin_before_the_logistic():
    wide = Ranker({}, fallback={"exact": 100.0}, fallback_bias=0.0)
    narrow = Ranker({}, fallback={"exact": 100.0}, fallback_bias=0.0, clip=2.0)
    assert wide.score("CPT", [{"exact": 1.0}]) == pytest.approx([1.0])
    assert narrow.score("CPT", [{"exact": 1.0}]) == pytest.approx([1 / (1 + np.exp(-2.0))])
    assert Ranker.squash(np.array([5.0]), "lambdarank", clip=1.0) == pytest.approx([1 / (1 + np.exp(-1.0))])


def test_diversify_discounts_each_further_code_of_a_family():
    m = Mention(0, 2, "CT", "procedure")

    def code(c, score):
        return CodeCandidates("ICD-10-PCS", c, [Candidate(c, "ICD-10-PCS", m, "exact", 1.0)], score=score)

    ranked = diversify([code("BW20ZZZ", 0.8), code("BW201ZZ", 0.7), code("0TT00ZZ", 0.5)], Ranker.hand_set(),
                       {"ICD-10-PCS": 0.5})
    assert [(g.code, g.score) for g in ranked] == [("BW20ZZZ", 0.8), ("0TT00ZZ", 0.5), ("BW201ZZ", 0.35)]


def test_the_shipped_trees_score_alike_on_one_thread_or_every_core():
    rng = np.random.default_rng(1)
    rows = [dict(zip(FEATURES, row)) for row in rng.random((3000, len(FEATURES)))]
    one, every = Ranker.load(threads=1), Ranker.load(threads=0)
    assert every.threads == 0 and one.score("ICD-10-CM", rows) == every.score("ICD-10-CM", rows)
