import json

import pytest

from codesets.usage import Usage
from medcode.types import Candidate, Mention
from nlp.ranking import FEATURES, Ranker, featurize, group


def _c(code, channel, sim, assertion="present", start=0):
    return Candidate(code, "ICD-10-CM", Mention(start, start + 5, "fever", "finding", None, assertion), channel, sim)


def test_group_gathers_candidates_per_code_in_first_seen_order():
    groups = group([_c("R509", "exact", 1.0), _c("I10", "dense", 0.7), _c("R509", "usage", 0.9, start=10)])
    assert [(g.code, len(g.candidates)) for g in groups] == [("R509", 2), ("I10", 1)]


def test_features_describe_channels_and_assertions():
    usage = Usage(n_notes={"ICD-10-CM": 9}, counts={("ICD-10-CM", "R509"): 4})
    g = group([_c("R509", "exact", 1.0, "negated"), _c("R509", "usage", 0.9, "negated", start=10)])[0]
    f = featurize(g, usage=usage, billable=True, prefix=False)
    assert set(f) == set(FEATURES)
    assert f["exact"] == 1.0 and f["usage"] == 0.9 and f["negated_only"] == 1.0 and f["family_only"] == 0.0
    assert f["channels"] == 2.0
    assert g.assertion == "negated"


def test_present_evidence_outranks_negated_in_the_assertion():
    g = group([_c("R509", "exact", 1.0, "negated"), _c("R509", "exact", 1.0, "present", start=9)])[0]
    assert g.assertion == "present"


def test_ranker_scores_monotonically_and_round_trips(tmp_path):
    r = Ranker({"exact": 2.0, "usage": 1.0}, -1.0)
    assert r.score({"exact": 1.0}) > r.score({"exact": 0.0}) > 0.0
    r.save(tmp_path / "r.json", card={"data": "test"})
    again = Ranker.load(tmp_path / "r.json")
    assert again.weights == r.weights and json.loads((tmp_path / "r.json").read_text())["card"] == {"data": "test"}


def test_ranker_refuses_unknown_features():
    with pytest.raises(ValueError):
        Ranker({"nonsense": 1.0}, 0.0)


def test_shipped_ranker_loads():
    assert Ranker.load().weights.keys() == set(FEATURES)
