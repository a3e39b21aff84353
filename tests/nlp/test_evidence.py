import pytest

from medcode.settings import RankingSettings
from medcode.types import Candidate, Mention
from nlp.evidence import group, strength


def _c(code, channel, sim, assertion="present", start=0):
    return Candidate(code, "ICD-10-CM", Mention(start, start + 5, "fever", "finding", None, assertion), channel, sim)


def test_group_gathers_candidates_per_code_in_first_seen_order():
    groups = group([_c("R509", "exact", 1.0), _c("I10", "dense", 0.7), _c("R509", "usage", 0.9, start=10)])
    assert [(g.code, len(g.candidates)) for g in groups] == [("R509", 2), ("I10", 1)]


def test_present_evidence_outranks_negated_in_the_assertion():
    g = group([_c("R509", "exact", 1.0, "negated"), _c("R509", "exact", 1.0, "present", start=9)])[0]
    assert g.assertion == "present"


def test_evidence_and_assertion_follow_candidates_added_after_a_first_look():
    g = group([_c("R509", "cooccurrence", 0.5, "negated")])[0]
    assert g.assertion == "negated" and g.evidence_assertions() == {"negated"}
    g.candidates.append(_c("R509", "exact", 1.0, "present", start=9))
    # The exact mention is far stronger: the co-occurring negated phrase no longer counts.
    assert g.strengths() == [0.15, 1.0]
    assert g.assertion == "present" and [c.channel for c in g.evidence()] == ["exact"]


def test_each_channel_weighs_its_evidence_by_the_ranking_settings():
    defaults = [strength(_c("R509", channel, 0.8)) for channel in ("exact", "fuzzy", "usage", "cooccurrence", "dense")]
    assert defaults == pytest.approx([1.0, 0.9 * 0.8, 0.8, 0.3 * 0.8, 0.8 - 0.3])
    other = RankingSettings(fuzzy_strength=0.5, cooccurrence_strength=0.1, dense_strength_offset=0.7)
    weighed = [strength(_c("R509", channel, 0.8), other) for channel in ("fuzzy", "cooccurrence", "dense")]
    assert weighed == pytest.approx([0.4, 0.08, 0.1])
    g = group([_c("R509", "cooccurrence", 0.5, "negated"), _c("R509", "dense", 0.9, start=9)], other)[0]
    assert g.strengths() == pytest.approx([0.05, 0.2]) and g.assertion == "present"
