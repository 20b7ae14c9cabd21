"""Where the app's events come from and where its commands go, so one app serves every case.

``LiveSource`` wraps a Controller running in the app's own event loop (``run``). ``FileSource``
follows a loop that runs elsewhere (``attach``): it replays the tail of ``events.jsonl`` and
then follows it, reads ``state.json`` and ``trials.jsonl`` through the core's own ``State``
and ``Ledger`` (so the app folds the ledger as the controller does), and sends commands by
appending to ``commands.jsonl`` (a directive is written to ``HUMAN_DIRECTIVE.md``, as the CLI
does). Every file read happens off the UI thread. ``QueueSource`` is fed by a script (tests, benchmarks).

This module knows events but not Textual; ``bridge.py`` turns what it yields into messages.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator

from ..backends.helper import pid_alive
from ..events import Command, Directive, Event, Quit, command_to_dict, event_from_dict
from ..fsutil import append_line, write_atomic
from ..ledger import Ledger
from ..paths import ProjectPaths
from ..state import State
from ..trial import Trial

if TYPE_CHECKING:
    from ..config import Config
    from ..controller import Controller

TAIL_BYTES = 256 * 1024
"""How much of events.jsonl an attached app replays: enough for the recent log and samples."""


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
    async def load_trials(self) -> list[Trial]: ...

    @abstractmethod
    async def load_memory(self) -> str: ...

    @abstractmethod
    async def send(self, command: Command) -> None: ...

    async def run(self) -> int | None:
        """Run the loop when this process owns it (return its exit code); None when it runs elsewhere."""
        return None


class LiveSource(Source):
    """A Controller in this process and this event loop."""

    def __init__(self, controller: "Controller") -> None:
        super().__init__(SourceInfo(project=controller.project_name, metric=controller.config.metric.name,
                                    goal=controller.config.metric.goal, hosts=tuple(controller.backends) or ("local",)))
        self.controller = controller
        self._queue = controller.subscribe()   # now, so no event emitted before the bridge starts is lost
        self._running = False

    async def events(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def load_state(self) -> tuple[State, bool]:
        return copy.deepcopy(self.controller.state), self._running

    async def load_trials(self) -> list[Trial]:
        return self.controller.ledger.all()

    async def load_memory(self) -> str:
        return self.controller.memory.render()

    async def send(self, command: Command) -> None:
        self.controller.send(command)

    async def run(self) -> int:
        self._running = True
        try:
            return await self.controller.run()
        finally:
            self._running = False


class FileSource(Source):
    """A loop that runs elsewhere (``--no-ui`` in tmux, another terminal), seen through its files."""

    attached = True

    def __init__(self, project_dir: Path, config: "Config", *, follow: bool = True, poll_s: float = 0.2,
                 tail_bytes: int = TAIL_BYTES) -> None:
        self.paths = ProjectPaths.of(project_dir, config)
        super().__init__(SourceInfo(project=config.project.name or self.paths.root.name, metric=config.metric.name,
                                    goal=config.metric.goal, hosts=configured_hosts(config)))
        self.follow = follow
        self.poll_s = poll_s
        self.tail_bytes = tail_bytes
        self._write_lock = asyncio.Lock()

    async def events(self) -> AsyncIterator[Event]:
        reader = _EventLogReader(self.paths.events)
        for event in await asyncio.to_thread(reader.read_tail, self.tail_bytes):
            yield event
        while self.follow:
            await asyncio.sleep(self.poll_s)
            for event in await asyncio.to_thread(reader.read_new):
                yield event

    async def load_state(self) -> tuple[State, bool]:
        return await asyncio.to_thread(self._read_state)

    def _read_state(self) -> tuple[State, bool]:
        state = State.load(self.paths.state)
        return state, pid_alive(state.controller_pid)

    async def load_trials(self) -> list[Trial]:
        return await asyncio.to_thread(lambda: Ledger(self.paths.ledger).all())

    async def load_memory(self) -> str:
        return await asyncio.to_thread(_read_text, self.paths.memory)

    async def send(self, command: Command) -> None:
        if isinstance(command, Quit):
            return   # an attached app detaches; the loop it watches goes on
        async with self._write_lock:   # one at a time, in the order they were sent
            if isinstance(command, Directive):
                await asyncio.to_thread(write_atomic, self.paths.directive, command.text.strip() + "\n")
            else:
                line = json.dumps(command_to_dict(command))
                await asyncio.to_thread(append_line, self.paths.commands, line)


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

    async def load_trials(self) -> list[Trial]:
        return list(self.trials)

    async def load_memory(self) -> str:
        return self.memory

    async def send(self, command: Command) -> None:
        self.sent.append(command)


# file reading (runs in worker threads) ---------------------------------------------------


@dataclass
class _EventLogReader:
    """Follows events.jsonl across the controller's rotation to events.jsonl.1."""

    path: Path
    offset: int = 0
    inode: int | None = None
    _partial: bytes = field(default=b"", repr=False)

    def read_tail(self, max_bytes: int) -> list[Event]:
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return []
        with f:
            st = os.fstat(f.fileno())
            start = max(0, st.st_size - max_bytes)
            f.seek(start)
            data = f.read()
        self.inode = st.st_ino
        self.offset = start + len(data)
        if start:
            data = data[data.find(b"\n") + 1:]   # the first line is cut: skip it
        return self._parse(data)

    def read_new(self) -> list[Event]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return []
        events: list[Event] = []
        if self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset):
            rotated = self.path.with_suffix(".jsonl.1")
            try:
                if rotated.stat().st_ino == self.inode:
                    events.extend(self._read_from(rotated, self.offset))
            except FileNotFoundError:
                pass
            self.offset, self._partial = 0, b""
        self.inode = st.st_ino
        if st.st_size > self.offset:
            events.extend(self._read_from(self.path, self.offset))
        return events

    def _read_from(self, path: Path, offset: int) -> list[Event]:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
        self.offset = offset + len(data)
        return self._parse(data)

    def _parse(self, data: bytes) -> list[Event]:
        data = self._partial + data
        end = data.rfind(b"\n") + 1
        self._partial = data[end:]
        events = []
        for line in data[:end].splitlines():
            try:
                event = event_from_dict(json.loads(line))
            except (ValueError, AttributeError):
                continue
            if event is not None:
                events.append(event)
        return events


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
