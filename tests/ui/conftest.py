"""A real medcode server (uvicorn in a subprocess, small test index, temp SQLite) and headless Chromium.

The browser is Debian's `chromium` driven by playwright-python (`executable_path`), so no browser
download is needed; the tests skip with a clear reason when it is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from medcode.settings import Settings

REPO = Path(__file__).resolve().parents[2]
ARTEFACTS = REPO / "test-artefacts" / "ui"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: An inpatient note: a character outside the BMP before every finding (offsets are code points),
#: negated and family mentions, and findings the small index codes.
INPATIENT_NOTE = (
    "Admission note. \U0001F600 Patient is a 67-year-old man.\n"
    "Chief complaint: chest pain and shortness of breath.\n"
    "History: essential hypertension, type 2 diabetes mellitus.\n"
    "Family history: mother had breast cancer.\n"
    "Review of systems: denies fever. No nausea.\n"
    "Assessment: acute on chronic systolic heart failure. NSTEMI.\n"
    "Plan: diuresis, cardiology consult.\n"
)
OUTPATIENT_NOTE = "Clinic visit. Urinary tract infection with dysuria. Known hypertension. Denies chest pain.\n"


#: The two kinds of encounter the tests store: (note, encounter metadata).
NOTES = {
    "inpatient": (INPATIENT_NOTE, {"setting": "inpatient", "date_of_service": "2026-03-02",
                                   "patient": {"age": 67, "sex": "male"}}),
    "outpatient": (OUTPATIENT_NOTE, {"setting": "outpatient", "date_of_service": "2026-03-05",
                                     "patient": {"age": 34, "sex": "female"}}),
}


@dataclass(frozen=True)
class Server:
    """A running `medcode serve`: its base URL, a coder key, and the API calls the tests seed it with."""

    url: str
    key: str
    env: dict[str, str] | None = None  # the environment `medcode` commands need to reach this server's store

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60)

    def note(self, kind: str) -> str:
        return NOTES[kind][0]

    def create_encounter(self, kind: str, external_id: str) -> dict:
        """Store a pending encounter through the API (negated and family codes flagged); its body."""
        text, meta = NOTES[kind]
        body = {"text": text, "negated": "flag", "top": 12, "encounter": {"id": external_id, **meta}}
        with self.client() as client:
            response = client.post("/v1/encounters", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def decide(self, encounter_id: str, **decision: object) -> dict:
        """Record a decision through the API (as a seeding coder); the encounter it returns."""
        with self.client() as client:
            response = client.post(f"/v1/encounters/{encounter_id}/decisions", json={"coder": "seed", **decision})
        assert response.status_code in (200, 201), response.text
        return response.json()

    def has_alternatives(self, system: str, code: str) -> bool:
        """Whether the Change dialog has something to offer: a billable child, or a billable sibling."""
        with self.client() as client:
            found = client.get(f"/v1/codes/{system}/{code}").json()
            if any(c["billable"] for c in found["children"]):
                return True
            parent = found["parents"][-1]["code"] if found["parents"] else None
            siblings = client.get(f"/v1/codes/{system}/{parent}").json()["children"] if parent else []
            return any(c["billable"] and c["code"] != found["code"] for c in siblings)

    def encounter(self, encounter_id: str) -> dict:
        """The encounter as the API holds it now."""
        with self.client() as client:
            response = client.get(f"/v1/encounters/{encounter_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def sign_in(self, page, coder: str = "Jo Coder") -> None:
        """Open /ui/ and enter the key and the coder's name."""
        page.goto(f"{self.url}/ui/")
        page.get_by_label("API key").fill(self.key)
        page.get_by_label("Your name").fill(coder)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Worklist").wait_for()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The installed `medcode` command beside this interpreter (the README's way of running it).
MEDCODE = [str(Path(sys.executable).with_name("medcode"))]


def medcode(env: dict[str, str], *args: str) -> str:
    """Run the `medcode` CLI and return what it printed."""
    done = subprocess.run([*MEDCODE, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, f"medcode {' '.join(args)} failed: {done.stderr[-2000:]}"
    return done.stdout


def wait_ready(url: str, process: subprocess.Popen, log: Path, deadline_s: float = 300) -> None:
    """Poll /readyz until the server answers 200; fail with its log when it dies, fails to load, or takes too long."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            return
        # A failed load stays 503 with the loader's error code in the detail ("E020: No index …").
        if response is not None and re.match(r"E\d{3}: ", response.json().get("detail", "")):
            raise RuntimeError(f"the server could not load: {response.json()['detail']}")
        time.sleep(0.3)
    raise RuntimeError(f"the server was not ready within {deadline_s} s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(small_index: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`medcode serve` on a free port over the small index and a fresh SQLite file, with a coder key."""
    tmp = tmp_path_factory.mktemp("ui-server")
    env = {**os.environ, "MEDCODE_DATA_DIR": str(settings.data_dir),
           "MEDCODE_DATABASE_URL": f"sqlite:///{tmp / 'ui.db'}",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    created = medcode(env, "keys", "create", "--role", "coder", "--name", "ui-test")
    key = re.search(r"\bmc_[A-Za-z0-9_\-]+", created)
    assert key, "`medcode keys create` printed no key"
    port = free_port()
    log = tmp / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen([*MEDCODE, "serve", "--host", "127.0.0.1",
                                    "--port", str(port)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        wait_ready(url, process, log)
        # A figure, not an assertion: how long `medcode serve` took to be ready on this machine.
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        ready = {"spawn_to_ready_s": round(time.monotonic() - started, 2), **httpx.get(f"{url}/readyz").json()}
        (ARTEFACTS / "server-ready.json").write_text(json.dumps(ready, indent=2))
        yield Server(url=url, key=key.group(0), env=env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Debian Chromium under playwright."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    # The machine running the suite may be busy; a decision is a POST plus validation and grouping.
    expect.set_options(timeout=15_000)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser, server: Server, request: pytest.FixtureRequest):
    """A fresh browser context (empty storage) per test; a screenshot of its last state is kept."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTEFACTS / f"{request.node.name}-final.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture()
def shot():
    """Save a full-page screenshot under test-artefacts/ui/NAME.png."""
    def save(page, name: str) -> None:
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
    return save


