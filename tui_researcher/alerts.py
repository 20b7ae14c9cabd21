"""Which events are worth reaching the researcher away from the terminal, and what each message says.

One set of rules serves every channel: Apprise notifications, the app's terminal bell and the
``--no-ui`` lines all see the same alerts (``outreach`` emits each as a ``Notice`` of level
``alert``). The rules only read events and the state they are given: no I/O, so each is unit-tested.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from .events import Event, MonitorSample, PhaseChanged, TrialFinished
from .formats import format_duration
from .phase import Phase
from .trial import TrialStatus, better

FAILED = frozenset({TrialStatus.CRASH, TrialStatus.NAN, TrialStatus.STALLED, TrialStatus.TIMEOUT,
                    TrialStatus.LAUNCH_FAILED, TrialStatus.DRY_RUN_FAILED})
"""Statuses that extend a crash streak; keep, discard and gated end it; cancelled and interrupted do neither."""
NEUTRAL = frozenset({TrialStatus.CANCELLED, TrialStatus.INTERRUPTED})


@dataclass(frozen=True)
class Alert:
    kind: str
    """best, crash_streak, spending_cap, finished, stopped, host_down, host_back, trial."""
    title: str
    project: str
    happened: str
    todo: str
    trial: str = ""
    metric: str = ""
    level: str = "info"
    """Apprise's notify type: info, success, warning or failure."""

    def body(self) -> str:
        lines = [f"project: {self.project}"]
        lines += [f"trial: {self.trial}"] if self.trial else []
        lines += [f"metric: {self.metric}"] if self.metric else []
        return "\n".join([*lines, self.happened, f"what to do: {self.todo}"])

    def line(self) -> str:
        """One line for the faces (the bell rings on it)."""
        return f"{self.title}. {self.happened} What to do: {self.todo}"


@dataclass
class RuleSettings:
    project: str
    metric: str
    goal: str
    crash_streak: int = 3
    host_down_after: float = 300.0
    every_trial: bool = False
    """``monitor.notify_on_complete``: a message for every finished trial, not only a new best."""


@dataclass
class AlertRules:
    """Feed it every event; it answers the alerts that event earns, each said once."""

    settings: RuleSettings
    best: float | None = None
    best_trial: str = ""
    paused_by_cap: Callable[[], bool] = lambda: False
    """Whether a pause now is the spending cap's (the controller's state answers; the user's pause is not news)."""
    clock: Callable[[], float] = time.time
    streak: list[str] = field(default_factory=list)
    down_since: dict[str, float] = field(default_factory=dict)
    down_said: set[str] = field(default_factory=set)
    ended: bool = False
    capped: bool = False

    def feed(self, event: Event) -> list[Alert]:
        if isinstance(event, TrialFinished):
            return self._finished(event)
        if isinstance(event, PhaseChanged):
            return self._phase(event)
        if isinstance(event, MonitorSample):
            return self._sample(event)
        return []

    def final(self) -> list[Alert]:
        """At shutdown: a loop that ended without DONE or STOPPED stopped on an error or a signal."""
        if self.ended:
            return []
        self.ended = True
        return [self._alert("stopped", "Loop stopped unexpectedly", "The controller stopped before finishing "
                            "(an error or an interrupt); training may still be running.",
                            "read the terminal or `tui-researcher status`, then run the same command again to "
                            "re-attach", level="failure")]

    def _alert(self, kind: str, title: str, happened: str, todo: str, **kw) -> Alert:
        return Alert(kind=kind, title=f"{self.settings.project}: {title}", project=self.settings.project,
                     happened=happened, todo=todo, **kw)

    def _metric(self, value: float | None) -> str:
        shown = "-" if value is None else f"{value:.6g}"
        return f"{self.settings.metric} = {shown} (goal {self.settings.goal})"

    def _finished(self, e: TrialFinished) -> list[Alert]:
        alerts = []
        if e.status == TrialStatus.KEEP and better(e.metric, self.best, self.settings.goal):
            was = "" if self.best is None else f" (was {self.best:.6g})"
            self.best, self.best_trial = e.metric, e.trial_id
            alerts.append(self._alert("best", f"new best {e.trial_id}", f"{e.trial_id} set a new best{was}.",
                                      "nothing needed; `tui-researcher report` shows the picture so far",
                                      trial=e.trial_id, metric=self._metric(e.metric), level="success"))
        elif self.settings.every_trial:
            label = f": {e.label}" if e.label else ""
            alerts.append(self._alert("trial", f"{e.trial_id} {e.status}", f"{e.trial_id} ended {e.status}{label}.",
                                      "nothing needed", trial=e.trial_id, metric=self._metric(e.metric)))
        alerts.extend(self._streak(e))
        return alerts

    def _streak(self, e: TrialFinished) -> list[Alert]:
        if e.status in NEUTRAL:
            return []
        if e.status not in FAILED:
            self.streak.clear()
            return []
        self.streak.append(e.trial_id)
        if len(self.streak) != self.settings.crash_streak:
            return []
        label = f" (last: {e.status}: {e.label})" if e.label else f" (last: {e.status})"
        return [self._alert("crash_streak", f"{len(self.streak)} failed trials in a row",
                            f"{', '.join(self.streak)} all failed{label}.",
                            f"read runs/{e.trial_id}/train.log, check the host, then pause or send a directive "
                            f"(`tui-researcher directive`)", trial=e.trial_id, metric=self._metric(e.metric),
                            level="failure")]

    def _phase(self, e: PhaseChanged) -> list[Alert]:
        if e.phase == Phase.PAUSED:
            if self.capped or not self.paused_by_cap():
                return []
            self.capped = True
            return [self._alert("spending_cap", "paused by the spending cap",
                                "The day's LLM spend reached agent.max_usd_per_day: THINK and REFLECT wait until "
                                "tomorrow; training goes on.",
                                "wait for tomorrow, or raise agent.max_usd_per_day and restart", level="warning")]
        self.capped = False
        if e.phase not in (Phase.DONE, Phase.STOPPED) or self.ended:
            return []
        self.ended = True
        done = e.phase == Phase.DONE
        best = "" if self.best is None else f" Best: {self._metric(self.best)}."
        return [self._alert("finished" if done else "stopped", "loop finished" if done else "loop stopped",
                            f"The loop {'finished' if done else 'was stopped'} at cycle {e.cycle}"
                            f"{f' ({e.detail})' if e.detail else ''}.{best}",
                            "`tui-researcher report` writes the report; run the loop again to go on",
                            trial=f"{self.best_trial} (the best)" if self.best_trial else "",
                            metric=self._metric(self.best) if self.best is not None else "",
                            level="success" if done else "info")]

    def _sample(self, e: MonitorSample) -> list[Alert]:
        now = self.clock()
        if e.reachable:
            self.down_since.pop(e.host, None)
            if e.host not in self.down_said:
                return []
            self.down_said.discard(e.host)
            return [self._alert("host_back", f"host {e.host} is back", f"{e.host} answers again.",
                                "nothing needed: its trials are followed again")]
        since = self.down_since.setdefault(e.host, now)
        if e.host in self.down_said or now - since < self.settings.host_down_after:
            return []
        self.down_said.add(e.host)
        return [self._alert("host_down", f"host {e.host} unreachable",
                            f"{e.host} has not answered for {format_duration(now - since)}; its trials are "
                            f"not followed meanwhile (they keep running there).",
                            "check the machine and the network (`tui-researcher doctor`); the loop re-attaches "
                            "when it answers", level="failure")]
