"""X12 835 files of the real layout read with pyx12, malformed ones refused, and which adjustments are coding's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from claims.denials import review_adjustments
from claims.remittance import read_835
from claims.types import ClaimCoding
from medcode.errors import MedcodeError
from validation.types import CodedDiagnosis, CodedProcedure, Encounter

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "x12" / "remittance.835"


@pytest.fixture(scope="module")
def text() -> str:
    return FIXTURE.read_text()


def _coding() -> ClaimCoding:
    encounter = Encounter(setting="inpatient", diagnoses=[CodedDiagnosis(code="I50.23", principal=True),
                                                          CodedDiagnosis(code="E11.9")],
                          procedures=[CodedProcedure(code="02703ZZ")])
    return ClaimCoding.of(encounter, encounter_id="e", claim_id="ENC-A", claim_type="institutional", admitting="R07.9")


def test_reads_every_claim_with_its_adjustments_and_remarks(text: str) -> None:
    [remittance] = read_835(text)
    assert remittance.payer == "ACME HEALTH PLAN" and remittance.trace == "EFT0000123"
    assert str(remittance.paid_on) == "2026-05-15"
    claims = {c.claim_id: c for c in remittance.claims}
    assert list(claims) == ["ENC-A", "ENC-B", "ENC-C", "UNKNOWN-9", "ENC-D"]
    b = claims["ENC-B"]
    assert [(a.group, a.carc, a.amount) for a in b.adjustments] == [
        ("CO", "45", Decimal("700")), ("CO", "253", Decimal("100")), ("PR", "1", Decimal("100")),
        ("PR", "2", Decimal("50"))]
    assert b.status == "1" and b.paid == Decimal("850") and b.remarks == ["MA01"]
    assert claims["ENC-A"].remarks == ["MA63"]  # MIA05, the inpatient remark
    d = claims["ENC-D"]
    assert [(s.procedure, [a.carc for a in s.adjustments], s.remarks) for s in d.services] == [
        ("99214", ["16"], ["M76"]), ("93000", ["236"], [])]


def test_coding_reasons_are_told_from_the_others(text: str) -> None:
    claims = {c.claim_id: c for c in read_835(text)[0].claims}
    asked = []

    def coding() -> ClaimCoding:
        asked.append(1)
        return _coding()

    a = review_adjustments(claims["ENC-A"], coding)
    assert [(r.adjustment.carc, r.denial.concerns, r.denial.codes, r.denial.rarcs) for r in a] == [
        ("16", "principal", ["I50.23"], ["MA63"])]
    assert "principal diagnosis" in a[0].denial.reason
    assert all(r.denial is None for r in review_adjustments(claims["ENC-B"], coding))
    c = review_adjustments(claims["ENC-C"], coding)
    assert [(r.adjustment.carc, r.denial is not None) for r in c] == [("167", True), ("45", False)]
    assert c[0].denial.codes == ["I50.23", "E11.9", "R07.9"]
    d = review_adjustments(claims["ENC-D"], coding)
    assert [(r.service, r.denial.carc, r.denial.concerns) for r in d] == [("99214", "16", "diagnoses"),
                                                                           ("93000", "236", "procedures")]
    assert d[1].denial.codes == ["02703ZZ", "93000"]
    # CARC 16 without a coding remark is a billing matter; a site's own list adds reasons.
    plain = claims["ENC-A"].model_copy(update={"remarks": ["N130"]})
    assert review_adjustments(plain, coding)[0].denial is None
    assert review_adjustments(claims["ENC-B"], coding, ["253"])[1].denial.concerns == "coding"
    assert len(asked) == 5  # only for adjustments that point at the coding


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda t: t.replace("CAS*CO*16*12500", "CAS*CO**12500"), r"line 17: .*CAS02"),
    (lambda t: t.replace("DTM*232*20260502~\n", "DTM*232*20260502~\nXYZ*1~\n"), r"XYZ"),
    (lambda t: t.replace("CLP*ENC-C*4*900", "CLP*ENC-C*4*nine"), r"CLP03"),
    (lambda t: t.replace("SE*46*0001", "SE*45*0001"), r"SE"),
    (lambda t: t.replace("ST*835*0001", "ST*837*0001"), r"837|not an 835|ST"),
    (lambda t: t[:-40], r"cut short"),
    (lambda t: t[:600], r"cut short"),
    (lambda t: "hello", r"ISA"),
    (lambda t: "", r"ISA"),
])
def test_malformed_files_are_refused_with_a_clear_error(text: str, edit, expected: str) -> None:
    broken = edit(text)
    assert broken != text
    with pytest.raises(MedcodeError, match=expected) as caught:
        read_835(broken, source="x.835")
    assert caught.value.code.value == "E070" and "x.835" in str(caught.value)
    assert "DOE" not in str(caught.value)  # no values from the file, which holds PHI


def test_bytes_that_are_not_text_are_refused() -> None:
    with pytest.raises(MedcodeError, match="ASCII"):
        read_835(b"\xff\xfe ISA")
