from codesets.lexicon import Lexicon, Term, clauses, normalize_word, words


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


def test_coverage_sums_alike_over_postings_and_over_the_whole_lexicon(monkeypatch):
    from codesets import lexicon

    lex = _lex()
    text = "CT scan of the abdomen; acute cholecystitis; essential hypertension with edema"

    def found(dense_from: int) -> list[tuple[str, int, int, float]]:
        monkeypatch.setattr(lexicon, "_DENSE_FROM", dense_from)
        return [(h.term.code, h.start, h.end, h.score) for h in lex.coverage(text, threshold=0.5)]

    sparse = found(10**9)
    assert sparse == found(0)
    assert {"BW24ZZZ", "K810", "I10"} <= {code for code, *_ in sparse}
