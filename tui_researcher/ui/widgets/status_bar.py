"""The top bar: where the loop is, what it is doing, how it is doing, what it costs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from ...formats import format_duration, format_tokens
from ...money import usd

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
BUSY_PHASES = frozenset({"think", "execute", "reflect"})
"""Phases in which an LLM or a dry-run is at work: the spinner turns."""
MAX_LISTED = 2
"""Running trials named on the line; more are counted (the running-trials pane lists them)."""


@dataclass(frozen=True)
class LoopStatus:
    """All the status line shows, as one value: the app replaces it whole and the screens bind it down."""

    project: str = ""
    hosts: tuple[str, ...] = ()
    metric: str = "metric"
    attached: bool = False
    read_only: bool = False
    alive: bool = True
    """False: an attached app sees no controller running the project."""
    cycle: int = 0
    phase: str = "idle"
    detail: str = ""
    paused: bool = False
    stopping: bool = False
    running: tuple[tuple[str, float | None], ...] = ()
    """(trial id, start time as a Unix timestamp) for each running trial."""
    progress: tuple[tuple[str, str], ...] = ()
    """(trial id, ``12/40 eta 0:31``) for the running trials whose log tells how far they are."""
    best: tuple[float, str] | None = None
    """(metric, trial id) of the best kept trial."""
    tokens_today: int = 0
    usd_today: float = 0.0
    notice: str = ""


class StatusBar(Widget):
    """Project, hosts, cycle, phase (with a spinner while busy), pause, running trials, best, spend."""

    status: reactive[LoopStatus] = reactive(LoopStatus)
    frame = reactive(0)
    now = reactive(0.0)

    def __init__(self, *, clock: Callable[[], float] = time.time, animate: bool = True,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.animate = animate

    def on_mount(self) -> None:
        self.now = self.clock()
        if self.animate:
            self._spin = self.set_interval(0.1, self._next_frame, pause=self.status.phase not in BUSY_PHASES)
            self.set_interval(1.0, self._tick)

    def _next_frame(self) -> None:
        self.frame = (self.frame + 1) % len(SPINNER)

    def _tick(self) -> None:
        if self.status.running:
            self.now = self.clock()

    def watch_status(self, old: LoopStatus, new: LoopStatus) -> None:
        if self.animate and self.is_mounted and old.phase != new.phase:
            if new.phase in BUSY_PHASES:
                self._spin.resume()
            else:
                self._spin.pause()
        if old.running != new.running:
            self.now = self.clock()

    def render(self) -> Content:
        return Content("\n").join([self._top_line(), self._notice_line()])

    def _top_line(self) -> Content:
        """Most telling first: a narrow terminal cuts the end of the line (hosts), not the phase."""
        s = self.status
        sep = (" │ ", "$text-muted")
        parts: list = [("◆ ", "bold $accent"), (s.project, "bold")]
        if s.attached:
            parts += ["  ", ("attached" + (" · read-only" if s.read_only else "") if s.alive
                             else "attached · no controller running!", "$text-muted" if s.alive else "bold $warning")]
        parts += [sep, ("cycle ", "$text-muted"), (str(s.cycle), "bold"), sep]
        spinner = SPINNER[self.frame] + " " if s.phase in BUSY_PHASES else ""
        phase_style = "bold $warning" if s.phase == "paused" else "bold $primary"
        parts.append((f"{spinner}{s.phase}", phase_style))
        if s.detail:
            parts.append((f" ({s.detail})", "$text-muted"))
        if s.paused:
            parts += [" ", (" PAUSED ", "bold $background on $warning")]
        if s.stopping:
            parts += [" ", (" stopping… ", "bold $background on $error")]
        if len(s.running) > MAX_LISTED:   # the running-trials pane lists them; the line keeps room for the rest
            parts += [sep, (f"{len(s.running)} trials running", "bold $trial-running")]
        for tid, started in s.running if len(s.running) <= MAX_LISTED else ():
            elapsed = format_duration(self.now - started) if started else "starting"
            parts += [sep, (tid, "bold $trial-running"), (f" {elapsed}", "")]
            told = dict(s.progress).get(tid)
            if told:
                parts.append((f" {told}", "$trial-running"))
        parts += [sep, (f"best {s.metric} ", "$text-muted")]
        if s.best is None:
            parts.append(("–", ""))
        else:
            value, trial = s.best
            parts += [(f"{value:.4g}", "bold $trial-keep"), (f" ({trial})", "$text-muted")]
        parts += [sep, (f"{format_tokens(s.tokens_today)} tok · {usd(s.usd_today)} today", ""), sep,
                  (" · ".join(s.hosts), "$text-muted")]
        return Content.assemble(*parts)

    def _notice_line(self) -> Content:
        banner = refusal(self.status)
        if banner:   # one banner, in place of the notices, for as long as it holds
            return Content.styled(banner, "bold $error")
        return Content.styled(self.status.notice or " ", "$text-muted")


def refusal(status: LoopStatus) -> str:
    """Why keys that steer the loop send nothing now ("" when they do)."""
    if status.read_only:
        return "read-only: no key sends a command (attach without --read-only to steer)"
    if status.attached and not status.alive:
        return ("no controller is running this project: pause, pivot and stop are refused "
                "(start it: tui-researcher run)")
    return ""
