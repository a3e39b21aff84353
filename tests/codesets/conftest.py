"""Code-set fixtures: real code sets loaded once (the data dir comes from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesets import registry
from codesets.types import CodeSet

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "codesets"


@pytest.fixture(scope="session")
def icd10cm(data_dir: Path) -> CodeSet:
    return registry.load_codeset("ICD-10-CM")


@pytest.fixture(scope="session")
def icd10pcs(data_dir: Path) -> CodeSet:
    return registry.load_codeset("ICD-10-PCS")


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
