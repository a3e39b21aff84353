"""The coding being built: a stored proposal replayed with decisions (principal, sequence, POA, accept,
reject, add, change), on each store backend, without the engine: the proposal is a hand-written `Coding`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from coding.types import CodedDiagnosisProposal, CodedProcedureProposal, Coding, CodingContext, DroppedCode, RuleRef
from medcode.errors import MedcodeError
from medcode.settings import get_settings
from medcode.types import Evidence, Suggestion
from serving import coding_review, review
from serving.schemas import DecisionCreate
from serving.store import Encounter, Store
from serving.store.models import utcnow
from tests.serving.conftest import BACKENDS, fresh_database
from validation.types import Patient

NOTE = ("Admitted with right upper quadrant pain, fever and vomiting. Acute calculous cholecystitis. "
        "Type 2 diabetes. Developed acute kidney injury on day 3. Rule out perforation. "
        "Laparoscopic cholecystectomy.")


def _ev(word: str, assertion: str = "present") -> list[Evidence]:
    start = NOTE.index(word)
    return [Evidence(start=start, end=start + len(word), text=word, assertion=assertion)]  # type: ignore[arg-type]


def _s(rank: int, code: str, description: str, word: str, assertion: str = "present", system: str = "ICD-10-CM",
       ) -> Suggestion:
    return Suggestion(code=code, system=system, description=description, score=max(0.05, 0.9 - rank / 20),  # type: ignore[arg-type]
                      rank=rank, evidence=_ev(word, assertion), assertion=assertion, why="test")  # type: ignore[arg-type]


SUGGESTIONS = [
    _s(1, "R10.11", "Right upper quadrant pain", "right upper quadrant pain"),
    _s(2, "K81.0", "Acute cholecystitis", "Acute calculous cholecystitis"),
    _s(3, "R50.9", "Fever, unspecified", "fever"),
    _s(4, "E11.9", "Type 2 diabetes mellitus without complications", "Type 2 diabetes"),
    _s(5, "N17.9", "Acute kidney failure, unspecified", "acute kidney injury"),
    _s(6, "R10.9", "Unspecified abdominal pain", "pain"),
    _s(7, "K82.A2", "Perforation of gallbladder in cholecystitis", "perforation", assertion="possible"),
    _s(8, "0FT44ZZ", "Resection of Gallbladder, Percutaneous Endoscopic Approach", "Laparoscopic cholecystectomy",
       system="ICD-10-PCS"),
]
RULE = RuleRef(rule="combination-code", section="I.B.9", message="calculus with acute cholecystitis")
CODING = Coding(
    context=CodingContext(setting="inpatient", date_of_service="2026-03-02", patient=Patient(age=58, sex="female")),
    diagnoses=[
        CodedDiagnosisProposal(code="K80.00", description="Calculus of gallbladder with acute cholecystitis without "
                               "obstruction", sequence=1, principal=True, poa="Y", evidence=_ev("Acute calculous "
                               "cholecystitis"), rules=[RULE]),
        CodedDiagnosisProposal(code="E11.9", description="Type 2 diabetes mellitus without complications", sequence=2,
                               principal=False, poa="Y", evidence=_ev("Type 2 diabetes"), rules=[], score=0.7),
        CodedDiagnosisProposal(code="N17.9", description="Acute kidney failure, unspecified", sequence=3,
                               principal=False, poa="N", evidence=_ev("acute kidney injury"), rules=[], score=0.6),
    ],
    procedures=[CodedProcedureProposal(code="0FT44ZZ", description="Resection of Gallbladder, Percutaneous "
                                       "Endoscopic Approach", sequence=1, principal=True,
                                       evidence=_ev("Laparoscopic cholecystectomy"), rules=[])],
    dropped=[DroppedCode(code="R10.11", system="ICD-10-CM", rule="integral-symptom", section="I.B.5", by="K80.00",
                         message="R10.11: integral to K80.00, guideline I.B.5"),
             DroppedCode(code="K81.0", system="ICD-10-CM", rule="combination-code", section="I.B.9", by="K80.00",
                         message="K81.0: K80.00 combines it with the calculus, guideline I.B.9")],
)


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    made = Store(fresh_database(request.param, tmp_path_factory.mktemp("coding-review")))
    yield made
    made.close()


@pytest.fixture()
def encounter_id(store: Store) -> str:
    row = Encounter(id=uuid.uuid4().hex, note=NOTE, setting="inpatient", date_of_service=CODING.context.date_of_service,
                    patient_age=58, patient_sex="female", suggestions=[s.model_dump(mode="json") for s in SUGGESTIONS],
                    coding=CODING.model_dump(mode="json"), findings=[], status="pending", created_at=utcnow(),
                    created_by="test")
    with store.session() as session:
        session.add(row)
    return row.id


def decide(store: Store, encounter_id: str, **body: object) -> bool:
    """Record one decision; whether it was stored (False: it would have changed nothing)."""
    with store.session() as session:
        row = review.get_encounter(session, encounter_id)
        made = review.record_decision(session, get_settings(), row, DecisionCreate(coder="jo", **body), "key")
    return made is not None


def shown(store: Store, encounter_id: str):
    with store.session() as session:
        return review.public(review.get_encounter(session, encounter_id))


def codes(items) -> list[str]:
    return [c.code for c in items]


def test_opens_on_the_proposal_nothing_confirmed(store, encounter_id):
    enc = shown(store, encounter_id)
    assert codes(enc.working.diagnoses) == ["K80.00", "E11.9", "N17.9"]
    assert [d.principal for d in enc.working.diagnoses] == [True, False, False]
    assert [d.poa for d in enc.working.diagnoses] == ["Y", "Y", "N"]
    assert {d.status for d in enc.working.diagnoses} == {"proposed"} and enc.final_codes == []
    assert enc.working.diagnoses[0].rules[0].section == "I.B.9"
    assert enc.drg is not None and enc.drg.drg in (417, 418, 419)  # laparoscopic cholecystectomy, the working DRG


def test_second_accept_stores_nothing(store, encounter_id):
    assert decide(store, encounter_id, action="accept", code="K80.00", system="ICD-10-CM")
    assert not decide(store, encounter_id, action="accept", code="K80.00", system="ICD-10-CM")
    assert not decide(store, encounter_id, action="add", code="k80.00", system="ICD-10-CM")
    assert decide(store, encounter_id, action="reject", code="R50.9", system="ICD-10-CM", reason="integral")
    assert not decide(store, encounter_id, action="reject", code="R50.9", system="ICD-10-CM")
    enc = shown(store, encounter_id)
    assert [(d.action, d.code) for d in enc.decisions] == [("accept", "K80.00"), ("reject", "R50.9")]
    assert codes(enc.final_codes) == ["K80.00"] and enc.final_codes[0].principal


def test_principal_sequence_and_poa(store, encounter_id):
    assert decide(store, encounter_id, action="principal", code="N17.9", system="ICD-10-CM")
    enc = shown(store, encounter_id)
    assert codes(enc.working.diagnoses) == ["N17.9", "K80.00", "E11.9"]
    assert enc.working.diagnoses[0].principal and enc.working.diagnoses[0].status == "confirmed"
    assert decide(store, encounter_id, action="sequence", code="E11.9", system="ICD-10-CM", position=2)
    assert not decide(store, encounter_id, action="sequence", code="E11.9", system="ICD-10-CM", position=2)
    assert decide(store, encounter_id, action="poa", code="N17.9", system="ICD-10-CM", poa="Y")
    for action in ("accept",):
        for code in ("K80.00", "E11.9"):
            decide(store, encounter_id, action=action, code=code, system="ICD-10-CM")
    enc = shown(store, encounter_id)
    assert codes(enc.working.diagnoses) == ["N17.9", "E11.9", "K80.00"]
    final = [(c.code, c.sequence, c.principal, c.poa) for c in enc.final_codes if c.system == "ICD-10-CM"]
    assert final == [("N17.9", 1, True, "Y"), ("E11.9", 2, False, "Y"), ("K80.00", 3, False, "Y")]
    assert [(d.action, d.position, d.poa) for d in enc.decisions][1:3] == [("sequence", 2, None), ("poa", None, "Y")]


def test_principal_changes_the_working_drg_and_says_so_beforehand(store, encounter_id):
    before = shown(store, encounter_id)
    aki = next(d for d in before.working.diagnoses if d.code == "N17.9")
    assert aki.if_principal is not None and aki.if_removed is not None
    decide(store, encounter_id, action="principal", code="N17.9", system="ICD-10-CM")
    after = shown(store, encounter_id)
    assert after.drg is not None and after.drg.drg == aki.if_principal.drg_after


def test_change_keeps_the_place_and_leaves_one_row(store, encounter_id):
    assert decide(store, encounter_id, action="modify", code="K80.01", replaces="K80.00", system="ICD-10-CM")
    enc = shown(store, encounter_id)
    assert codes(enc.working.diagnoses) == ["K80.01", "E11.9", "N17.9"]
    first = enc.working.diagnoses[0]
    assert (first.source, first.replaces, first.poa, first.status) == ("modified", "K80.00", "Y", "confirmed")
    alternatives = [a.suggestion.code for g in enc.working.alternatives for a in g.alternatives]
    assert "K80.00" not in alternatives and "K80.01" not in alternatives


def test_findings_are_on_the_coding_not_between_candidates(store, encounter_id):
    enc = shown(store, encounter_id)
    in_coding = set(codes(enc.working.diagnoses)) | set(codes(enc.working.procedures))
    assert all(set(f.codes) <= in_coding for f in enc.findings), enc.findings
    assert not any(f.rule == "excludes1" for f in enc.findings)


def test_alternatives_grouped_by_concept_with_why_dropped(store, encounter_id):
    enc = shown(store, encounter_id)
    groups = {g.concept: g for g in enc.working.alternatives}
    assert [a.suggestion.code for a in groups["R10"].alternatives] == ["R10.11", "R10.9"]
    assert groups["R10"].title == "Abdominal and pelvic pain"
    assert groups["R10"].alternatives[0].dropped.by == "K80.00"
    assert groups["K81"].alternatives[0].dropped.rule == "combination-code"
    assert groups["K80"].coded == ["K80.00"] if "K80" in groups else True


def test_no_drg_line_for_rule_out_evidence(store, encounter_id):
    enc = shown(store, encounter_id)
    perforation = next(a for g in enc.working.alternatives for a in g.alternatives if a.suggestion.code == "K82.A2")
    assert perforation.impact is None
    assert "K82.A2" not in {i.code for i in enc.drg_impact}
    present = [a for g in enc.working.alternatives for a in g.alternatives if a.suggestion.code == "R50.9"]
    assert present[0].impact is not None  # present evidence keeps its line


def test_bad_decisions_are_refused(store, encounter_id):
    for body in ({"action": "poa", "code": "E11.9", "system": "ICD-10-CM"},
                 {"action": "sequence", "code": "E11.9", "system": "ICD-10-CM"},
                 {"action": "principal", "code": "0FT44ZZ", "system": "ICD-10-PCS"},
                 {"action": "poa", "code": "R50.9", "system": "ICD-10-CM", "poa": "Y"},
                 {"action": "accept", "code": "E11.9", "system": "ICD-10-CM", "poa": "Y"}):
        with pytest.raises(MedcodeError):
            decide(store, encounter_id, **body)


def test_exports_carry_sequence_principal_and_poa(store, encounter_id):
    for code in ("K80.00", "N17.9", "0FT44ZZ"):
        decide(store, encounter_id, action="accept", code=code, system="ICD-10-PCS" if code[0] == "0" else "ICD-10-CM")
    with store.session() as session:
        row = review.get_encounter(session, encounter_id)
        text = review.codes_csv([row])
        data = review.codes_json(row)
    lines = text.splitlines()
    assert lines[0].split(",")[4:9] == ["sequence", "principal", "code", "description", "poa"]
    assert [c["code"] for c in data["codes"]] == ["K80.00", "N17.9", "0FT44ZZ"]
    assert [(c["sequence"], c["principal"], c["poa"]) for c in data["codes"]] == [
        (1, True, "Y"), (2, False, "N"), (1, True, None)]
    assert coding_review.setting_of(row) == "inpatient"
