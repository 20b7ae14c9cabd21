"""The controller's state (in the project's store), the LLM usage it accounts, and the one-controller lock.

The state holds a *set* of running trials keyed by id, each a typed ``RunningTrial`` with its
placement, so a restart re-attaches every one of them, however many run at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import LockHeldError
from .phase import Phase
from .store import Store
from .trial import RunningTrial


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

    def add(self, cycle: int, *, input_tokens: int = 0, output_tokens: int = 0, cache_read_tokens: int = 0,
            cache_write_tokens: int = 0, usd: float = 0.0, today: str | None = None) -> None:
        """Count one LLM call: totals, today's (reset when the day changes) and the cycle's."""
        today = today or time.strftime("%Y-%m-%d")
        if self.day != today:
            self.day, self.usd_today, self.tokens_today = today, 0.0, 0
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cache_read_tokens += cache_read_tokens
        self.cache_write_tokens += cache_write_tokens
        self.usd += usd
        self.usd_today += usd
        tokens = input_tokens + output_tokens + cache_read_tokens + cache_write_tokens
        self.tokens_today += tokens
        per_cycle = self.by_cycle.setdefault(str(cycle), {"tokens": 0, "usd": 0.0})
        per_cycle["tokens"] += tokens
        per_cycle["usd"] = round(per_cycle["usd"] + usd, 6)
        while len(self.by_cycle) > CYCLES_KEPT:
            self.by_cycle.pop(min(self.by_cycle, key=int))


CYCLES_KEPT = 50


@dataclass
class State:
    phase: Phase | str = Phase.IDLE
    cycle: int = 0
    """Cycles that made a trial: a failed or empty THINK gives its number back (``Controller._cycle``)."""
    next_trial: int = 1
    running: dict[str, RunningTrial] = field(default_factory=dict)
    """Every trial that may be running, by id (see ``RunningTrial``)."""
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
    def from_dict(cls, data: dict[str, Any]) -> "State":
        names = {f.name for f in fields(cls)} - {"usage", "running", "phase"}
        state = cls(**{k: v for k, v in data.items() if k in names})
        with contextlib.suppress(ValueError):
            state.phase = Phase(data.get("phase", Phase.IDLE))
        state.running = {tid: RunningTrial.from_dict(tid, place)
                         for tid, place in (data.get("running") or {}).items() if isinstance(place, dict)}
        usage = data.get("usage") or {}
        state.usage = Usage(**{k: v for k, v in usage.items() if k in {f.name for f in fields(Usage)}})
        return state

    @classmethod
    def load(cls, store: Store) -> "State":
        data, running = store.load_state()
        return cls.from_dict({**(data or {}), "running": running})

    def save(self, store: Store) -> None:
        """The state and its running set in one transaction (joined by an outer one, if any)."""
        self.updated = time.time()
        data = self.to_dict()
        store.save_state({k: v for k, v in data.items() if k != "running"}, data["running"])

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["usage"] = asdict(self.usage)
        data["running"] = {tid: run.to_dict() for tid, run in self.running.items()}
        return data


class ProjectLock:
    """An flock on ``workspace/.lock``: released by the kernel when the holder dies, even by SIGKILL."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @staticmethod
    def held(path: Path) -> bool:
        """Does a controller hold this project now? The lock knows, whoever's process it is."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

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
