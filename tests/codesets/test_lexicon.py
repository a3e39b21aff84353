import math
import pickle

import pytest

from codesets.lexicon import Lexicon, Term, TermTable
from codesets.text import clauses, normalize_word, words


def _lex() -> Lexicon:
    return Lexicon([
        Term("I10", "ICD-10-CM", "hypertension", "synonym"),
        Term("I10", "ICD-10-CM", "Essential (primary) hypertension", "description"),
        Term("R609", "ICD-10-CM", "Edema, unspecified", "description"),
        Term("N72", "ICD-10-CM", "Cervicitis", "description"),
        Term("BW24ZZZ", "ICD-10-PCS", "Computerized Tomography (CT Scan) of Abdomen", "description"),
        Term("BW03ZZZ", "ICD-10-PCS", "chest x-ray", "usage", 0.97),
        Term("K819", "ICD-10-CM", "Cholecystitis, unspecified", "description"),
        Term("K810", "ICD-10-CM", "Acute cholecystitis", "description"),
    ])


def test_plurals_and_british_spelling_fold_but_stems_do_not_merge_words():
    assert normalize_word("oedemas") == normalize_word("Edema") == "edema"
    assert normalize_word("fractures") == normalize_word("fracture")
    assert normalize_word("cervical") != normalize_word("cervicitis")


def test_words_keep_offsets_into_the_original_text():
    text = "Tab\there,\r\nédème"
    for w, s, e in words(text):
        assert text[s:e].lower().startswith(w[:2])


def test_exact_finds_whole_terms_with_offsets():
    lex = _lex()
    text = "She has hypertension.\nChest X-ray normal."
    hits = lex.exact(text)
    found = {(text[h.start:h.end], h.term.code) for h in hits}
    assert ("hypertension", "I10") in found
    assert ("Chest X-ray", "BW03ZZZ") in found
    assert not any(h.term.code == "N72" for h in hits)


def test_exact_does_not_match_a_piece_of_a_word():
    assert _lex().exact("The cervical smear was normal.") == []


def test_coverage_matches_reordered_words_within_a_clause_only():
    lex = _lex()
    text = "A CT of the abdomen was done. Tomography was later"
    hits = lex.coverage(text, threshold=0.3, min_idf=0.0)
    ct = [h for h in hits if h.term.code == "BW24ZZZ"]
    assert ct and text[ct[0].start:ct[0].end].startswith("CT")
    assert all(h.end <= text.index(".") for h in ct)


def test_coverage_respects_the_threshold():
    lex = _lex()
    assert not [h for h in lex.coverage("acute pain", threshold=0.9, min_idf=0.0) if h.term.code == "K810"]
    assert [h for h in lex.coverage("acute cholecystitis", threshold=0.9, min_idf=0.0) if h.term.code == "K810"]


def test_clauses_split_on_punctuation_and_conjunctions():
    text = "fever and chills; no cough"
    assert [text[s:e] for s, e in clauses(text)] == ["fever", "chills", " no cough"]


def test_coverage_clears_its_work_row_and_finds_the_same_from_several_threads_at_once():
    from concurrent.futures import ThreadPoolExecutor

    lex = _lex()
    text = "CT scan of the abdomen; acute cholecystitis; essential hypertension with edema"

    def found(_: object = None) -> list[tuple[str, int, int, float]]:
        return [(h.term.code, h.start, h.end, h.score) for h in lex.coverage(text, threshold=0.5)]

    first = found()
    assert {"BW24ZZZ", "K810", "I10"} <= {code for code, *_ in first}
    total, _ = lex._scratch()
    assert not total.any()  # written only where the clause's words reach, and zeroed again
    assert found() == first
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(found, range(64))) == [first] * 64
    again = pickle.loads(pickle.dumps(lex))  # the work space stays behind
    assert "_local" not in again.__dict__ and [(h.term.code, h.score) for h in again.coverage(text, threshold=0.5)] == [
        (code, score) for code, _, _, score in first]


def test_coverage_is_the_idf_weighted_share_of_the_term_words_in_the_clause():
    lex = _lex()
    # 8 terms: "acute" is in one (idf log 8), "cholecystitis" in two (idf log 4, too common to propose).
    (partial,) = [h for h in lex.coverage("acute pain", threshold=0.0) if h.term.code == "K810"]
    assert partial.score == pytest.approx(math.log(8) / (math.log(8) + math.log(4)))
    text = "acute cholecystitis"
    found = {h.term.code: h for h in lex.coverage(text, threshold=0.0)}
    assert "K819" not in found  # no strong word of it in the clause
    assert found["K810"].score == 1.0 and (found["K810"].start, found["K810"].end) == (0, len(text))
    # Every word proposes once none is too common: "unspecified" is a stop word, so K819 is all there.
    k819 = [h for h in lex.coverage(text, threshold=0.0, min_idf=0.0) if h.term.code == "K819"]
    assert [(h.score, h.start, h.end) for h in k819] == [(1.0, 6, len(text))]


def test_a_pickled_lexicon_matches_as_the_one_it_was_built_as():
    lex = _lex()
    again = pickle.loads(pickle.dumps(lex, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(again.terms, TermTable)
    assert list(again.terms) == list(lex.terms) and len(again) == len(lex)
    text = "She has hypertension; CT of the abdomen was done"
    assert again.exact(text) == lex.exact(text)
    assert again.coverage(text, threshold=0.3) == lex.coverage(text, threshold=0.3)


def test_term_table_reads_like_the_list_of_terms():
    terms = [Term("I10", "ICD-10-CM", "hypertension", "synonym"), Term("BW03ZZZ", "ICD-10-PCS", "chest x-ray", "usage", 0.97)]
    table = TermTable(terms)
    assert len(table) == 2 and list(table) == terms and table[-1] == terms[-1] and table[0:1] == terms[:1]
    assert table[1] is table[1]  # made once
    with pytest.raises(IndexError):
        table[2]
    assert len(TermTable([])) == 0
    assert pickle.loads(pickle.dumps(terms[1])) == terms[1]
