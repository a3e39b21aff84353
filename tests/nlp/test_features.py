import numpy as np
import pytest

from codesets.usage import Usage, family
from medcode.settings import RankingSettings
from medcode.types import Candidate, Mention
from nlp.evidence import group
from nlp.features import (
    FEATURES,
    NOTE_FEATURES,
    Proposed,
    add_family_features,
    add_note_features,
    code_facts,
    featurize,
    worth_ranking,
)


def _c(code, channel, sim, assertion="present", start=0):
    return Candidate(code, "ICD-10-CM", Mention(start, start + 5, "fever", "finding", None, assertion), channel, sim)


def test_features_describe_channels_and_assertions():
    usage = Usage(n_notes={"ICD-10-CM": 9}, counts={("ICD-10-CM", "R509"): 4})
    g = group([_c("R509", "exact", 1.0, "negated"), _c("R509", "usage", 0.9, "negated", start=10)])[0]
    f = featurize(g, usage=usage, billable=True, prefix=False)
    family_features = {"family_exact", "family_fuzzy", "family_usage", "family_dense", "family_size"}
    assert set(f) == set(FEATURES) - family_features - set(NOTE_FEATURES)
    assert f["exact"] == 1.0 and f["usage"] == 0.9 and f["negated_only"] == 1.0 and f["family_only"] == 0.0
    assert f["channels"] == 2.0
    assert g.assertion == "negated"


def test_code_features_read_the_code_its_description_and_its_neighbourhood():
    usage = Usage(n_notes={"ICD-10-CM": 9}, counts={("ICD-10-CM", "R509"): 4, ("ICD-10-CM", "R51"): 2,
                                                    ("ICD-10-CM", "E119"): 1})
    g = group([_c("R502", "exact", 1.0)])[0]
    facts = code_facts("ICD-10-CM", "R502", "Drug induced fever", usage=usage)
    f = featurize(g, usage=usage, billable=True, prefix=False, facts=facts)
    # Never assigned itself, but coders gave 6 codes of chapter R and 4 of category R50 in 9 notes.
    assert f["prior"] == round(np.log(0.1 / 10), 4)
    assert (f["prior_1"], f["prior_3"], f["prior_4"]) == tuple(round(np.log(n / 10), 4) for n in (6.1, 4.1, 0.1))
    assert f["code_length"] == 4.0 and f["chapter"] == float(ord("R"))
    assert f["unspecified"] == 0.0 and f["other_specified"] == 0.0
    assert code_facts("ICD-10-CM", "R509", "Fever, unspecified", usage=usage)["unspecified"] == 1.0
    assert code_facts("ICD-10-CM", "R508", "Other specified fever", usage=usage)["other_specified"] == 1.0
    wide = code_facts("ICD-10-CM", "R509", "Fever, unspecified", usage=usage, family_codes=9)
    assert wide["family_codes"] == round(np.log(10), 4) and wide["description_length"] == 1.0


def test_note_features_place_a_code_in_its_note():
    text = "Fever since Monday. Chest X-ray: pneumonia of the right lower lobe."
    fever = group([_c("R509", "exact", 1.0)])[0]
    m = Mention(34, 43, "pneumonia", "finding", "imaging")
    pneumonia = group([Candidate("J189", "ICD-10-CM", m, "dense", 0.8)])[0]
    groups = [fever, pneumonia]
    for g in groups:
        g.features = featurize(g, usage=Usage(), billable=True, prefix=False)
    words = {"R509": frozenset({"fever"}), "J189": frozenset({"pneumonia", "unspecified", "organism"})}
    add_note_features(groups, text, lambda system, code: words[code])
    assert fever.features["first_position"] == 0.0 and pneumonia.features["first_position"] > 0.4
    assert fever.features["description_overlap"] == 1.0
    assert pneumonia.features["description_overlap"] == pytest.approx(1 / 3, abs=1e-4)
    assert pneumonia.features["findings_share"] == 1.0 and fever.features["findings_share"] == 0.0
    assert fever.features["dense_gap"] < 0.0 == pneumonia.features["dense_gap"]
    assert fever.features["strength"] == 1.0
    assert set(NOTE_FEATURES) <= set(fever.features)


def test_side_features_check_a_codes_side_against_its_evidence_sentences():
    text = "Left nephrectomy was performed. The right kidney was normal. Both ureters were dilated."

    def proc(code, start, end):
        return Candidate(code, "ICD-10-PCS", Mention(start, end, text[start:end], "procedure", None), "fuzzy", 0.9)

    left, right = group([proc("0TT10ZZ", 0, 16)])[0], group([proc("0TT00ZZ", 0, 16)])[0]
    both, unsided = group([proc("0T9830Z", 66, 74)])[0], group([proc("0TTB0ZZ", 0, 16)])[0]
    described = {"0TT10ZZ": frozenset({"resection", "kidney", "left"}),
                 "0TT00ZZ": frozenset({"resection", "kidney", "right"}),
                 "0T9830Z": frozenset({"drainage", "ureter", "bilateral"}),
                 "0TTB0ZZ": frozenset({"resection", "bladder"})}
    groups = [left, right, both, unsided]
    for g in groups:
        g.features = featurize(g, usage=Usage(), billable=True, prefix=False)
    add_note_features(groups, text, lambda system, code: described[code])
    assert (left.features["side_match"], left.features["side_conflict"]) == (1.0, 0.0)
    # The sentence of its only evidence names the left side: the right kidney's code conflicts.
    assert (right.features["side_match"], right.features["side_conflict"]) == (0.0, 1.0)
    assert both.features["side_match"] == 1.0 and both.features["sided"] == 1.0
    assert unsided.features["sided"] == 0.0 and unsided.features["side_note"] == -1.0
    # One side word in three is "left", one "right", one "both" (bilateral).
    assert left.features["side_note"] == right.features["side_note"] == pytest.approx(1 / 3, abs=1e-4)


def test_family_features_share_evidence_within_a_category_or_pcs_prefix():
    usage = Usage()
    e119 = group([_c("E119", "exact", 1.0)])[0]
    e1165 = group([_c("E1165", "dense", 0.8)])[0]
    i10 = group([_c("I10", "dense", 0.9)])[0]
    groups = [e119, e1165, i10]
    for g in groups:
        g.features = featurize(g, usage=usage, billable=True, prefix=False)
    add_family_features(groups)
    assert e1165.features["family_exact"] == 1.0 and e1165.features["exact"] == 0.0
    assert i10.features["family_exact"] == 0.0
    assert e119.features["family_size"] > i10.features["family_size"]
    assert family("ICD-10-PCS", "BW20ZZZ") == "BW20" and family("ICD-10-CM", "E1165") == "E11"


def test_features_are_rounded_to_four_decimals_and_zeros_stay_zero():
    g = group([_c("R509", "fuzzy", 0.123456), _c("R509", "dense", 0.87654321, start=9)])[0]
    f = featurize(g, usage=Usage(), billable=False, prefix=False, neighbors={("ICD-10-CM", "R509"): 0.333333})
    assert f["fuzzy"] == 0.1235 and f["dense"] == round(0.87654321 - 0.5, 4) and f["neighbors"] == 0.3333
    assert f["exact"] == 0.0 and f["usage"] == 0.0 and f["billable"] == 0.0


def test_a_code_only_a_loose_dense_match_proposes_is_not_ranked_unless_similar_notes_carry_it():
    loose, strong, named = (group(cs)[0] for cs in ([_c("I10", "dense", 0.45), _c("I10", "dense", 0.5, start=9)],
                                                    [_c("I10", "dense", 0.45), _c("I10", "dense", 0.51, start=9)],
                                                    [_c("I10", "dense", 0.3), _c("I10", "fuzzy", 0.2, start=9)]))
    assert not worth_ranking(loose, dense_floor=0.5)
    assert worth_ranking(loose, dense_floor=0.5, neighbors={("ICD-10-CM", "I10"): 0.1})
    assert not worth_ranking(loose, dense_floor=0.5, neighbors={("ICD-10-CM", "I11"): 0.1})
    assert worth_ranking(strong, dense_floor=0.5) and worth_ranking(named, dense_floor=0.5)
    pcs = group([Candidate("BW20ZZZ", "ICD-10-PCS", Mention(0, 2, "CT", "procedure", None), "dense", 0.4)])[0]
    assert worth_ranking(pcs, dense_floor=0.5, neighbors={("ICD-10-PCS", "BW20"): 0.2})  # by its prefix


def test_codes_left_unranked_still_count_in_the_family_and_note_features_of_the_others():
    text = "Diabetes mellitus. Fever."
    usage = Usage(n_notes={"ICD-10-CM": 9}, counts={("ICD-10-CM", "E119"): 4, ("ICD-10-CM", "E1165"): 1})
    def made():
        return [group(cs)[0] for cs in ([_c("E119", "exact", 1.0)], [_c("E1165", "dense", 0.4, start=9)],
                                        [_c("E109", "dense", 0.3, start=9)], [_c("R509", "exact", 1.0, start=19)])]
    def features(groups, proposed=None):
        for g in groups:
            g.features = featurize(g, usage=usage, billable=True, prefix=False)
        add_family_features(groups, proposed)
        add_note_features(groups, text, lambda system, code: frozenset(), proposed)
        return {g.code: g.features for g in groups}
    everyone = features(made())
    groups = made()
    proposed = Proposed.count(groups, usage)
    kept = [g for g in groups if worth_ranking(g, dense_floor=0.5)]
    assert [g.code for g in kept] == ["E119", "R509"]
    assert features(kept, proposed) == {code: everyone[code] for code in ("E119", "R509")}
    assert features(kept) != {code: everyone[code] for code in ("E119", "R509")}  # counted among themselves


def test_the_dense_feature_counts_the_cosine_above_the_dense_offset():
    g = group([_c("J189", "dense", 0.8)])[0]
    assert featurize(g, usage=Usage(), billable=True, prefix=False)["dense"] == pytest.approx(0.3)
    g = group([_c("J189", "dense", 0.8)], RankingSettings(dense_offset=0.6))[0]
    assert featurize(g, usage=Usage(), billable=True, prefix=False)["dense"] == pytest.approx(0.2)
