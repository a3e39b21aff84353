"""Robustness figures: kill -9 / --resume cycles of `medcode batch`, and a schemathesis run over the API.

    python -m benchmarks.robustness batch [--notes 600] [--cycles 20] [--seed 23]
    python -m benchmarks.robustness contract [--examples 150] [--seed 23]

`batch` writes `--notes` CodiEsp dev notes (cycled, each with its own id, one of them blank) as JSONL, then
`--cycles` times starts `medcode batch … [--resume]` and kills it with SIGKILL at a random moment once it
has started writing; a last `--resume` finishes. It prints how many kills landed, and checks that every
line of both output files is valid JSON and that each id is in them exactly once.

`contract` starts the service over MEDCODE_DATA_DIR's index and runs `schemathesis run --checks all`
(every phase, positive and negative data) against its OpenAPI document with an admin key; it prints the
cases sent, the 5xx answers and the check failures, from schemathesis's own JSON report.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.live import REPO, Server

DEV = REPO / "corpora" / "codiesp" / "dev" / "text_files_en"


def _check(path: Path) -> list[str]:
    """The ids of `path`'s lines; raises if a line is not whole, valid JSON."""
    raw = path.read_bytes() if path.exists() else b""
    if raw and not raw.endswith(b"\n"):
        raise AssertionError(f"{path} ends in a torn line")
    return [str(json.loads(line)["id"]) for line in raw.decode("utf-8").splitlines()]


def batch(notes: int, cycles: int, seed: int) -> None:
    rng = random.Random(seed)
    texts = [p.read_text(encoding="utf-8") for p in sorted(DEV.glob("*.txt"))]
    folder = Path(tempfile.mkdtemp(prefix="medcode-kill-"))
    src, out = folder / "notes.jsonl", folder / "out.jsonl"
    records = [{"id": f"n{i:04d}", "text": texts[i % len(texts)]} for i in range(notes)]
    records[notes // 2]["text"] = " "  # a bad note: its error line must come through the kills as well
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "serving.cli", "batch", str(src), "--out", str(out)]
    kills = torn = 0
    started = time.perf_counter()
    for cycle in range(cycles):
        size = out.stat().st_size if out.exists() else 0
        proc = subprocess.Popen(command + (["--resume"] if cycle else []), cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while proc.poll() is None and (not out.exists() or out.stat().st_size <= size):
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        torn += bool(out.exists() and out.read_bytes()[-1:] not in (b"\n", b""))
        print(f"cycle {cycle + 1:2d}: {len(out.read_bytes().splitlines()) if out.exists() else 0:4d} lines, "
              f"{'killed' if proc.returncode == -signal.SIGKILL else f'exit {proc.returncode}'}", flush=True)
    final = subprocess.run(command + ["--resume"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    ids = Counter(_check(out)) + Counter(_check(out.with_name("out.errors.jsonl")))
    expected = Counter(r["id"] for r in records)
    print(json.dumps({"notes": notes, "cycles": cycles, "kills": kills, "kills_leaving_a_torn_line": torn,
                      "final_exit": final.returncode, "ids_exactly_once": ids == expected,
                      "missing": sum((expected - ids).values()), "duplicated": sum((ids - expected).values()),
                      "every_line_valid_json": True, "seconds": round(time.perf_counter() - started, 1)}))


#: schemathesis's configuration (which answers each check expects where JSON Schema cannot say it all) and the
#: hooks module with medcode's own check, `domain_format_refusal`.
CONFIG = Path(__file__).with_name("schemathesis.toml")
HOOKS = Path(__file__).with_name("contract_hooks.py")


def fuzz(url: str, authorization: str, *, examples: int, seed: int, report: Path,
         timeout_s: float | None = None) -> dict:
    """`schemathesis run --checks all` (every phase, positive and negative data; `CONFIG` and `HOOKS`) against
    `url`'s OpenAPI document; the cases sent, the failures by check and the errors, from its JSON report."""
    run = subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(CONFIG), "run",
         url + "/openapi.json", "--checks", "all", "--max-examples", str(examples), "--seed", str(seed),
         # One worker: hypothesis describes its strategies through `ast`, and two threads doing so at once on
         # CPython 3.11.2 fail inside it ("AST constructor recursion depth mismatch", a KeyError in its
         # lambda-source cache), one to three times a run, as Runtime Errors that are no answer of the server.
         "--workers", "1",
         "--continue-on-failure", "--suppress-health-check", "all", "--no-color",
         "-H", f"Authorization: {authorization}", "--report", "json", "--report-json-path", str(report)],
        capture_output=True, text=True, timeout=timeout_s, cwd=report.parent,  # its cache dir lands there
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)})
    data = json.loads(report.read_text(encoding="utf-8"))
    failures = {f"{f['code']}: {f['title']} ({', '.join(f['operations'])})": f["count"] for f in data["failures"]}
    return {"cases": data["test_cases"]["generated"], "cases_with_failures": data["test_cases"]["with_failures"],
            "server_errors": sum(f["count"] for f in data["failures"] if f["code"] == "ST101"),
            "failures": failures, "errors": data["errors"], "error_operations": error_operations(run.stdout),
            "exit": run.returncode,
            "seconds": data["running_time"], "output_tail": run.stdout[-4000:]}


def error_operations(output: str) -> list[str]:
    """The operations schemathesis's ERRORS section names: its JSON report counts errors by title alone, and
    which operation an error came from says whether it is a known limit of schemathesis or news."""
    section = re.split(r"^=+ ERRORS =+$", output, maxsplit=1, flags=re.MULTILINE)[1:] or [""]
    section = re.split(r"^=+ (?:WARNINGS|SUMMARY) =+$", section[0], maxsplit=1, flags=re.MULTILINE)[0]
    return sorted(set(re.findall(r"^_{3,} (\S+ \S+) _{3,}$", section, flags=re.MULTILINE)))


def contract(examples: int, seed: int) -> None:
    report = Path(tempfile.mkdtemp(prefix="medcode-contract-")) / "report.json"
    with Server({"fuzz": "admin"}, MEDCODE_SERVING__RATE_LIMIT="0", MEDCODE_SERVING__ENGINES="1") as server:
        result = fuzz(server.url, server.keys["fuzz"]["Authorization"], examples=examples, seed=seed, report=report)
    print(result.pop("output_tail"))
    print(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    b = sub.add_parser("batch")
    b.add_argument("--notes", type=int, default=600)
    b.add_argument("--cycles", type=int, default=20)
    b.add_argument("--seed", type=int, default=23)
    c = sub.add_parser("contract")
    c.add_argument("--examples", type=int, default=150)
    c.add_argument("--seed", type=int, default=23)
    args = parser.parse_args()
    if args.what == "batch":
        batch(args.notes, args.cycles, args.seed)
    else:
        contract(args.examples, args.seed)


if __name__ == "__main__":
    main()
