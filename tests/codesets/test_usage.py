from pathlib import Path

from codesets.usage import CodedNote, Usage, mine, read_codiesp

REPO = Path(__file__).resolve().parents[2]


def _notes() -> list[CodedNote]:
    fever = frozenset({("ICD-10-CM", "R509")})
    xray = frozenset({("ICD-10-PCS", "BW03ZZZ")})
    return [
        CodedNote("1", "High fever for two days.", fever),
        CodedNote("2", "Fever and a chest x-ray.", fever | xray),
        CodedNote("3", "Fever again. Chest x-ray normal.", fever | xray),
        CodedNote("4", "A chest x-ray only.", xray),
        CodedNote("5", "Nothing to say.", frozenset()),
    ]


def test_mine_keeps_predictive_phrases_with_their_precision():
    usage = mine(_notes(), min_support=2, min_precision=0.6)
    rules = {(t.text.lower(), t.code): t.precision for t in usage.rules}
    assert rules[("fever", "R509")] == 3 / 4
    assert rules[("chest x-ray", "BW03ZZZ")] == 3 / 4
    assert ("fever", "BW03ZZZ") not in rules  # 2 / (3 fever notes + 1) = 0.5, under the floor
    assert usage.n_notes == {"ICD-10-CM": 3, "ICD-10-PCS": 3}


def test_pcs_phrases_also_vote_for_the_4_character_prefix():
    notes = [CodedNote(str(i), "An abdominal CT was done.", frozenset({("ICD-10-PCS", code)}))
             for i, code in enumerate(["BW20", "BW20ZZZ", "BW201ZZ"])]
    rules = {(t.text.lower(), t.code) for t in mine(notes, min_support=2).rules}
    assert ("abdominal ct", "BW20") in rules  # 3 codings under BW20, though each full code appears once
    assert ("abdominal ct", "BW20ZZZ") not in rules


def test_prior_is_smoothed_and_keyed_without_dots():
    usage = mine(_notes())
    assert usage.prior("ICD-10-CM", "R50.9") > usage.prior("ICD-10-CM", "I10") > 0


def test_usage_round_trips_through_json(tmp_path):
    usage = mine(_notes(), min_support=2)
    usage.save(tmp_path / "u.json")
    again = Usage.load(tmp_path / "u.json")
    assert again.rules == usage.rules and again.counts == usage.counts


def test_read_codiesp_reads_texts_and_both_code_files():
    notes = read_codiesp(REPO / "corpora" / "codiesp" / "train", split="train")
    assert len(notes) == 500
    first = next(n for n in notes if n.id == "S0004-06142005000700014-1")
    assert ("ICD-10-CM", "N448") in first.codes and ("ICD-10-PCS", "BW03ZZZ") in first.codes
