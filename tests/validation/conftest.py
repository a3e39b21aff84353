"""Hand-built encounters for the validation tests (the full code sets load once per session)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from codesets import registry
from codesets.types import CodeSet
from validation.types import Encounter

#: A date of service in ICD-10-CM 2026-04 / MS-DRG v43.1, the releases medcode ships code lists and weights for.
DAY = "2026-05-01"


@pytest.fixture(scope="session")
def cm(data_dir) -> CodeSet:
    return registry.load_codeset("ICD-10-CM")


@pytest.fixture(scope="session")
def encounter(cm) -> Callable[..., Encounter]:
    """encounter(["I50.23", "E87.1"], procedures=[...]): the first diagnosis principal, all POA Y."""

    def make(diagnoses: list[str], procedures: list[str] = (), *, setting: str = "inpatient", day: str | None = DAY,
             age: int | None = 67, sex: str = "male", **extra: Any) -> Encounter:
        return Encounter.model_validate({
            "setting": setting, "date_of_service": day, "patient": {"age": age, "sex": sex},
            "diagnoses": [{"code": c, "principal": i == 0 and setting == "inpatient", "poa": "Y"}
                          for i, c in enumerate(diagnoses)],
            "procedures": [{"code": p} for p in procedures], **extra,
        })

    return make

