"""Commands from the faces, and from other processes through files (`directive`, an attached app).

In-process faces call ``Controller.send``; another process appends a JSON line to commands.jsonl
or writes HUMAN_DIRECTIVE.md, and the watcher here turns that into the same command.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Callable

from .bus import EventBus
from .events import Command, Directive, Pause, Pivot, Quit, Resume, StopTrial, command_from_dict
from .fsutil import write_atomic
from .monitor import Monitor
from .project import Project
from .trial import TrialStatus
from .watch import watch_names


class CommandHandler:
    def __init__(self, project: Project, bus: EventBus, monitor: Monitor, *,
                 on_quit: Callable[[Quit], None], wake: Callable[[], None]) -> None:
        self.project = project
        self.paths = project.paths
        self.bus = bus
        self.monitor = monitor
        self.on_quit = on_quit
        self.wake = wake
        self.queue: asyncio.Queue[Command] = asyncio.Queue()

    def send(self, command: Command) -> None:
        self.queue.put_nowait(command)
        self.wake()

    async def run(self) -> None:
        while True:
            await self.apply(await self.queue.get())

    async def apply(self, command: Command) -> None:
        state = self.project.state
        if isinstance(command, Pause):
            state.paused = True
            self.bus.notice("paused: no new planning; running training goes on and is still monitored")
        elif isinstance(command, Resume):
            state.paused = False
            self.bus.notice("resumed")
        elif isinstance(command, Pivot):
            state.pivot = command.reason or "change direction"
            self.bus.notice(f"pivot requested: {state.pivot}; the next THINK must change direction")
        elif isinstance(command, Directive):
            write_atomic(self.paths.directive, command.text.rstrip() + "\n")
            self.bus.notice("directive saved: it will be used at the next THINK")
        elif isinstance(command, StopTrial):
            for tid in [command.trial_id] if command.trial_id else list(state.running):
                await self.monitor.kill(tid, TrialStatus.CANCELLED, "stopped by the user")
        elif isinstance(command, Quit):
            self.on_quit(command)
        self.project.save_state()
        self.wake()

    async def watch_files(self) -> None:
        offset = self.paths.commands.stat().st_size if self.paths.commands.exists() else 0
        if self._directive_waiting():
            self.bus.notice("a directive is waiting: it will be used at the next THINK")
        async for names in watch_names(self.paths.workspace):
            if self.paths.directive.name in names and self._directive_waiting():
                self.bus.notice("directive received: it will be used at the next THINK")
                self.wake()
            if self.paths.commands.name in names:
                offset = self.read_commands(offset)

    def _directive_waiting(self) -> bool:
        """A directive with text: the sandbox's empty placeholder (it seals the name) is none."""
        try:
            return self.paths.directive.stat().st_size > 0
        except OSError:
            return False

    def read_commands(self, offset: int) -> int:
        """Whole lines appended since ``offset``; a half-written last line waits for its newline."""
        try:
            with open(self.paths.commands, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return offset
        end = data.rfind(b"\n") + 1
        for line in data[:end].decode("utf-8", "replace").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                command = command_from_dict(json.loads(line))
                if command is not None:
                    self.send(command)
        return offset + end
