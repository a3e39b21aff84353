"""Fixtures of the API tests: the app over each store (SQLite always, PostgreSQL when
`MEDCODE_TEST_DATABASE_URL` names a server), keys of each role, and a real uvicorn server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from medcode.settings import Settings
from serving.app import create_app
from serving.security import create_key
from serving.store import Store

REPO = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("MEDCODE_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="MEDCODE_TEST_DATABASE_URL not set (.ci/run starts a PostgreSQL)"))]


def fresh_database(backend: str, tmp: Path) -> str:
    """A URL of an empty database of `backend`."""
    if backend == "sqlite":
        return f"sqlite:///{tmp / f'medcode-{uuid.uuid4().hex[:8]}.db'}"
    import psycopg

    name = f"medcode_test_{uuid.uuid4().hex[:10]}"
    admin = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def make_keys(store: Store) -> dict[str, dict[str, str]]:
    """Authorization headers of one key per role."""
    headers = {}
    with store.session() as session:
        for role in ("coder", "admin", "service"):
            _, key = create_key(session, name=f"{role}-{uuid.uuid4().hex[:6]}", role=role)
            headers[role] = {"Authorization": f"Bearer {key}"}
    return headers


@dataclass
class Api:
    client: TestClient
    keys: dict[str, dict[str, str]]
    store: Store
    backend: str

    def as_(self, role: str) -> dict[str, str]:
        return self.keys[role]


@pytest.fixture(scope="module", params=BACKENDS)
def api(request: pytest.FixtureRequest, coder, settings: Settings, tmp_path_factory) -> Iterator[Api]:
    """The app in process (TestClient), over a fresh store of each backend, with the session's coder."""
    url = fresh_database(request.param, tmp_path_factory.mktemp("store"))
    mine = settings.model_copy(update={"database_url": url})
    store = Store(url)
    keys = make_keys(store)
    app = create_app(mine, coder=coder, store=store, wait=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        yield Api(client, keys, store, request.param)
    store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`uvicorn serving.app:app_from_env` in a subprocess, over the small index and its own store."""

    def __init__(self, data_dir: Path, database_url: str, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "MEDCODE_DATA_DIR": str(data_dir), "MEDCODE_DATABASE_URL": database_url,
                    "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env}
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 240.0) -> float:
        """Start and wait for /readyz; the seconds it took."""
        started = time.perf_counter()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "serving.app:app_from_env", "--host", "127.0.0.1",
                 "--port", str(self.port)], cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server not ready in time")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.proc = None


@pytest.fixture(scope="session")
def live(small_index: Path, data_dir: Path, tmp_path_factory) -> Iterator[tuple[LiveServer, dict]]:
    """One real server for the HTTP tests, with keys of each role."""
    tmp = tmp_path_factory.mktemp("live")
    url = fresh_database("sqlite", tmp)
    store = Store(url)
    keys = make_keys(store)
    store.close()
    # A load test's one key may hold 50 notes at once: the per-key limit is tested on its own (test_bad_input).
    server = LiveServer(data_dir, url, tmp / "server.log", MEDCODE_SERVING__RATE_LIMIT="0",
                        MEDCODE_SERVING__KEY_NOTES_IN_FLIGHT="64")
    server.start()
    yield server, keys
    server.stop()
