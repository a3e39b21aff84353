"""The engine processes: the same suggestions as the in-process coder, errors carried back, and a
process that dies replaced while the others go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from medcode.errors import ErrorCode, MedcodeError
from serving.pool import EnginePool

NOTES = ["History of hypertension.", "Fever and cough for three days.", "Type 2 diabetes mellitus.",
         "Chest X-ray performed. Known hypertension.", "Acute myocardial infarction."]


def test_the_server_process_loads_none_of_the_engine_libraries() -> None:
    # Only the engine processes need them: imported by the server too, they cost seconds of start-up.
    modules = ("serving.app", "serving.cli", "serving.pool", "serving.jobs", "serving.runner", "serving.codesearch",
               "serving.batch", "validation")
    heavy = ("spacy", "torch", "faiss", "onnxruntime", "lightgbm", "transformers")
    code = f"import sys, {', '.join(modules)}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert found.strip() == "[]"


@pytest.fixture(scope="module")
def pool(small_index, settings):
    engines = EnginePool(settings, processes=2)
    yield engines
    engines.close()


def test_two_processes_code_as_the_in_process_engine_does(pool, coder):
    with ThreadPoolExecutor(max_workers=6) as threads:
        got = list(threads.map(lambda i: pool.suggest(NOTES[i % len(NOTES)], top=10), range(12)))
    for i, suggestions in enumerate(got):
        expected = coder.suggest(NOTES[i % len(NOTES)], top=10)
        assert [(s.code, s.system) for s in suggestions] == [(s.code, s.system) for s in expected]
        assert [s.score for s in suggestions] == pytest.approx([s.score for s in expected], abs=1e-6)
    many = pool.suggest_many(NOTES[:3], systems=["ICD-10-CM"])
    assert len(many) == 3 and all(s.system == "ICD-10-CM" for found in many for s in found)


def test_an_engine_error_comes_back_as_itself(pool):
    with pytest.raises(MedcodeError) as error:
        pool.suggest("   ")
    assert error.value.code is ErrorCode.EMPTY_NOTE


def test_a_dead_process_is_replaced_and_the_pool_goes_on(pool):
    victim = pool.pids[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while victim in pool.pids or len(pool.pids) < 2:
        assert time.monotonic() < deadline, "the dead process was not replaced"
        time.sleep(0.2)
    # Every note is answered while the replacement loads, and after.
    assert all(pool.suggest(note) for note in NOTES)
    assert victim not in pool.pids and len(pool.pids) == 2


def test_a_process_that_cannot_load_stops_the_pool_with_its_reason(settings, tmp_path):
    with pytest.raises(MedcodeError) as error:  # no index under this data dir
        EnginePool(settings.model_copy(update={"data_dir": tmp_path}), processes=1, timeout_s=120)
    assert error.value.code is ErrorCode.INDEX_MISSING
