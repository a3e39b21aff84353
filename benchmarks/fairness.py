"""Fairness of the engines: one key sends 196k-character notes, another short ones; the short notes' latency.

    python -m benchmarks.fairness [--seconds 90] [--long-clients 4] [--short-clients 2] [--baseline]

Two engine processes (MEDCODE_SERVING__ENGINES=2). `--baseline` runs the same load first with the long-note
lane and the per-key limit turned off (long_note_chars above the note, key_notes_in_flight 0), to show what
they change. Prints the short notes' p50 / p95 / max, how many long notes were coded, and how many of the
long key's requests were refused (429) by its notes-in-flight limit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import httpx

from benchmarks.live import REPO, Server

DEV = REPO / "corpora" / "codiesp" / "dev" / "text_files_en"
LONG_CHARS = 196_000


def long_note() -> str:
    """CodiEsp dev notes joined up to 196,000 characters (a valid note, under the 200,000 limit)."""
    parts, size = [], 0
    for path in sorted(DEV.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        parts.append(text)
        size += len(text) + 1
        if size >= LONG_CHARS:
            break
    return "\n".join(parts)[:LONG_CHARS]


def short_notes() -> list[str]:
    """The first sentence-sized pieces of dev notes: 100-300 characters each."""
    notes = []
    for path in sorted(DEV.glob("*.txt"))[:40]:
        text = path.read_text(encoding="utf-8").strip()
        notes.append(text[:300])
    return notes


def run(seconds: float, long_clients: int, short_clients: int, env: dict[str, str]) -> dict:
    big = long_note()
    small = short_notes()
    with Server({"bulk": "service", "clinic": "coder"}, MEDCODE_SERVING__ENGINES="2",
                MEDCODE_SERVING__RATE_LIMIT="0", **env) as server:
        stop = time.monotonic() + seconds
        latencies: list[float] = []
        counts = {"long_done": 0, "long_429": 0, "long_other": 0, "short_errors": 0}
        lock = threading.Lock()

        def bulk() -> None:
            with httpx.Client(base_url=server.url, headers=server.keys["bulk"], timeout=600) as client:
                while time.monotonic() < stop:
                    r = client.post("/v1/suggest", json={"text": big, "top": 5})
                    with lock:
                        key = {200: "long_done", 429: "long_429"}.get(r.status_code, "long_other")
                        counts[key] += 1
                    if r.status_code == 429:
                        time.sleep(float(r.headers.get("retry-after", "1")))

        def clinic(offset: int) -> None:
            with httpx.Client(base_url=server.url, headers=server.keys["clinic"], timeout=600) as client:
                i = offset
                time.sleep(3.0)  # the long notes take the engines first
                while time.monotonic() < stop:
                    started = time.perf_counter()
                    r = client.post("/v1/suggest", json={"text": small[i % len(small)]})
                    with lock:
                        if r.status_code == 200:
                            latencies.append(time.perf_counter() - started)
                        else:
                            counts["short_errors"] += 1
                    i += short_clients
                    time.sleep(0.2)

        threads = [threading.Thread(target=bulk) for _ in range(long_clients)]
        threads += [threading.Thread(target=clinic, args=(i,)) for i in range(short_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    return {"short_requests": len(latencies), "short_p50_s": round(q[49], 3), "short_p95_s": round(q[94], 3),
            "short_max_s": round(latencies[-1], 3) if latencies else None, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--long-clients", type=int, default=4)
    parser.add_argument("--short-clients", type=int, default=2)
    parser.add_argument("--baseline", action="store_true", help="first run without the lane and the key limit")
    args = parser.parse_args()
    print(f"long note: {len(long_note()):,} characters; {args.long_clients} clients of one key send it, "
          f"{args.short_clients} clients of another send short notes, {args.seconds:.0f} s, 2 engines", flush=True)
    if args.baseline:
        off = {"MEDCODE_SERVING__LONG_NOTE_CHARS": "1000000", "MEDCODE_SERVING__KEY_NOTES_IN_FLIGHT": "0"}
        print("without lane and key limit:", json.dumps(run(args.seconds, args.long_clients, args.short_clients, off)),
              flush=True)
    print("with lane and key limit:   ", json.dumps(run(args.seconds, args.long_clients, args.short_clients, {})),
          flush=True)


if __name__ == "__main__":
    main()
