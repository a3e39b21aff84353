import pytest

from codesets.usage import CodedNote
from medcode.types import Candidate, Mention
from nlp.ranking import CodeCandidates
from training.evaluate import average_precision, codiesp_form, ranked_codes, score


def _group(system, code):
    m = Mention(0, 1, "x", "finding")
    return CodeCandidates(system, code, [Candidate(code, system, m, "exact", 1.0)])


def test_average_precision_follows_codiesp():
    # gold at ranks 1 and 3 of 3 gold codes: (1/1 + 2/3) / 3
    assert average_precision(["a", "x", "b"], {"a", "b", "c"}) == pytest.approx((1 + 2 / 3) / 3)
    assert average_precision([], {"a"}) == 0.0
    assert average_precision(["a"], set()) == 0.0


def test_codiesp_form():
    assert codiesp_form("ICD-10-CM", "R50.9") == "r50.9"
    assert codiesp_form("ICD-10-CM", "I10") == "i10"
    assert codiesp_form("ICD-10-PCS", "BW03ZZZ") == "bw03zzz"


def test_pcs_codes_enter_the_ranking_with_their_prefix_once():
    groups = [_group("ICD-10-PCS", "BW20ZZZ"), _group("ICD-10-PCS", "BW201ZZ"), _group("ICD-10-CM", "I10")]
    assert ranked_codes(groups, "ICD-10-PCS") == ["bw20zzz", "bw20", "bw201zz"]
    assert ranked_codes(groups, "ICD-10-CM") == ["i10"]


def test_score_averages_over_documents_with_gold_of_that_system():
    notes = [CodedNote("1", "", frozenset({("ICD-10-CM", "I10")})),
             CodedNote("2", "", frozenset({("ICD-10-CM", "R509")})),
             CodedNote("3", "", frozenset({("ICD-10-PCS", "BW20")}))]
    rankings = [[_group("ICD-10-CM", "I10")], [], [_group("ICD-10-PCS", "BW20ZZZ")]]
    cm = score(notes, rankings, "ICD-10-CM")
    assert (cm.map, cm.documents) == (0.5, 2)
    assert score(notes, rankings, "ICD-10-PCS").map == 0.5  # the prefix "bw20" enters at rank 2


def test_prefix_comes_first_where_coders_mostly_wrote_it_alone():
    from codesets.usage import Usage
    from training.evaluate import truncation_rates

    usage = Usage(counts={("ICD-10-PCS", "BW20"): 3, ("ICD-10-PCS", "BW20ZZZ"): 1, ("ICD-10-PCS", "BW03ZZZ"): 5,
                          ("ICD-10-CM", "I10"): 9})
    rates = truncation_rates(usage)
    assert rates == {"BW20": 0.75, "BW03": 0.0}
    groups = [_group("ICD-10-PCS", "BW20ZZZ"), _group("ICD-10-PCS", "BW03ZZZ")]
    assert ranked_codes(groups, "ICD-10-PCS", rates) == ["bw20", "bw20zzz", "bw03zzz", "bw03"]
