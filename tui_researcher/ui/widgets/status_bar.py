"""The top bar: where the loop is, what it is doing, how it is doing, what it costs."""

from __future__ import annotations

import time
from typing import Callable

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
BUSY_PHASES = frozenset({"think", "execute", "reflect"})
"""Phases in which an LLM or a dry-run is at work: the spinner turns."""
MAX_LISTED = 2
"""Running trials named on the line; more are counted (the running-trials pane lists them)."""


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_tokens(tokens: int) -> str:
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.1f}M"
    if tokens >= 1_000:
        return f"{tokens / 1_000:.1f}k"
    return str(tokens)


class StatusBar(Widget):
    """Project, hosts, cycle, phase (with a spinner while busy), pause, running trial, best, spend."""

    project = reactive("")
    hosts: reactive[tuple[str, ...]] = reactive(tuple)
    cycle = reactive(0)
    phase = reactive("idle")
    detail = reactive("")
    paused = reactive(False)
    stopping = reactive(False)
    attached = reactive(False)
    alive = reactive(True)
    running: reactive[tuple[tuple[str, float | None], ...]] = reactive(tuple)
    """(trial id, start time as a Unix timestamp) for each running trial."""
    metric = reactive("metric")
    best: reactive[tuple[float, str] | None] = reactive(None)
    tokens_today = reactive(0)
    usd_today = reactive(0.0)
    notice = reactive("")
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
            self._spin = self.set_interval(0.1, self._next_frame, pause=True)
            self.set_interval(1.0, self._tick)

    def _next_frame(self) -> None:
        self.frame = (self.frame + 1) % len(SPINNER)

    def _tick(self) -> None:
        if self.running:
            self.now = self.clock()

    def watch_phase(self, phase: str) -> None:
        if self.animate and self.is_mounted:
            if phase in BUSY_PHASES:
                self._spin.resume()
            else:
                self._spin.pause()

    def watch_running(self) -> None:
        self.now = self.clock()

    def render(self) -> Content:
        return Content("\n").join([self._top_line(), self._notice_line()])

    def _top_line(self) -> Content:
        """Most telling first: a narrow terminal cuts the end of the line (hosts), not the phase."""
        sep = (" │ ", "$text-muted")
        parts: list = [("◆ ", "bold $accent"), (self.project, "bold")]
        if self.attached:
            parts += ["  ", ("attached" if self.alive else "attached · no controller running!",
                             "$text-muted" if self.alive else "bold $warning")]
        parts += [sep, ("cycle ", "$text-muted"), (str(self.cycle), "bold"), sep]
        spinner = SPINNER[self.frame] + " " if self.phase in BUSY_PHASES else ""
        phase_style = "bold $warning" if self.phase == "paused" else "bold $primary"
        parts.append((f"{spinner}{self.phase}", phase_style))
        if self.detail:
            parts.append((f" ({self.detail})", "$text-muted"))
        if self.paused:
            parts += [" ", (" PAUSED ", "bold $background on $warning")]
        if self.stopping:
            parts += [" ", (" stopping… ", "bold $background on $error")]
        if len(self.running) > MAX_LISTED:   # the running-trials pane lists them; the line keeps room for the rest
            parts += [sep, (f"{len(self.running)} trials running", "bold $trial-running")]
        for tid, started in self.running if len(self.running) <= MAX_LISTED else ():
            elapsed = format_duration(self.now - started) if started else "starting"
            parts += [sep, (tid, "bold $trial-running"), (f" {elapsed}", "")]
        parts += [sep, (f"best {self.metric} ", "$text-muted")]
        if self.best is None:
            parts.append(("–", ""))
        else:
            value, trial = self.best
            parts += [(f"{value:.4g}", "bold $trial-keep"), (f" ({trial})", "$text-muted")]
        parts += [sep, (f"{format_tokens(self.tokens_today)} tok · ${self.usd_today:.2f} today", ""), sep,
                  (" · ".join(self.hosts), "$text-muted")]
        return Content.assemble(*parts)

    def _notice_line(self) -> Content:
        return Content.styled(self.notice or " ", "$text-muted")
