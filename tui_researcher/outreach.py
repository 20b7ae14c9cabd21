"""Reaching the researcher away from the terminal: alerts, Apprise notifications, the research journal.

One bus subscriber, run as a supervised task: it reads every event, asks ``alerts`` which ones are
news, emits each alert as a ``Notice`` of level ``alert`` (the app rings the bell on it, ``--no-ui``
prints it), hands it to the notifier, and lets the journal write its notes. Nothing here can block
the loop: sends run on their own thread and note writes on a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib

from .alerts import AlertRules, RuleSettings
from .bus import EventBus
from .events import Event, Notice
from .journal import Journal
from .money import cap_reached
from .notify import RETRY_DELAYS, Notifier, load_targets
from .project import Project
from .supervisor import Supervisor

FLUSH_S = 10.0
"""At shutdown, how long queued messages may take to leave before the process ends anyway."""


class Outreach:
    def __init__(self, project: Project, bus: EventBus) -> None:
        config, state = project.config, project.state
        self.project, self.bus = project, bus
        self.rules = AlertRules(RuleSettings(project=project.name, metric=config.metric.name, goal=config.metric.goal,
                                             crash_streak=config.notify.crash_streak,
                                             host_down_after=config.notify.host_down_after,
                                             every_trial=config.monitor.notify_on_complete),
                                best=best.metric if (best := project.ledger.best(config.metric.goal)) else None,
                                best_trial=best.id if best else "",
                                paused_by_cap=lambda: not state.paused and cap_reached(
                                    state.usage, config.agent.max_usd_per_day))
        self.notifier: Notifier | None = None
        self.journal = Journal.of(project, bus.notice)
        self.flush_s, self.retry_delays = FLUSH_S, RETRY_DELAYS
        self._queue: asyncio.Queue | None = None
        self._idle = asyncio.Event()

    def start(self, supervisor: Supervisor) -> None:
        """Subscribe and start the tasks; called once the loop runs (Apprise is imported only with URLs)."""
        notify = self.project.config.notify
        if notify.urls or notify.apprise_config:
            targets, problems = load_targets(notify.urls, notify.apprise_config)
            for problem in problems:
                self.bus.notice(problem, "warning")
            self.notifier = Notifier(targets, self.bus.notice, retry_delays=self.retry_delays)
            supervisor.start("notify", self.notifier.run)
        elif self.project.config.monitor.notify_on_complete:
            self.bus.notice("monitor.notify_on_complete is set but notify.urls is empty: only the app's bell "
                            "rings; add an Apprise URL (ntfy://, slack://, mailto://...) under notify.urls")
        self._queue = self.bus.subscribe()
        self.journal.start()
        supervisor.start("outreach", self._watch)

    async def _watch(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            if event is None:
                self._idle.set()
                return
            await self.handle(event)

    async def handle(self, event: Event) -> None:
        if isinstance(event, Notice):
            return
        for alert in self.rules.feed(event):
            self._say(alert)
        await self.journal.feed(event)

    def _say(self, alert) -> None:
        self.bus.emit(Notice(level="alert", text=alert.line()))
        if self.notifier is not None:
            self.notifier.put(alert)

    async def close(self) -> None:
        """Before the supervisor stops: the events already emitted are handled, then messages leave (bounded)."""
        if self._queue is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), self.flush_s)
        self.bus.unsubscribe(self._queue)
        for alert in self.rules.final():
            self._say(alert)
        if self.notifier is not None and not await self.notifier.flush(self.flush_s):
            self.bus.notice(f"notify: {self.notifier.queue.qsize() + 1} message(s) not sent before the end", "warning")
        await self.journal.close()
