"""Speed and memory benchmark: `medcode batch` over CodiEsp dev against a bare-encoder baseline.

Prints notes/s with start-up included, peak memory of the batch process, and the ratio to the time
one process takes to load the base encoder and encode every sentence of the same notes once.

    python -m benchmarks.batch [--notes DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from medcode.settings import get_settings

BASELINE = r"""
import sys, time
t = time.perf_counter()
from pathlib import Path
from codesets.encoder import Encoder, base_encoder_path
enc = Encoder(base_encoder_path(), batch_size=64)
files = sorted(Path(sys.argv[1]).glob("*.txt"))[: int(sys.argv[2])]
sentences = [s for f in files for s in f.read_text(encoding="utf-8").splitlines() if s.strip()]
enc.encode(sentences)
print(time.perf_counter() - t, len(sentences))
"""


def _run(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) of the child, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, max(peak, before), proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=Path, default=get_settings().corpus_dir / "dev" / "text_files_en")
    parser.add_argument("--limit", type=int, default=250)
    args = parser.parse_args()
    files = sorted(args.notes.glob("*.txt"))[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "notes"
        src.mkdir()
        for f in files:
            (src / f.name).write_bytes(f.read_bytes())
        base_s, _, out = _run([sys.executable, "-c", BASELINE, str(src), str(len(files))])
        sentences = int(out.split()[1])
        batch_s, peak_kib, _ = _run([sys.executable, "-m", "serving.cli", "batch", str(src), "--out",
                                     str(Path(tmp) / "out.jsonl")])
    words = sum(len(f.read_text(encoding="utf-8").split()) for f in files)
    print(json.dumps({
        "notes": len(files), "mean_words": round(words / len(files)), "sentences": sentences,
        "batch_seconds": round(batch_s, 1), "notes_per_second": round(len(files) / batch_s, 2),
        "baseline_seconds": round(base_s, 1), "ratio_to_baseline": round(batch_s / base_s, 2),
        "peak_memory_gib": round(peak_kib / 2**20, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
