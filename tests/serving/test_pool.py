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


def _busy(pool, *, long: bool | None = None) -> list:
    return [e for e in pool._engines if e.doing is not None and (long is None or e.long == long)]


def test_an_engine_killed_mid_request_fails_only_that_request(pool):
    long_note = " ".join(NOTES) * 400  # seconds of work, so the kill lands while it is being coded
    with ThreadPoolExecutor(max_workers=1) as threads:
        doomed = threads.submit(pool.suggest, long_note)
        deadline = time.monotonic() + 60
        while not _busy(pool):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(_busy(pool)[0].proc.pid, signal.SIGKILL)
        with pytest.raises(MedcodeError) as error:
            doomed.result(timeout=120)
    assert error.value.code is ErrorCode.INTERNAL
    assert all(pool.suggest(note) for note in NOTES)  # the other engine, then the replacement, go on


def test_long_notes_keep_to_their_lane_and_short_ones_pass_them(pool):
    long_note = " ".join(NOTES) * 100
    pool.long_chars, before = 1_000, pool.long_chars
    most_long = 0
    try:
        with ThreadPoolExecutor(max_workers=8) as threads:
            longs = [threads.submit(pool.suggest, long_note + f" Day {i}.") for i in range(3)]
            while not _busy(pool, long=True):
                time.sleep(0.005)
            shorts = [threads.submit(pool.suggest, NOTES[i % 5]) for i in range(4)]
            while not all(f.done() for f in longs + shorts):
                most_long = max(most_long, len(_busy(pool, long=True)))
                assert len(_busy(pool)) <= 2
                time.sleep(0.005)
            assert all(f.result() for f in longs + shorts)
    finally:
        pool.long_chars = before
    assert most_long == 1 == pool.long_lanes  # two engines: long work holds one at most, short work has the other
