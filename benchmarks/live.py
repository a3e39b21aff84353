"""A real `medcode serve` for the benchmarks: uvicorn in a subprocess over MEDCODE_DATA_DIR's index, a fresh
SQLite store, and API keys made for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """Start with `with Server(**env) as server:`; `server.keys[name]` are Authorization headers."""

    def __init__(self, roles: dict[str, str], **env: str) -> None:
        self.roles = roles
        self.folder = Path(tempfile.mkdtemp(prefix="medcode-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "MEDCODE_DATABASE_URL": f"sqlite:///{self.folder / 'store.db'}",
                    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO), **env}
        self.keys: dict[str, dict[str, str]] = {}
        self.proc: subprocess.Popen | None = None
        self.ready_s = 0.0

    def __enter__(self) -> Server:
        for name, role in self.roles.items():
            key = subprocess.run([sys.executable, "-m", "serving.cli", "keys", "create", "--role", role, "--name",
                                  name], cwd=REPO, env=self.env, capture_output=True, text=True, check=True).stdout
            self.keys[name] = {"Authorization": f"Bearer {key.strip()}"}
        started = time.perf_counter()
        log = (self.folder / "server.log").open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "serving.app:app_from_env",
                                      "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
                                     cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        while time.perf_counter() - started < 600:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {(self.folder / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    self.ready_s = time.perf_counter() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server not ready in 600 s")

    def __exit__(self, *_: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
