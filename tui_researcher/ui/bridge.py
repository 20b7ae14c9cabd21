"""Controller events in, Textual messages out: the one module that knows both.

It runs as one exclusive worker of the app. Events are taken as they come, but handed on at
most ``FLUSH_S`` apart: a burst (a log flood, a replayed event log) becomes one ``LogLines``
and one ``ToolActivity`` message per flush, and snapshot messages replace their queued
predecessors. The state is re-read only when an event says it changed, at most once per
flush. The ledger is never re-read whole: the trials that events named since the last flush
are read by id, and posted with the trial count as one ``TrialsChanged``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING

from ..events import (
    Event,
    MemoryChanged,
    MonitorSample,
    Notice,
    PhaseChanged,
    PlanProposed,
    Reflected,
    ToolCalled,
    ToolReturned,
    TrialFinished,
    TrialLaunched,
    UsageChanged,
)
from .messages import (
    DecisionMade,
    HostSampled,
    LogLines,
    LoopNotice,
    LoopPhase,
    LoopState,
    MemoryText,
    PlanChanged,
    SourceEnded,
    ToolActivity,
    TrialEnded,
    TrialsChanged,
    TrialStarted,
    UsageUpdated,
)
from .reads import TrialNews
from .source import Source

if TYPE_CHECKING:
    from textual.app import App

HISTORY = 12
"""Utilisation readings kept per GPU for its sparkline."""

FLUSH_S = 0.05
"""At most 20 flushes a second: a person cannot read faster, and the UI stays free for keys."""

PLANS_KEPT = 64
"""Hypotheses of planned trials remembered until their launch."""

CHANGED_KEPT = 500
"""Trials re-read per flush at most (a replayed burst names a few hundred; the view reads its pages anew)."""

_END = object()

_STATE_EVENTS = (PhaseChanged, TrialLaunched, TrialFinished, Reflected, Notice, MonitorSample)
_TRIAL_EVENTS = (PlanProposed, TrialLaunched, TrialFinished, Reflected)


class Bridge:
    def __init__(self, app: "App", source: Source, *, max_pending_lines: int = 5000) -> None:
        self.app = app
        self.source = source
        self._lines: deque[tuple[str, str]] = deque(maxlen=max_pending_lines)
        self._lines_seen = 0
        self._tools: list[Event] = []
        self._utilisation: dict[tuple[str, int], deque[float]] = {}
        self._hypotheses: dict[str, str] = {}
        """Planned trials' hypotheses until they launch (a burst of plans keeps only the newest PlanChanged)."""
        self._state_dirty = False
        self._changed: dict[str, None] = {}
        """Ids of the trials events named since the last flush, oldest first."""

    async def run(self) -> None:
        """Pump the source until it ends; then say so."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        pump = asyncio.create_task(self._pump(queue), name="bridge-pump")
        try:
            await self._post_snapshot(state=True, trials=True, memory=True, first=True)
            last_flush = 0.0
            ended = False
            while not ended:
                ended = self._absorb(await queue.get())
                wait = last_flush + FLUSH_S - loop.time()
                if wait > 0 and not ended:
                    await asyncio.sleep(wait)
                while not ended and not queue.empty():
                    ended = self._absorb(queue.get_nowait())
                await self._flush()
                last_flush = loop.time()
            await self._post_snapshot(state=True, trials=True)
            self.app.post_message(SourceEnded())
        finally:
            pump.cancel()

    async def _pump(self, queue: asyncio.Queue) -> None:
        try:
            async for event in self.source.events():
                queue.put_nowait(event)
        except Exception as exc:   # an unreadable event log: say so on screen, then end like a finished stream
            queue.put_nowait(Notice(level="error", text=f"event stream stopped: {type(exc).__name__}: {exc}"))
        finally:
            queue.put_nowait(_END)

    def _record_utilisation(self, sample: MonitorSample) -> dict[int, tuple[float, ...]]:
        """Every reading feeds the sparklines, even those whose message a newer one replaces."""
        history = {}
        for gpu in sample.gpus:
            ring = self._utilisation.setdefault((sample.host, gpu.index), deque(maxlen=HISTORY))
            if gpu.utilization is not None:
                ring.append(float(gpu.utilization))
            history[gpu.index] = tuple(ring)
        return history

    def _absorb(self, event: object) -> bool:
        """Take one event; True at the end of the stream."""
        if event is _END:
            return True
        post = self.app.post_message
        if isinstance(event, MonitorSample):
            if event.lines:
                self._lines.extend(event.lines)
                self._lines_seen += len(event.lines)
                event = replace(event, lines=())
            post(HostSampled(event, self._record_utilisation(event)))
        elif isinstance(event, (ToolCalled, ToolReturned)):
            self._tools.append(event)
        elif isinstance(event, PhaseChanged):
            post(LoopPhase(event.phase, event.cycle, event.detail))
        elif isinstance(event, PlanProposed):
            self._hypotheses[event.trial_id] = event.hypothesis
            while len(self._hypotheses) > PLANS_KEPT:
                del self._hypotheses[next(iter(self._hypotheses))]
            post(PlanChanged(event))
        elif isinstance(event, Reflected):
            post(DecisionMade(event))
        elif isinstance(event, MemoryChanged):
            post(MemoryText(event.text))
        elif isinstance(event, UsageChanged):
            post(UsageUpdated(event))
        elif isinstance(event, TrialLaunched):
            post(TrialStarted(event, self._hypotheses.pop(event.trial_id, "")))
        elif isinstance(event, TrialFinished):
            self._post_lines()   # a trial's last lines (its traceback) reach the pane before its end does
            post(TrialEnded(event))
        elif isinstance(event, Notice):
            post(LoopNotice(event.level, event.text))
        self._state_dirty |= isinstance(event, _STATE_EVENTS)
        if isinstance(event, _TRIAL_EVENTS):
            self._changed.pop(event.trial_id, None)
            self._changed[event.trial_id] = None
        return False

    def _post_lines(self) -> None:
        if self._lines:
            lines = list(self._lines)
            dropped = self._lines_seen - len(lines)
            self._lines.clear()
            self._lines_seen = 0
            self.app.post_message(LogLines(lines, dropped))

    async def _flush(self) -> None:
        self._post_lines()
        if self._tools:
            tools, self._tools = self._tools, []
            self.app.post_message(ToolActivity(tools))
        await self._post_snapshot(state=self._state_dirty, trials=bool(self._changed))

    async def _post_snapshot(self, *, state: bool = False, trials: bool = False, memory: bool = False,
                             first: bool = False) -> None:
        if state:
            self._state_dirty = False
            loop_state, alive = await self.source.load_state()
            self.app.post_message(LoopState(loop_state, alive))
            if first:   # what the app shows before any event names a trial: the running ones
                self._changed.update(dict.fromkeys(loop_state.running))
        if trials:
            await self._post_trials(newest=first)
        if memory:
            text = await self.source.load_memory()
            if text:
                self.app.post_message(MemoryText(text))

    async def _post_trials(self, *, newest: bool = False) -> None:
        """The count and the trials events named (and, at first, the newest): never the whole ledger."""
        ids = list(self._changed)[-CHANGED_KEPT:]
        self._changed.clear()
        count = await self.source.trial_count()
        rows = await self.source.trial_rows(ids)
        if newest and count and all(row != count for row, _ in rows):
            rows += await self.source.trial_page(count - 1, 1)
        self.app.post_message(TrialsChanged(TrialNews(count, tuple(rows))))
