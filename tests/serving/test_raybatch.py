"""`medcode batch --ray` and the jobs API on a real two-node Ray cluster on loopback.

Two `ray start` processes on this machine (a head and a second node, one CPU each) stand in for two
machines; each test's driver is a real `medcode batch` process. The cluster is started once for the
module and torn down at its end, by the ids of the processes it started.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray", reason="the ray extra is not installed")

from serving.cluster import LocalCluster  # noqa: E402 - after the skip

REPO = Path(__file__).resolve().parents[2]
DEV = REPO / "corpora" / "codiesp" / "dev" / "text_files_en"


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MEDCODE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), **extra}


@dataclass
class Cluster:
    nodes: LocalCluster
    data_dir: Path

    @property
    def address(self) -> str:
        return self.nodes.address


@pytest.fixture(scope="module")
def cluster(small_index: Path, data_dir: Path) -> Iterator[Cluster]:
    """A head and a second node on 127.0.0.1, one CPU each, both coding with the session's small index."""
    with LocalCluster(nodes=2, cpus=1, env=_env(data_dir)) as nodes:
        yield Cluster(nodes, data_dir)


def _wait_for(check, timeout: float, what: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting on {what}")


def _notes(n: int) -> list[tuple[str, str]]:
    files = sorted(DEV.glob("*.txt"))[:n]
    return [(f.stem, f.read_text(encoding="utf-8")) for f in files]


def _jsonl(path: Path, notes: list[tuple[str, str]], extra: list[str] = ()) -> Path:
    lines = [json.dumps({"id": rid, "text": text}) for rid, text in notes]
    path.write_text("\n".join([*lines, *extra]) + "\n", encoding="utf-8")
    return path


def _batch(cluster: Cluster, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "serving.cli", "batch", *args, "--ray", cluster.address],
                            cwd=REPO, env=_env(cluster.data_dir, **env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    _, stderr = proc.communicate(timeout=timeout)
    return proc.returncode, stderr


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def _lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_a_batch_over_both_nodes_reports_and_skips_bad_notes(cluster, tmp_path):
    notes = _notes(8)
    src = _jsonl(tmp_path / "in.jsonl", [*notes, ("empty", "  ")], ["{broken", json.dumps({"text": "no id"})])
    out = tmp_path / "out.jsonl"
    code, stderr = _finish(_batch(cluster, str(src), "--out", str(out), "--top", "5", "--batch-size", "2"))
    assert code == 0, stderr[-3000:]
    assert sorted(_ids(out)) == sorted(rid for rid, _ in notes)
    first = json.loads(out.read_text().splitlines()[0])
    assert 0 < len(first["suggestions"]) <= 5 and {"code", "evidence", "why"} <= set(first["suggestions"][0])
    errors = {json.loads(line)["id"]: json.loads(line)["error"]["code"]
              for line in (tmp_path / "out.errors.jsonl").read_text().splitlines()}
    assert errors == {"empty": "E001", "line 10": "E040", "line 11": "E040"}
    assert "skipped empty: error E001" in stderr
    assert "8 notes coded, 3 failed" in stderr and "2 workers, 2 nodes" in stderr


def test_a_worker_killed_mid_run_loses_and_doubles_no_note(cluster, tmp_path):
    notes = _notes(40)
    src = _jsonl(tmp_path / "in.jsonl", notes)
    out = tmp_path / "out.jsonl"
    proc = _batch(cluster, str(src), "--out", str(out), "--batch-size", "1")
    _wait_for(lambda: _lines_in(out) >= 2 or proc.poll() is not None, 240, out)
    workers = cluster.nodes.processes("MapWorker")
    assert workers and proc.poll() is None, "the batch ended before a worker could be killed"
    os.kill(workers[0], signal.SIGKILL)
    code, stderr = _finish(proc)
    assert code == 0, stderr[-3000:]
    assert sorted(_ids(out)) == sorted(rid for rid, _ in notes)


def test_a_resume_after_the_driver_is_killed_codes_each_note_once(cluster, tmp_path):
    notes = _notes(30)
    src = tmp_path / "notes"
    src.mkdir()
    for rid, text in notes:
        (src / f"{rid}.txt").write_text(text, encoding="utf-8")
    (src / "blank.txt").write_text("", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = _batch(cluster, str(src), "--out", str(out), "--batch-size", "1")
    _wait_for(lambda: _lines_in(out) >= 3 or proc.poll() is not None, 240, out)
    proc.kill()
    proc.wait()
    first = _ids(out) if out.read_bytes().endswith(b"\n") else _ids(out)[:-1]
    assert 0 < len(first) < len(notes), "the driver finished before it could be killed"
    code, stderr = _finish(_batch(cluster, str(src), "--out", str(out), "--resume", "--workers", "1"))
    assert code == 0, stderr[-3000:]
    assert sorted(_ids(out)) == sorted(rid for rid, _ in notes)
    # The blank note is reported once, by whichever run read it first (the driver checks notes as it reads them).
    assert _ids(tmp_path / "out.errors.jsonl") == ["blank"]


def test_parquet_in_and_out(cluster, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    notes = _notes(4)
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [r for r, _ in notes] + ["blank", "none"],
                             "text": [t for _, t in notes] + ["  ", None]}), src)
    out = tmp_path / "out.parquet"
    code, stderr = _finish(_batch(cluster, str(src), "--out", str(out), "--top", "3"))
    assert code == 0, stderr[-3000:]
    table = pq.read_table(out)
    assert sorted(table.column("id").to_pylist()) == sorted(r for r, _ in notes)
    assert all(len(json.loads(line)["suggestions"]) <= 3 for line in table.column("result").to_pylist())
    errors = {json.loads(line)["id"]: json.loads(line)["error"]["code"]
              for line in (tmp_path / "out.parquet.errors.jsonl").read_text().splitlines()}
    assert errors == {"blank": "E001", "none": "E040"}


def test_a_worker_with_another_index_build_refuses_to_start(cluster, tmp_path):
    """The driver's index (here: a copy of the manifest, built at another time) differs from the workers'."""
    other = tmp_path / "other" / "index"
    other.mkdir(parents=True)
    manifest = json.loads((cluster.data_dir / "index" / "manifest.json").read_text())
    (other / "manifest.json").write_text(json.dumps({**manifest, "built": "2020-01-01T00:00:00+00:00"}))
    src = _jsonl(tmp_path / "in.jsonl", _notes(2))
    proc = subprocess.Popen([sys.executable, "-m", "serving.cli", "batch", str(src), "--out", str(tmp_path / "o.jsonl"),
                             "--ray", cluster.address], cwd=REPO,
                            env=_env(other.parent), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code, stderr = _finish(proc)
    assert code == 2, stderr[-3000:]
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("error E023:") and "2020-01-01" in line, stderr[-3000:]


def test_without_ray_the_batch_never_imports_it(small_index, data_dir, tmp_path):
    src = _jsonl(tmp_path / "in.jsonl", _notes(1))
    probe = ("import sys; from serving import cli; "
             "sys.argv = ['medcode', 'batch', %r, '--out', %r]; "
             "import atexit; atexit.register(lambda: print('RAY' if 'ray' in sys.modules else 'NO RAY')); cli.app()"
             % (str(src), str(tmp_path / "o.jsonl")))
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=_env(data_dir), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "NO RAY" and "1 notes coded" in proc.stderr


def test_jobs_api_codes_on_the_cluster_and_survives_a_restart(cluster, tmp_path):
    import httpx

    from serving.store import Store
    from tests.serving.conftest import LiveServer, fresh_database, make_keys

    url = fresh_database("sqlite", tmp_path)
    store = Store(url)
    keys = make_keys(store)["service"]
    store.close()
    server = LiveServer(cluster.data_dir, url, tmp_path / "server.log", MEDCODE_RAY_ADDRESS=cluster.address,
                        MEDCODE_SERVING__ENGINES="1", MEDCODE_SERVING__JOB_CHUNK="1", MEDCODE_SERVING__RATE_LIMIT="0",
                        PYTHONPATH=_env(cluster.data_dir)["PYTHONPATH"])
    notes = [{"id": rid, "text": text} for rid, text in _notes(12)] + [{"id": "blank", "text": " "}]
    server.start()
    try:
        # Ready only once its NoteCoder actors, one per CPU of the cluster, have loaded their Coder.
        assert httpx.get(server.url + "/readyz").json()["timings"]["ray_workers"] == 2
        with httpx.Client(base_url=server.url, headers=keys, timeout=300) as client:
            job = client.post("/v1/jobs", json={"notes": notes, "top": 5}).json()
            deadline = time.time() + 240
            while client.get(f"/v1/jobs/{job['id']}").json()["done"] < 2:
                assert time.time() < deadline
                time.sleep(0.1)
        server.stop(kill=True)
        server.start()
        with httpx.Client(base_url=server.url, headers=keys, timeout=300) as client:
            deadline = time.time() + 300
            while (state := client.get(f"/v1/jobs/{job['id']}").json())["status"] != "done":
                assert time.time() < deadline, state
                time.sleep(0.3)
            assert (state["total"], state["done"], state["failed"]) == (13, 12, 1)
            results = client.get(f"/v1/jobs/{job['id']}/results").json()["results"]
        assert [r["id"] for r in results] == [n["id"] for n in notes]
        assert all(0 < len(r["suggestions"]) <= 5 for r in results if r["id"] != "blank")
    finally:
        server.stop()
