"""Load benchmark of the HTTP API: `POST /v1/suggest` on ~260-word notes from 4 concurrent clients.

Starts the service (`uvicorn serving.app:app_from_env`) over the built index and a throwaway SQLite
store, measures start-up to ready, then prints latency percentiles and errors over N requests.
`--url URL --key KEY` measures a server that is already running instead.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from medcode.settings import get_settings

REPO = Path(__file__).resolve().parent.parent


def bench_notes(words: int = 260, count: int = 50) -> tuple[list[str], str]:
    """The `count` CodiEsp dev notes closest to `words` words (real clinical text, sent in turn, so no
    request repeats the one before it), else the bundled example."""
    from codesets.usage import read_codiesp

    dev = get_settings().corpus_dir / "dev"
    if dev.exists():
        notes = sorted(read_codiesp(dev, split="dev"), key=lambda n: (abs(len(n.text.split()) - words), n.id))[:count]
        return [n.text for n in notes], f"{len(notes)} CodiEsp dev notes closest to {words} words"
    return [(REPO / "examples" / "note.txt").read_text(encoding="utf-8")], "examples/note.txt"


def start_server(port: int, store: Path) -> tuple[subprocess.Popen, str, float]:
    """A server over the built index and a fresh store; its admin key and seconds to ready."""
    url = f"sqlite:///{store / 'bench.db'}"
    env = {**os.environ, "MEDCODE_DATABASE_URL": url, "MEDCODE_SERVING__RATE_LIMIT": "0"}
    key = subprocess.run([sys.executable, "-m", "serving.cli", "keys", "create", "--role", "service", "--name",
                          "bench"], env=env, cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "serving.cli", "serve", "--port", str(port)], env=env, cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=(store / "server.log").open("wb"))
    base = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited; see {store / 'server.log'}")
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, key, time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


def run(base: str, key: str, notes: list[str], *, requests: int, clients: int) -> dict[str, float]:
    """Send `requests` suggest calls from `clients` threads; latency percentiles in ms and the error count.

    Each client is a kept-alive `http.client` connection: the clients share the 2 cores with the
    service, and httpx spends ~1.4 ms of CPU a call where `http.client` spends a fraction of it."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests))
    bodies = [json.dumps({"text": note}).encode() for note in notes]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    where = urlsplit(base)
    path = where.path.rstrip("/") + "/v1/suggest"

    def client() -> None:
        nonlocal errors
        conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port or 80, timeout=60)
        try:
            while True:
                with lock:
                    n = next(counter, None)
                    if n is None:
                        return
                body = bodies[n % len(bodies)]
                t = time.perf_counter()
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    ok = response.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()  # reconnects on the next request
                elapsed = (time.perf_counter() - t) * 1000
                with lock:
                    latencies.append(elapsed)
                    errors += not ok
        finally:
            conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "errors": errors, "p50_ms": round(cuts[49], 1),
            "p95_ms": round(cuts[94], 1), "p99_ms": round(cuts[98], 1), "mean_ms": round(statistics.mean(latencies), 1),
            "seconds": round(seconds, 1), "requests_per_s": round(len(latencies) / seconds, 2)}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--port", type=int, default=0, help="Port for the started server (0: a free one).")
    parser.add_argument("--url", help="Measure this running server instead of starting one.")
    parser.add_argument("--key", help="API key for --url.")
    args = parser.parse_args()
    notes, source = bench_notes()
    report: dict[str, object] = {"notes": source, "mean_words": round(statistics.mean(len(n.split()) for n in notes)),
                                 "clients": args.clients}
    proc = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.url:
            base, key = args.url.rstrip("/"), args.key or ""
        else:
            args.port = args.port or _free_port()
            proc, key, ready = start_server(args.port, Path(tmp))
            base = f"http://127.0.0.1:{args.port}"
            report["startup_to_ready_s"] = round(ready, 1)
            report["server_timings"] = httpx.get(base + "/readyz").json().get("timings")
        try:
            run(base, key, notes, requests=min(20, args.requests), clients=1)  # warm-up, not counted
            report |= run(base, key, notes, requests=args.requests, clients=args.clients)
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=60)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
