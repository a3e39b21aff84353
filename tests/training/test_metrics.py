import pytest

from codesets.usage import CodedNote, Usage
from medcode.types import Candidate, Mention
from nlp.evidence import CodeCandidates
from training.metrics import (
    PCS_PREFIX_FLOOR,
    average_precision,
    codiesp_form,
    ranked_codes,
    ranked_scores,
    score,
    truncation_rates,
)


def _group(system, code, score=0.0):
    m = Mention(0, 1, "x", "finding")
    return CodeCandidates(system, code, [Candidate(code, system, m, "exact", 1.0)], score=score)


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
    groups = [_group("ICD-10-PCS", "BW20ZZZ", 0.8), _group("ICD-10-PCS", "BW201ZZ", 0.4),
              _group("ICD-10-CM", "I10", 0.9)]
    # full codes keep (1 - floor) of their score; the prefix gets floor x the family's summed score
    assert ranked_codes(groups, "ICD-10-PCS") == ["bw20zzz", "bw201zz", "bw20"]
    assert ranked_codes(groups, "ICD-10-CM") == ["i10"]


def test_score_averages_over_documents_with_gold_of_that_system():
    notes = [CodedNote("1", "", frozenset({("ICD-10-CM", "I10")})),
             CodedNote("2", "", frozenset({("ICD-10-CM", "R509")})),
             CodedNote("3", "", frozenset({("ICD-10-PCS", "BW20")}))]
    rankings = [[_group("ICD-10-CM", "I10", 0.5)], [], [_group("ICD-10-PCS", "BW20ZZZ", 0.5)]]
    cm = score(notes, rankings, "ICD-10-CM")
    assert (cm.map, cm.documents) == (0.5, 2)
    assert score(notes, rankings, "ICD-10-PCS").map == 0.5  # the prefix "bw20" enters at rank 2


def test_shorter_forms_come_first_where_coders_mostly_wrote_them():
    usage = Usage(counts={("ICD-10-PCS", "BW20"): 3, ("ICD-10-PCS", "BW20ZZZ"): 1, ("ICD-10-PCS", "BW03ZZZ"): 5,
                          ("ICD-10-CM", "I10"): 9, ("ICD-10-CM", "N18"): 3, ("ICD-10-CM", "N186"): 1})
    rates = truncation_rates(usage)
    assert rates["ICD-10-PCS"] == {"BW20": 0.75, "BW03": 0.0}
    assert rates["ICD-10-CM"] == {"I10": 1.0, "N18": 0.75, "N186": 1.0}
    groups = [_group("ICD-10-PCS", "BW20ZZZ", 0.6), _group("ICD-10-PCS", "BW03ZZZ", 0.5)]
    # bw20: 0.75 x 0.6 = 0.45 beats bw20zzz's 0.25 x 0.6; bw03zzz 0.5 x 0.9; bw03 at the floor, 0.1 x 0.5
    assert ranked_codes(groups, "ICD-10-PCS", rates["ICD-10-PCS"]) == ["bw03zzz", "bw20", "bw20zzz", "bw03"]
    assert PCS_PREFIX_FLOOR == 0.1
    cm = [_group("ICD-10-CM", "N18.9", 0.8), _group("ICD-10-CM", "I10", 0.5)]
    assert ranked_codes(cm, "ICD-10-CM", rates["ICD-10-CM"]) == ["n18", "i10", "n18.9"]


def test_ranked_scores_sort_each_note():
    out = ranked_scores(2, [0, 1, 0], ["A", "B", "C"], [0.1, 0.5, 0.9], "ICD-10-CM")
    assert [[r.code for r in note] for note in out] == [["C", "A"], ["B"]]


class _Release:
    """A PCS release that no longer has 5A1D00Z (deleted in FY2017) but has its successors."""

    codes = frozenset({"5A1D70Z", "5A1D80Z", "BW03ZZZ"})

    def get(self, code):
        return code if code in self.codes else None


def test_a_pcs_code_the_release_no_longer_has_enters_for_its_family_as_coders_wrote_it():
    usage = Usage(counts={("ICD-10-PCS", "5A1D00Z"): 6, ("ICD-10-PCS", "5A1D70Z"): 2, ("ICD-10-PCS", "BW03ZZZ"): 4})
    assert "5A1D00Z" not in truncation_rates(usage)["ICD-10-PCS"]  # without the release, nothing is legacy
    rates = truncation_rates(usage, _Release())["ICD-10-PCS"]
    assert rates == {"5A1D": 0.0, "BW03": 0.0, "5A1D00Z": 0.75}
    groups = [_group("ICD-10-PCS", "5A1D70Z", 0.6), _group("ICD-10-PCS", "5A1D80Z", 0.2),
              _group("ICD-10-PCS", "BW03ZZZ", 0.5)]
    # 5a1d00z: 0.75 x (0.6 + 0.2) = 0.6; the current codes keep 1 - 0.75 - 0.1 (the prefix floor) of their
    # score (5a1d70z 0.09, 5a1d80z 0.03); the prefix 5a1d 0.1 x 0.8; bw03zzz 0.9 x 0.5, bw03 0.1 x 0.5
    assert ranked_codes(groups, "ICD-10-PCS", rates) == ["5a1d00z", "bw03zzz", "5a1d70z", "5a1d", "bw03", "5a1d80z"]
    notes = [CodedNote("1", "", frozenset({("ICD-10-PCS", "5A1D00Z")}))]
    assert score(notes, [groups], "ICD-10-PCS", rates).map == 1.0
    assert score(notes, [groups], "ICD-10-PCS", truncation_rates(usage)["ICD-10-PCS"]).map == 0.0
