"""The one backend protocol: local, SSH and Slurm pass the same conformance tests.

``Backend`` declares every capability a caller may use, so no caller probes a backend with
``getattr``. Local and SSH both speak to the same host helper (``helper.py``); they differ
only in how its stdin/stdout are reached: a local pipe or one SSH channel. So ``HelperBackend``
holds every operation, and a transport subclass holds ``_open`` and how it copies files in.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BackendError
from .client import HelperClient
from .gpu import GpuReading, parse_nvidia_smi


@dataclass(slots=True)
class RunResult:
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass(slots=True)
class LaunchInfo:
    pid: int | None
    start_time: str
    log_path: str
    exit_path: str
    run_dir: str
    host: str
    job_id: str = ""
    """A scheduler's id (Slurm); empty where the backend runs the process itself."""
    training_pid: int | None = None
    """The training's own pid (``pid`` is its trial runner's, the process group leader)."""


@dataclass(slots=True)
class TrialRef:
    """What the helper needs to find a trial again: never more than the state file holds."""

    id: str
    run_dir: str
    pid: int | None = None
    start_time: str = ""
    offset: int = 0
    log: str = "train.log"
    job_id: str = ""
    training_pid: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run_dir": self.run_dir, "pid": self.pid, "start_time": self.start_time,
                "offset": self.offset, "log": self.log, "job_id": self.job_id, "training_pid": self.training_pid}


@dataclass(slots=True)
class TrialProbe:
    alive: bool
    exit_code: int | None = None
    ended: float | None = None
    data: str = ""
    offset: int = 0
    size: int = 0
    pid: int | None = None
    start_time: str = ""
    launched: bool = True
    error: str = ""
    training_pid: int | None = None
    training_signal: str = ""
    """The signal that ended the training itself, when its trial runner was not signalled (a user's kill)."""
    state: str = ""
    """A scheduler's word for the job (PENDING, RUNNING, COMPLETED, ...); empty for plain processes."""
    reason: str = ""
    """Why a job waits (Slurm's reason, e.g. Resources) or how it ended."""
    status: str = ""
    """A trial status the backend already knows (timeout, cancelled, launch_failed); the controller uses it."""
    started: float | None = None
    """When the job really began running (Slurm); None: at launch."""
    node: str = ""
    job_id: str = ""

    @property
    def pending(self) -> bool:
        return self.state == "PENDING"

    @property
    def finished(self) -> bool:
        return self.exit_code is not None or (not self.alive and self.launched)


@dataclass(slots=True)
class HostProbe:
    host: str
    reachable: bool
    trials: dict[str, TrialProbe] = field(default_factory=dict)
    gpus: list[GpuReading] | None = None
    gpu_error: str = ""
    error: str = ""
    rtt: float = 0.0


class Backend(ABC):
    """A place trials run. Every method is async and bounded by a timeout.

    Paths are relative to the workspace; a path that leaves it, or writes a protected file,
    is refused with ``BackendError``.
    """

    name: str = "backend"
    """How the ledger, events and messages name this host."""
    kind: str = "abstract"
    """``local``, ``ssh`` or ``slurm``."""
    schedules_gpus: bool = False
    """A scheduler (Slurm) picks node and GPUs: the controller places nothing itself."""
    seeds_code: bool = False
    """The workspace is on another machine: the controller copies the project's code there with ``put_file``."""
    python: str = "python3"
    """The interpreter on the host, for the commands the controller builds (the agents' shell)."""
    allowed_gpus: list[int] | None = None
    """GPU indices this project may use on the host (``hosts[].gpus``); None: all of them."""
    isolation: Any = None
    """Whether commands can be sandboxed there (``sandbox.Isolation``), probed once by ``sandbox.isolation``."""

    @property
    @abstractmethod
    def root(self) -> str:
        """The workspace root as the host sees it: the helper's answer once started, else the configured one."""

    @abstractmethod
    async def start(self) -> dict[str, Any]:
        """Connect; the helper's hello (python, hostname, root, writable, ...)."""

    @abstractmethod
    async def close(self) -> None:
        """Let go of the host; launched trials keep running."""

    @abstractmethod
    async def configure(self, protected: list[str]) -> None:
        """The controller's own files, which no write may touch (kept across reconnects)."""

    @abstractmethod
    async def run(self, argv: list[str], *, cwd: str = ".", timeout: float = 60.0,
                  env: dict[str, str] | None = None) -> RunResult: ...

    @abstractmethod
    async def launch(self, argv: list[str], *, run_dir: str, cwd: str = ".",
                     env: dict[str, str] | None = None) -> LaunchInfo: ...

    @abstractmethod
    async def probe(self, trials: list[TrialRef], *, gpu: bool = True, max_bytes: int = 65536) -> HostProbe:
        """Every trial's state and new log text, and the GPUs, in one round trip; never raises."""

    @abstractmethod
    async def kill(self, pid: int | None, start_time: str = "", signal: str = "SIGTERM", *,
                   job_id: str = "") -> bool:
        """Stop a trial: its process group if ``start_time`` still matches, or its job (``job_id``)."""

    @abstractmethod
    async def read_file(self, path: str, *, max_bytes: int = 200_000) -> str: ...

    @abstractmethod
    async def write_file(self, path: str, content: str) -> None: ...

    @abstractmethod
    async def list_files(self, path: str = ".", *, depth: int = 2) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def tail(self, path: str, *, max_bytes: int = 65536) -> str: ...

    @abstractmethod
    async def exists(self, path: str) -> bool: ...

    @abstractmethod
    async def put_file(self, local_path: str | Path, rel: str) -> None:
        """Copy a file of this machine to ``rel`` in the workspace (how remote workspaces get their code)."""

    @abstractmethod
    async def unpack_tree(self, path: str, archive: str) -> None:
        """Make ``path`` (a trial's tree) from the tar at ``archive`` (workspace-relative; removed after)."""

    @abstractmethod
    async def pack_tree(self, path: str) -> dict[str, Any]:
        """The files of ``path`` changed since its ``unpack_tree``: ``tar`` (base64) and ``deleted``."""

    @abstractmethod
    async def prune_tree(self, path: str, blobs: dict[str, str]) -> int:
        """Remove from ``path`` (a trial's tree) each file whose content is ``blobs``'s (git holds it), and
        the directories left empty; what the training wrote stays. The number of files removed."""

    @abstractmethod
    async def gpus(self) -> tuple[list[GpuReading] | None, str]:
        """The host's GPUs now, or None and why not."""

    @abstractmethod
    async def ping(self) -> float:
        """One round trip to the host, in seconds."""


class HelperBackend(Backend):
    """Every operation, over a host helper; subclasses open the transport and copy files in."""

    def __init__(self, name: str, workspace: str, *, op_timeout: float = 30.0) -> None:
        self.name = name
        self.workspace = workspace
        self.op_timeout = op_timeout
        self.protected: list[str] = []
        self._client: HelperClient | None = None
        self._lock = asyncio.Lock()
        self.info: dict[str, Any] = {}

    @property
    def root(self) -> str:
        return str(self.info.get("root") or self.workspace)

    @abstractmethod
    async def _open(self) -> HelperClient:
        """Start the helper and return a started client."""

    async def _close_transport(self) -> None:
        """Subclasses release what ``_open`` took."""

    async def start(self) -> dict[str, Any]:
        await self._ensure()
        return self.info

    async def _ensure(self) -> HelperClient:
        if self._client is not None and not self._client.closed:
            return self._client
        async with self._lock:
            if self._client is None or self._client.closed:
                if self._client is not None:
                    await self._client.close()
                    await self._close_transport()
                client = await self._open()
                self.info = await client.call("hello", timeout=self.op_timeout)
                if self.protected:
                    await client.call("configure", protected=self.protected, timeout=self.op_timeout)
                self._client = client
        return self._client

    async def call(self, op: str, *, timeout: float | None = None, **args: Any) -> dict[str, Any]:
        client = await self._ensure()
        return await client.call(op, timeout=timeout or self.op_timeout, **args)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        await self._close_transport()

    async def configure(self, protected: list[str]) -> None:
        self.protected = list(protected)
        if self._client is not None and not self._client.closed:
            await self._client.call("configure", protected=self.protected, timeout=self.op_timeout)

    async def run(self, argv, *, cwd=".", timeout=60.0, env=None) -> RunResult:
        r = await self.call("run", argv=list(argv), cwd=cwd, seconds=timeout, env=env or {},
                            timeout=timeout + self.op_timeout)
        return RunResult(exit_code=r["exit_code"], stdout=r["stdout"], stderr=r["stderr"],
                         timed_out=r["timed_out"], duration=r["duration"])

    async def launch(self, argv, *, run_dir, cwd=".", env=None) -> LaunchInfo:
        r = await self.call("launch", argv=list(argv), run_dir=run_dir, cwd=cwd, env=env or {})
        return LaunchInfo(pid=r["pid"], start_time=r["start_time"], log_path=r["log_path"],
                          training_pid=r.get("training_pid"),
                          exit_path=r["exit_path"], run_dir=r["run_dir"], host=self.name)

    async def probe(self, trials, *, gpu=True, max_bytes=65536) -> HostProbe:
        started = time.perf_counter()
        try:
            r = await self.call("probe", trials=[t.to_dict() for t in trials], gpu=gpu, max_bytes=max_bytes)
        except BackendError as exc:
            return HostProbe(host=self.name, reachable=False, error=str(exc))
        probe = HostProbe(host=self.name, reachable=True, rtt=time.perf_counter() - started)
        for tid, t in r["trials"].items():
            if "error" in t:
                probe.trials[tid] = TrialProbe(alive=True, error=t["error"], launched=True)
                continue
            ex = t.get("exit") or {}
            probe.trials[tid] = TrialProbe(
                alive=bool(t.get("alive")), exit_code=ex.get("exit_code"), ended=ex.get("ended"),
                data=t.get("data", ""), offset=t.get("offset", 0), size=t.get("size", 0),
                pid=t.get("pid"), start_time=t.get("start_time", ""), launched=t.get("launched", True),
                training_pid=t.get("training_pid"),
                training_signal=(ex.get("training_signal") or "") if not ex.get("signal") else "")
        g = r.get("gpu")
        if g is not None:
            probe.gpus = parse_nvidia_smi(g["csv"], g.get("apps") or "") if g.get("csv") is not None else None
            probe.gpu_error = g.get("error", "")
        return probe

    async def gpus(self) -> tuple[list[GpuReading] | None, str]:
        r = await self.call("gpus")
        return (parse_nvidia_smi(r["csv"], r.get("apps") or "") if r.get("csv") is not None else None), \
            r.get("error", "")

    async def kill(self, pid, start_time="", signal="SIGTERM", *, job_id="") -> bool:
        r = await self.call("kill", pid=pid, start_time=start_time, signal=signal)
        return bool(r.get("killed"))

    async def read_file(self, path, *, max_bytes=200_000) -> str:
        return (await self.call("read_file", path=path, max_bytes=max_bytes))["content"]

    async def write_file(self, path, content) -> None:
        await self.call("write_file", path=path, content=content)

    async def list_files(self, path=".", *, depth=2) -> list[dict[str, Any]]:
        return (await self.call("list_files", path=path, depth=depth))["entries"]

    async def tail(self, path, *, max_bytes=65536) -> str:
        return (await self.call("tail", path=path, max_bytes=max_bytes))["data"]

    async def exists(self, path: str) -> bool:
        return bool((await self.call("exists", path=path))["exists"])

    async def unpack_tree(self, path: str, archive: str) -> None:
        await self.call("unpack_tree", path=path, archive=archive, timeout=600.0)

    async def pack_tree(self, path: str) -> dict[str, Any]:
        return await self.call("pack_tree", path=path, timeout=600.0)

    async def prune_tree(self, path: str, blobs: dict[str, str]) -> int:
        return int((await self.call("prune_tree", path=path, blobs=blobs, timeout=600.0))["removed"])

    async def ping(self) -> float:
        started = time.perf_counter()
        await self.call("ping")
        return time.perf_counter() - started
