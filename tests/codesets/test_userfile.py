"""User-supplied CPT/HCPCS files.

Every code and description in these tests and their fixtures is made up ("99991,Made-up office visit"):
CPT is the AMA's property, and medcode never ships CPT content, not even in a test.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from codesets.userfile import load_user_codes
from medcode.errors import ErrorCode, MedcodeError


def test_good_cpt_file(fixtures: Path) -> None:
    path = fixtures / "cpt_madeup.csv"  # header, BOM, a blank line, a quoted comma
    codes = load_user_codes(path, "CPT")
    assert len(codes) == 5
    assert codes.system == "CPT"
    assert codes.release == f"cpt_madeup-{hashlib.sha256(path.read_bytes()).hexdigest()[:8]}"
    assert codes["99991"].description == "Made-up office visit"
    assert codes["99991"].long_description == "Made-up office visit for a new patient (test fixture only)"
    assert codes["99992"].long_description is None
    assert codes["9999t"].description == "Made-up procedure, with a comma"
    assert [c.code for c in codes] == ["99991", "99992", "0001X", "9999T", "99993"]


def test_good_hcpcs_file_without_header(fixtures: Path) -> None:
    codes = load_user_codes(fixtures / "hcpcs_madeup.csv", "HCPCS", release="2026-Q1")
    assert codes.tag == "HCPCS 2026-Q1"
    assert [c.code for c in codes] == ["Z9991", "Z9992"]


def test_same_code_twice_with_same_description_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("99991,Made-up visit\n99991,Made-up visit\n", encoding="utf-8")
    assert len(load_user_codes(path, "CPT")) == 1


@pytest.mark.parametrize(
    ("system", "content", "detail"),
    [
        ("CPT", "code,description\n99991,Made-up visit\n99992\n", "line 3: expected 2 or 3 columns"),
        ("CPT", "99991,Made-up visit,long,extra\n", "line 1: expected 2 or 3 columns"),
        ("CPT", "99991,Made-up visit\n\n ,Made-up nothing\n", "line 3: empty code"),
        ("CPT", "99991,Made-up visit\n99991,Made-up other visit\n", "line 2: code 99991 appears again"),
        ("CPT", "99991,Made-up visit\n9999,Made-up short code\n", "line 2: '9999' is not a CPT code"),
        ("CPT", "99991,Made-up visit\n99991A,Made-up long code\n", "line 2: '99991A' is not a CPT code"),
        ("HCPCS", "Z9991,Made-up supply\n99991,Made-up not level II\n", "line 2: '99991' is not a HCPCS code"),
        ("HCPCS", "Z9991,Made-up supply\nZ999,Made-up short\n", "line 2: 'Z999' is not a HCPCS code"),
        ("CPT", "99991,\n", "line 1: code 99991 has no description"),
        ("CPT", "\n\n", "no codes"),
    ],
)
def test_bad_files(tmp_path: Path, system: str, content: str, detail: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MedcodeError) as caught:
        load_user_codes(path, system)  # type: ignore[arg-type]
    assert caught.value.code is ErrorCode.BAD_CODE_FILE
    assert caught.value.params["path"] == path
    assert str(caught.value.params["detail"]).startswith(detail)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MedcodeError) as caught:
        load_user_codes(tmp_path / "absent.csv", "CPT")
    assert caught.value.code is ErrorCode.BAD_CODE_FILE
    assert caught.value.params["detail"] == "no such file"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("99991,Made-up caf\xe9 visit\n".encode("latin-1"))
    with pytest.raises(MedcodeError) as caught:
        load_user_codes(path, "CPT")
    assert "not UTF-8" in str(caught.value)
