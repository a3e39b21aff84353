"""Throughput of `medcode batch --ray` with 1 and 2 workers against the local `medcode batch`, same notes, same run.

Each run is the real command in its own process, start-up included (the Ray runs also start their actors,
each loading its own Coder). The Ray runs go to a one-node cluster of this machine's cores started here and
stopped at the end. Prints JSON: seconds and notes/s of each run, the local batch's CPU seconds per note
(and the CPU of each run's driver process: for a Ray run, what the one driver spends a note), output bytes a note,
the peak resident memory of the local batch and of each Ray worker, and Ray's speed against the local
batch at equal cores (the local batch on 1 core, MEDCODE_THREADS=1 under `taskset`, against 1 worker;
on all cores against 2 workers).

    python -m benchmarks.ray_batch [--notes DIR] [--limit 1000] [--runs local1,local,ray1,ray2]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from medcode.settings import get_settings
from serving.cluster import LocalCluster

RUNS = ("local1", "local", "ray1", "ray2")


def _run(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak RSS (GiB) of the child; the peak worker memory a Ray run reports."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} failed:\n{proc.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    found = re.search(r"peak worker memory ([\d.]+) GiB", proc.stderr)
    return {"seconds": seconds, "driver_cpu_s": cpu, "peak_rss_gib": after.ru_maxrss / 2**20,
            "worker_peak_gib": float(found.group(1)) if found else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=Path, default=get_settings().corpus_dir / "background" / "text_files_en")
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--runs", default=",".join(RUNS), help="Which runs, in order: " + ", ".join(RUNS))
    args = parser.parse_args()
    runs = [r for r in args.runs.split(",") if r]
    files = sorted(args.notes.glob("*.txt"))[: args.limit]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cores = os.cpu_count() or 1
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "notes"
        src.mkdir()
        for f in files:
            shutil.copyfile(f, src / f.name)
        batch = [sys.executable, "-m", "serving.cli", "batch", str(src), "--out"]
        cluster = LocalCluster(nodes=1, cpus=cores, env=env) if any(r.startswith("ray") for r in runs) else None
        with cluster or contextlib.nullcontext():
            for name in runs:
                out = str(Path(tmp) / f"{name}.jsonl")
                if name == "local1":
                    figures[name] = _run(["taskset", "-c", "0", *batch, out], {**env, "MEDCODE_THREADS": "1"})
                elif name == "local":
                    figures[name] = _run([*batch, out], env)
                else:
                    figures[name] = _run([*batch, out, "--ray", cluster.address,  # type: ignore[union-attr]
                                             "--workers", name[3:]], env)
                figures[name]["notes_per_second"] = len(files) / figures[name]["seconds"]
                figures[name]["output_bytes_per_note"] = Path(out).stat().st_size / len(files)
                figures[name]["driver_cpu_ms_per_note"] = 1000 * figures[name]["driver_cpu_s"] / len(files)
                print(name, json.dumps({k: round(v, 3) for k, v in figures[name].items()}), file=sys.stderr)
    report: dict[str, object] = {"notes": len(files), "cores": cores, "runs": {
        k: {m: round(v, 3) for m, v in f.items()} for k, f in figures.items()}}
    if "local1" in figures:
        report["cpu_seconds_per_note"] = round(figures["local1"]["driver_cpu_s"] / len(files), 4)
    for ray_run, local_run in (("ray1", "local1"), ("ray2", "local")):
        if ray_run in figures and local_run in figures:
            report[f"{ray_run}_vs_{local_run}"] = round(
                figures[ray_run]["notes_per_second"] / figures[local_run]["notes_per_second"], 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
