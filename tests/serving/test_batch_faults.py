"""`medcode batch` under faults: bad notes beside good ones, an engine failure on one note, torn lines left
by a crash, and kill -9 at random points followed by --resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from serving.batch import cut_torn_tail, errors_path, run_batch

REPO = Path(__file__).resolve().parents[2]
NOTES = ["History of hypertension.", "Fever and cough for three days.", "Type 2 diabetes mellitus.",
         "Chest X-ray performed. Known hypertension.", "Acute myocardial infarction."]


def _lines(path: Path) -> list[dict]:
    """Every line of `path` as JSON (a line that is not fails the test)."""
    raw = path.read_bytes()
    assert not raw or raw.endswith(b"\n"), "a torn last line"
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def _quiet() -> Console:
    return Console(stderr=True, quiet=True)


def test_bad_notes_beside_good_ones_fail_alone_with_their_ids(coder, tmp_path):
    good = [json.dumps({"id": f"g{i}", "text": NOTES[i % 5]}).encode() for i in range(14)]
    bad = [b'{"id": "s", "text": "fever \\ud800"}', b"[" * 100_000, b'{"id": "u", "text": "bad \xff byte"}']
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(good[:5] + bad + good[5:]) + b"\n")
    out = tmp_path / "out.jsonl"
    summary = run_batch(src, out, coder_factory=lambda: coder, console=_quiet())
    assert (summary.done, summary.failed) == (14, 3)
    assert [r["id"] for r in _lines(out)] == [f"g{i}" for i in range(14)]
    assert {r["id"]: r["error"]["code"] for r in _lines(errors_path(out))} == {"s": "E003", "line 7": "E040",
                                                                                "u": "E003"}


class _FailsOn:
    """The real coder with one fault injected: any call holding `poison` raises, as an engine bug would."""

    def __init__(self, coder, poison: str) -> None:
        self.coder, self.poison, self.calls = coder, poison, 0

    def suggest_many(self, texts, **options):
        self.calls += 1
        if self.poison in texts:
            raise RuntimeError("engine failure quoting the note: " + self.poison)
        return self.coder.suggest_many(texts, **options)


def test_a_note_the_engine_fails_on_is_isolated_from_its_batch_mates(coder, tmp_path):
    src = tmp_path / "in.jsonl"
    notes = [{"id": f"n{i}", "text": NOTES[i % 5] + f" Day {i}."} for i in range(8)]
    notes[3]["text"] = "POISON note about the patient"
    src.write_text("".join(json.dumps(n) + "\n" for n in notes), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    faulty = _FailsOn(coder, notes[3]["text"])
    summary = run_batch(src, out, coder_factory=lambda: faulty, batch_size=8, console=_quiet())
    assert (summary.done, summary.failed) == (7, 1)
    assert [r["id"] for r in _lines(out)] == [f"n{i}" for i in range(8) if i != 3]
    [error] = _lines(errors_path(out))
    assert error["id"] == "n3" and error["error"]["code"] == "E099"
    assert "POISON" not in errors_path(out).read_text() and "RuntimeError" in error["error"]["message"]
    assert faulty.calls == 1 + 8  # the batch, then each of its notes alone


@pytest.mark.parametrize("cut", ["mid-line", "mid-character"])
def test_resume_cuts_a_torn_tail_and_codes_that_note_again(coder, tmp_path, cut):
    src = tmp_path / "in.jsonl"
    notes = [{"id": f"n{i}", "text": NOTES[i % 5]} for i in range(5)] + [{"id": "é", "text": "Fiebre y tos."}]
    src.write_text("".join(json.dumps(n, ensure_ascii=False) + "\n" for n in notes), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    run_batch(src, out, coder_factory=lambda: coder, console=_quiet())
    whole = out.read_bytes()
    last = whole.rstrip(b"\n").rfind(b"\n") + 1
    tail = whole[last:]
    at = tail.index("é".encode()) + 1 if cut == "mid-character" else len(tail) // 2
    out.write_bytes(whole[: last + at])  # what a kill during the last write leaves
    errors_path(out).write_bytes(b'{"id": "x", "err')  # and a torn error line
    summary = run_batch(src, out, coder_factory=lambda: coder, resume=True, console=_quiet())
    assert (summary.done, summary.skipped) == (1, 5)
    assert Counter(r["id"] for r in _lines(out)) == Counter(n["id"] for n in notes)
    assert errors_path(out).read_bytes() == b""


def test_cut_torn_tail_keeps_whole_lines(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"a": 1}\n' * 20_000 + b'{"a": ')
    assert cut_torn_tail(path) == 6 and path.read_bytes().endswith(b"}\n")
    assert cut_torn_tail(path) == 0
    path.write_bytes(b'{"torn')
    assert cut_torn_tail(path) == 6 and path.read_bytes() == b""
    assert cut_torn_tail(tmp_path / "missing.jsonl") == 0


def _batch(src: Path, out: Path, data_dir: Path, resume: bool) -> subprocess.Popen:
    env = {**os.environ, "MEDCODE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "serving.cli", "batch", str(src), "--out", str(out), "--batch-size", "4"]
    return subprocess.Popen(args + (["--resume"] if resume else []), cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_kill_9_at_random_points_then_resume_codes_every_note_exactly_once(small_index, data_dir, tmp_path):
    rng = random.Random(23)
    # 240 notes: 80 take ~1.3 s from the first line to the end on a loaded machine, and on CI's quicker one three
    # of four cycles finished inside their random 0-0.4 s; 240 leave each cycle seconds of work past it.
    notes = [{"id": f"n{i:03d}", "text": NOTES[i % 5] + f" Seen on day {i}."} for i in range(240)]
    notes[11]["text"] = "   "  # one bad note: its error line must survive the kills too
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(n) + "\n" for n in notes), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    kills = 0
    for cycle in range(4):
        proc = _batch(src, out, data_dir, resume=cycle > 0)
        # Wait until it writes, then kill it at a random moment of its coding.
        before = out.stat().st_size if out.exists() else 0
        deadline = time.time() + 180
        while proc.poll() is None and (not out.exists() or out.stat().st_size <= before):
            assert time.time() < deadline
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
    final = _batch(src, out, data_dir, resume=True)
    assert final.wait(timeout=300) == 0
    assert kills >= 2
    coded = Counter(r["id"] for r in _lines(out))
    failed = Counter(r["id"] for r in _lines(errors_path(out)))
    assert coded + failed == Counter(n["id"] for n in notes)  # every id exactly once, in one file or the other
    assert set(failed) == {"n011"}
