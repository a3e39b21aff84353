"""The Ray cluster: connecting to it, and the actor that holds one Coder on a node and codes notes there.

Every node codes with its own copy of the index (the Docker image's, or a shared `MEDCODE_DATA_DIR`).
Before any Coder loads, the driver asks every node for its index build stamp and refuses (E023) when one
differs from its own; each actor checks again as it starts (a node that joined later), rather than code
with another index. Ray is imported only here and in `serving.raybatch`, and only when a cluster is asked for.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medcode.errors import ErrorCode, MedcodeError
from medcode.settings import Settings, get_settings
from medcode.types import Suggestion


def ray_module() -> Any:
    """`import ray`, or the error that names the extra to install."""
    try:
        import ray
    except ImportError:
        raise MedcodeError(ErrorCode.CLUSTER, detail="Ray is not installed; pip install 'medcode[ray]'") from None
    return ray


def connect(address: str) -> Any:
    """Join the cluster at `address` (`auto`, or the head's host:port) as its driver; `ray` back."""
    ray = ray_module()
    if not ray.is_initialized():
        try:
            # The driver ships no code: every node runs the same installed medcode (image or shared venv).
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise MedcodeError(ErrorCode.CLUSTER, detail=f"cannot join {address!r}: {error}") from None
    return ray


def pool_size(ray: Any, cap: int = 0) -> int:
    """One actor per CPU of the cluster, at most `cap` when it is set."""
    cpus = int(ray.cluster_resources().get("CPU", 1)) or 1
    return max(1, min(cpus, cap) if cap else cpus)


def driver_stamp(settings: Settings | None = None) -> str:
    """The build stamp of the index this process would code with."""
    from codesets.index import build_stamp

    return build_stamp((settings or get_settings()).data_dir / "index")


def node_stamp() -> str:
    """The build stamp of the index on the node this runs on (a Ray task's body), or the error that stops it."""
    try:
        return driver_stamp()
    except MedcodeError as error:
        return f"none ({error.code.value}: {error})"


def check_nodes(ray: Any, stamp: str) -> None:
    """Refuse (E023) when any node's index build differs from the driver's `stamp`, before a Coder loads."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU")]
    task = ray.remote(num_cpus=0)(node_stamp)
    found = ray.get([task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote()
                     for node in nodes])
    for node, theirs in zip(nodes, found, strict=True):
        if theirs != stamp:
            raise MedcodeError(ErrorCode.INDEX_MISMATCH, node=node[:12], worker=theirs, driver=stamp,
                               path="MEDCODE_DATA_DIR/index")


def peak_rss_mib() -> float:
    """Peak resident memory of this process, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class NoteCoder:
    """One Coder on one node, loaded once: Ray Data's callable class over batches of `{id, text}`, and the
    jobs API's remote actor (`suggest_many`).

    Each batch comes back as `{id, ok, line, node, rss_mib}`: `line` is the JSON the local batch writes for
    that note (its result, or its error when `ok` is false), so both paths write the same lines.
    """

    def __init__(self, *, driver_stamp: str, top: int | None = None, negated: str | None = None,
                 threads: int = 1) -> None:
        import ray

        from codesets.index import build_stamp
        from nlp.coder import Coder
        from serving.startup import settle_gc

        settings = get_settings().model_copy(update={"threads": threads})
        self.node = ray.get_runtime_context().get_node_id()
        mine = build_stamp(settings.data_dir / "index")
        if mine != driver_stamp:
            raise MedcodeError(ErrorCode.INDEX_MISMATCH, node=self.node[:12], worker=mine, driver=driver_stamp,
                               path=settings.data_dir / "index")
        self.coder = Coder.load(settings)
        settle_gc()
        self.limit = settings.max_note_chars
        self.top, self.negated = top, negated

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        import json

        from nlp.note import check_note
        from serving.batch import code_notes, error_record
        from serving.proposals import CodingContext, context_from

        out: dict[str, list[Any]] = {"id": [], "ok": [], "line": []}
        good: list[tuple[str, str, CodingContext]] = []
        encounters = batch.get("encounter")
        for n, (rid, text) in enumerate(zip(batch["id"], batch["text"], strict=True)):
            rid = str(rid)
            try:
                if not isinstance(text, str):
                    raise MedcodeError(ErrorCode.BAD_INPUT, detail=f"{rid}: needs a \"text\" string")
                raw = encounters[n] if encounters is not None else None
                # A column of nulls reaches a numpy batch as NaN: only a string is an encounter.
                context = context_from(json.loads(raw) if isinstance(raw, str) and raw else None, f"{rid}: encounter")
                good.append((rid, check_note(text, limit=self.limit), context))
            except MedcodeError as error:
                out["id"].append(rid)
                out["ok"].append(False)
                out["line"].append(json.dumps(error_record(rid, error)))
        if good:
            for record in code_notes(self.coder, good, top=self.top, negated=self.negated):
                out["id"].append(record["id"])
                out["ok"].append("error" not in record)
                out["line"].append(json.dumps(record, ensure_ascii=False))
        n = len(out["id"])
        out["node"] = [self.node] * n
        out["rss_mib"] = [peak_rss_mib()] * n
        return out

    def suggest_many(self, texts: Sequence[str], **options: Any) -> list[list[Suggestion]]:
        return self.coder.suggest_many(texts, **options)

    def ready(self) -> str:
        return self.node


class RayRunner:
    """A `serving.runner.Runner` over actors on the cluster: a chunk of notes is split among them.

    The job worker codes through it when `MEDCODE_RAY_ADDRESS` is set; what it codes is saved in the
    service's store as before, so state, results and resuming after a restart do not change.
    """

    def __init__(self, settings: Settings) -> None:
        ray = connect(settings.ray_address)
        self.size = pool_size(ray, settings.ray_workers)
        remote = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)(NoteCoder)
        stamp = driver_stamp(settings)
        check_nodes(ray, stamp)
        self.actors = [remote.remote(driver_stamp=stamp) for _ in range(self.size)]
        self._ray = ray
        try:
            ray.get([a.ready.remote() for a in self.actors])
        except ray.exceptions.RayActorError as error:
            raise unwrap_error(error) from None

    def suggest_many(self, texts: Sequence[str], *, top: int | None = None, systems: Sequence[str] | None = None,
                     negated: str | None = None, timeout: float | None = 300.0) -> list[list[Suggestion]]:
        """Suggestions for each note, its share coded by each actor side by side."""
        texts = list(texts)
        step = -(-len(texts) // self.size) or 1
        parts = [texts[i : i + step] for i in range(0, len(texts), step)]
        refs = [actor.suggest_many.remote(part, top=top, systems=systems, negated=negated)
                for actor, part in zip(self.actors, parts, strict=False)]
        try:
            return [s for found in self._ray.get(refs, timeout=timeout) for s in found]
        except self._ray.exceptions.RayError as error:
            raise unwrap_error(error) from None

    def suggest(self, text: str, **options: Any) -> list[Suggestion]:
        return self.suggest_many([text], **options)[0]

    def close(self) -> None:
        for actor in self.actors:
            self._ray.kill(actor)
        self._ray.shutdown()


def unwrap_error(error: BaseException) -> BaseException:
    """The MedcodeError behind a Ray failure (an actor's E023 …), when one is; else the failure itself."""
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            break
        cause = getattr(seen, "cause", None)
        for found in (seen, cause):
            if isinstance(found, MedcodeError):  # Ray's wrapper classes subclass it: hand back a plain one
                return MedcodeError(found.code, **found.params)
        seen = getattr(seen, "cause", None) or seen.__cause__ or seen.__context__
    return error


class LocalCluster:
    """A Ray cluster of `nodes` processes on this machine, on loopback: the tests, the benchmark, a first try.

    Each node is a `ray start --block` process in its own session; leaving the `with` block stops them by
    the ids of the processes it started (SIGTERM, which `ray start --block` passes on to what it started).
    """

    def __init__(self, *, nodes: int = 1, cpus: int = 1, env: dict[str, str] | None = None,
                 object_store_mib: int = 1024, timeout: float = 120.0) -> None:
        import tempfile

        # Ray's sockets live under its temp dir, and a Unix socket path may not pass 107 bytes: keep it short.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="medcode-ray-", dir="/tmp"))
        self.count, self.cpus, self.timeout, self.object_store_mib = nodes, cpus, timeout, object_store_mib
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})}
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[subprocess.Popen[bytes]] = []
        self.log = self.temp_dir / "nodes.log"

    def __enter__(self) -> LocalCluster:
        ray_bin = str(Path(sys.executable).with_name("ray"))
        common = [f"--num-cpus={self.cpus}", "--block", "--disable-usage-stats", "--node-ip-address=127.0.0.1",
                  f"--object-store-memory={self.object_store_mib * 2**20}"]
        try:
            with self.log.open("ab") as log:
                for n in range(self.count):
                    where = (["--head", f"--port={self.port}", "--include-dashboard=false",
                              f"--temp-dir={self.temp_dir}"] if n == 0 else [f"--address={self.address}"])
                    self.nodes.append(subprocess.Popen([ray_bin, "start", *where, *common], env=self.env, stdout=log,
                                                       stderr=subprocess.STDOUT, start_new_session=True))
                    self._wait_for(n + 1)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *_: object) -> None:
        for node in reversed(self.nodes):
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGTERM)
        for node in self.nodes:
            try:
                node.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()
        self.nodes.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def processes(self, kind: str) -> list[int]:
        """Pids of the processes under this cluster's nodes whose command line names `kind` (an actor's class:
        `MapWorker` for Ray Data's, `NoteCoder` for the jobs API's)."""
        import psutil

        found = []
        for node in self.nodes:
            for child in psutil.Process(node.pid).children(recursive=True):
                try:
                    if kind in " ".join(child.cmdline()):
                        found.append(child.pid)
                except psutil.Error:
                    continue  # gone meanwhile
        return found

    def _wait_for(self, alive: int) -> None:
        probe = ("import ray; ray.init(address=%r, log_to_driver=False); "
                 "print(sum(n['Alive'] for n in ray.nodes()))" % self.address)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if any(node.poll() is not None for node in self.nodes):
                break
            proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=self.env,
                                  timeout=self.timeout)
            if proc.returncode == 0 and proc.stdout.strip() and int(proc.stdout.split()[-1]) >= alive:
                return
            time.sleep(1.0)
        raise MedcodeError(ErrorCode.CLUSTER, detail=f"the local cluster did not start; see {self.log}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
