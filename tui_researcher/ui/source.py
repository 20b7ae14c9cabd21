"""Where the app's events come from and where its commands go, so one app serves every case.

``LiveSource`` wraps a Controller running in the app's own event loop (``run``). ``FileSource``
follows a loop that runs elsewhere (``attach``): it replays the tail of the store's events table
and then follows it by sequence number, reads the state through the core's own ``State``, and
sends commands by appending to ``commands.jsonl`` (a directive is written to
``HUMAN_DIRECTIVE.md``, as the CLI does). ``QueueSource`` is fed by a script (tests, benchmarks).

Every source answers the trials view's questions (a page, a count, the plot's series, one
trial's detail) without ever loading the whole ledger; a store-backed source asks them on its
one reader thread (``reads.py``), so the UI never waits on SQLite.

This module knows events but not Textual; ``bridge.py`` turns what it yields into messages.
"""

from __future__ import annotations

import asyncio
import copy
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Callable, Iterable, TypeVar

from ..events import Command, Directive, Event, Notice, Quit, command_to_dict
from ..fsutil import append_line, write_atomic
from ..paths import ProjectPaths
from ..state import ProjectLock, State
from ..trial import Trial
from .arrange import Arrangement
from .reads import EventFollower, ListReads, ReaderThread, Row, TrialReads
from .series import BUDGET, Series

if TYPE_CHECKING:
    from ..config import Config
    from ..controller import Controller

T = TypeVar("T")

TAIL_EVENTS = 2000
"""How many of the newest events an attached app replays: enough for the recent log and samples."""


@dataclass(frozen=True)
class SourceInfo:
    """What does not change while the app runs."""

    project: str
    metric: str = "metric"
    goal: str = "max"
    hosts: tuple[str, ...] = ("local",)


def configured_hosts(config: "Config") -> tuple[str, ...]:
    if config.execution.mode == "local":
        return ("local",)
    names = tuple(h.name or h.host for h in config.execution.hosts)
    return names or (config.execution.slurm.host or config.execution.mode,)


class Source(ABC):
    attached: bool = False
    read_only: bool = False
    """``attach --read-only``: the app sends no command at all."""
    """True when the loop runs in another process: quitting the app never stops it."""

    def __init__(self, info: SourceInfo) -> None:
        self.info = info

    @abstractmethod
    def events(self) -> AsyncIterator[Event]:
        """Every event, in order; the iterator ends when the loop (or the replay) ends."""

    @abstractmethod
    async def load_state(self) -> tuple[State, bool]:
        """The loop's state now, and whether a controller is running."""

    @abstractmethod
    async def load_memory(self) -> str: ...

    @abstractmethod
    async def send(self, command: Command) -> None: ...

    @abstractmethod
    async def ask(self, question: Callable[[TrialReads], T]) -> T:
        """Answer a question about the ledger off the UI thread."""

    async def run(self) -> int | None:
        """Run the loop when this process owns it (return its exit code); None when it runs elsewhere."""
        return None

    def release(self) -> None:
        """The app is gone: let go of what the source holds (its reader thread and connection)."""

    # the ledger, a little at a time ---------------------------------------------------------

    async def trial_count(self) -> int:
        return await self.ask(lambda r: r.count())

    async def trial_page(self, after: int, limit: int) -> list[Row]:
        return await self.ask(lambda r: r.page(after, limit))

    async def trial_rows(self, ids: Iterable[str]) -> list[Row]:
        wanted = list(ids)
        return await self.ask(lambda r: r.rows(wanted)) if wanted else []

    async def trial_detail(self, trial_id: str) -> Trial | None:
        return await self.ask(lambda r: r.detail(trial_id))

    async def metric_series(self, budget: int = BUDGET) -> Series:
        return await self.ask(lambda r: r.series(budget))

    async def trial_order(self, arrangement: Arrangement) -> list[int]:
        return await self.ask(lambda r: r.order(arrangement))

    async def trial_log(self, trial: Trial) -> str:
        """The end of a trial's log, for its detail ("" where this source cannot reach it)."""
        return ""


class LiveSource(Source):
    """A Controller in this process and this event loop; the ledger is read through a connection of our own."""

    def __init__(self, controller: "Controller") -> None:
        super().__init__(SourceInfo(project=controller.project_name, metric=controller.config.metric.name,
                                    goal=controller.config.metric.goal, hosts=tuple(controller.backends) or ("local",)))
        self.controller = controller
        self._queue = controller.subscribe()   # now, so no event emitted before the bridge starts is lost
        self._running = False
        self._reader = ReaderThread(controller.paths.store)

    async def events(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def load_state(self) -> tuple[State, bool]:
        return copy.deepcopy(self.controller.state), self._running

    async def load_memory(self) -> str:
        return self.controller.memory.render()

    async def send(self, command: Command) -> None:
        self.controller.send(command)

    async def ask(self, question: Callable[[TrialReads], T]) -> T:
        return await self._reader.ask(question)

    async def trial_log(self, trial: Trial) -> str:
        backend = self.controller.backends.get(trial.host)
        if backend is None or not trial.log_path:
            return ""
        try:
            return await backend.tail(trial.log_path, max_bytes=LOG_TAIL_BYTES)
        except Exception as exc:   # a host that went away: the detail says so, the app goes on
            return f"(the log on {trial.host} could not be read: {type(exc).__name__}: {exc})"

    async def run(self) -> int:
        self._running = True
        try:
            return await self.controller.run()
        finally:
            self._running = False

    def release(self) -> None:
        self._reader.close()


class FileSource(Source):
    """A loop that runs elsewhere (``--no-ui`` in tmux, another terminal), seen through its store and files."""

    attached = True

    def __init__(self, project_dir: Path, config: "Config", *, follow: bool = True, poll_s: float = 0.25,
                 tail_events: int = TAIL_EVENTS, read_only: bool = False) -> None:
        self.paths = ProjectPaths.of(project_dir, config)
        self.read_only = read_only
        super().__init__(SourceInfo(project=config.project.name or self.paths.root.name, metric=config.metric.name,
                                    goal=config.metric.goal, hosts=configured_hosts(config)))
        self.follow = follow
        self.poll_s = poll_s
        self.tail_events = tail_events
        self._reader = ReaderThread(self.paths.store)
        self._write_lock = asyncio.Lock()

    async def events(self) -> AsyncIterator[Event]:
        """The tail of the events table, then every new event; a project with no store says so and waits."""
        follower = EventFollower()
        warned = False
        while (tail := await self._reader.run(lambda store: store and follower.tail(store, self.tail_events))) is None:
            if not warned:
                warned = True
                yield Notice(level="warning", text=f"{self.paths.store}: no store yet (has this project ever run?); "
                                                   "waiting for a controller to start it")
            if not self.follow:
                return
            await asyncio.sleep(self.poll_s)
        for event in tail:
            yield event
        while self.follow:
            await asyncio.sleep(self.poll_s)   # the next poll is armed when this one is done: polls never overlap
            for event in await self._reader.run(lambda store: follower.new(store) if store else []):
                yield event

    async def load_state(self) -> tuple[State, bool]:
        state = await self._reader.run(lambda store: State.load(store) if store else State())
        # the lock, not the recorded pid: a pid can be reused or unprobeable, and `status` asks the lock too
        return state, await asyncio.to_thread(ProjectLock.held, self.paths.lock)

    async def load_memory(self) -> str:
        return await asyncio.to_thread(_read_text, self.paths.memory)

    async def ask(self, question: Callable[[TrialReads], T]) -> T:
        return await self._reader.ask(question)

    async def trial_log(self, trial: Trial) -> str:
        """Only a log on this machine: an attached app reaches no host."""
        path = Path(trial.log_path) if trial.log_path else None
        if path is not None and not path.is_absolute():
            path = self.paths.workspace / path
        if path is None or not await asyncio.to_thread(path.is_file):
            return ""
        return await asyncio.to_thread(_read_tail, path)

    async def send(self, command: Command) -> None:
        if isinstance(command, Quit) or self.read_only:
            return   # an attached app detaches; the loop it watches goes on. Read-only: nothing is written
        async with self._write_lock:   # one at a time, in the order they were sent
            if isinstance(command, Directive):
                await asyncio.to_thread(write_atomic, self.paths.directive, command.text.strip() + "\n")
            else:
                line = json.dumps(command_to_dict(command))
                await asyncio.to_thread(append_line, self.paths.commands, line)

    def release(self) -> None:
        self._reader.close()


class QueueSource(Source):
    """Events pushed by a script: the app without any loop, for tests and benchmarks."""

    def __init__(self, info: SourceInfo | None = None) -> None:
        super().__init__(info or SourceInfo(project="demo", metric="val_acc", goal="max"))
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.state = State()
        self.trials: list[Trial] = []
        self.memory = ""
        self.sent: list[Command] = []

    def push(self, event: Event) -> None:
        self.queue.put_nowait(event)

    def close(self) -> None:
        self.queue.put_nowait(None)

    async def events(self) -> AsyncIterator[Event]:
        while (event := await self.queue.get()) is not None:
            yield event

    async def load_state(self) -> tuple[State, bool]:
        return copy.deepcopy(self.state), True

    async def load_memory(self) -> str:
        return self.memory

    async def send(self, command: Command) -> None:
        self.sent.append(command)

    async def ask(self, question: Callable[[TrialReads], T]) -> T:
        return question(ListReads(self.trials))


LOG_TAIL_BYTES = 16_384
"""The end of a past trial's log that its detail shows."""


def _read_tail(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, 2) - LOG_TAIL_BYTES))
        return f.read().decode("utf-8", errors="replace")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
