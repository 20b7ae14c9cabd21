"""state.json (atomic) and the one-controller-per-project lock.

The state holds a *set* of running trials keyed by id, each with its placement, so a restart
re-attaches every one of them, however many run at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import LockHeldError
from .events import Phase
from .fsutil import write_json_atomic


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    usd: float = 0.0
    day: str = ""
    usd_today: float = 0.0
    tokens_today: int = 0
    by_cycle: dict[str, dict] = field(default_factory=dict)
    """The last ``CYCLES_KEPT`` cycles' tokens and dollars, keyed by cycle number."""


CYCLES_KEPT = 50


@dataclass
class State:
    phase: str = Phase.IDLE
    cycle: int = 0
    """Cycles started (one per planned trial or planning failure)."""
    next_trial: int = 1
    running: dict[str, dict] = field(default_factory=dict)
    """Trial id -> placement (host, gpus or job id, pid, start time, log path and offset, ...).

    A trial enters before its launch is attempted and leaves once its result is recorded, so a
    controller killed at any instant finds every trial it may have started.
    """
    paused: bool = False
    pivot: str = ""
    best_trial: str = ""
    best_metric: float | None = None
    last_decision: str = ""
    no_progress: int = 0
    usage: Usage = field(default_factory=Usage)
    controller_pid: int | None = None
    updated: float = 0.0

    @classmethod
    def load(cls, path: Path) -> "State":
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return cls()
        names = {f.name for f in fields(cls)}
        state = cls(**{k: v for k, v in data.items() if k in names and k != "usage"})
        usage = data.get("usage") or {}
        state.usage = Usage(**{k: v for k, v in usage.items() if k in {f.name for f in fields(Usage)}})
        return state

    def save(self, path: Path) -> None:
        self.updated = time.time()
        write_json_atomic(path, asdict(self))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProjectLock:
    """An flock on ``workspace/.lock``: released by the kernel when the holder dies, even by SIGKILL."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise LockHeldError(
                f"{self.path.parent.parent}: a controller already runs this project ({holder}); "
                f"use `tui-researcher status` or `attach` instead"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "ProjectLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
