"""The live tail of the running trial: follows by default, scrolls back, keeps colour, stays safe.

Built on Textual's ``Log`` (only visible lines are rendered, ``max_lines`` bounds memory).
Lines are stored as ``ansi.display_line`` makes them, so colour survives and any other escape
shows as text. Scrolling up stops following; the border counts lines that arrived since;
``f`` (or scrolling back to the end) resumes.

With several trials running, the pane shows one of them (``show_trial``): every trial's
recent lines are kept in a bounded buffer of its own, so switching to another trial shows
its lines at once, and lines of the others never interleave with the shown trial's.
Until a trial is chosen, every line is shown, each trial's marked where it starts.
"""

from __future__ import annotations

from collections import deque

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widgets import Log

from ..ansi import display_line, plain

TRIAL_BUFFERS = 16
"""Trials whose lines are kept for a switch (the shown one, then the most recently started)."""


class TrainingLog(Log):
    follow = reactive(True)
    """Keep the newest line in view."""
    unseen = reactive(0)
    """Lines that arrived while not following."""

    def __init__(self, *, max_lines: int = 5000, id: str | None = None) -> None:
        super().__init__(max_lines=max_lines, id=id, auto_scroll=False)
        self._trial = ""
        """The trial of the last line in the pane (a marker starts each trial's lines)."""
        self.shown: str | None = None
        """The trial whose lines the pane shows; None: every trial's."""
        self._buffers: dict[str, deque[tuple[str, int]]] = {}
        """Trial id -> its newest lines as shown, with their widths."""
        self._strips: LRUCache[str, Strip] = LRUCache(512)
        self._programmatic = False

    @classmethod
    def _process_line(cls, line: str) -> str:
        """Width as shown: colour codes take no cells."""
        return plain(line)

    def add_lines(self, lines: list[tuple[str, str]], dropped: int = 0) -> None:
        out: list[tuple[str, int]] = []
        if dropped:
            out.append(_entry(f"\x1b[2m… {dropped:,} lines skipped (they came faster than a screen shows; "
                              "the log file has them)\x1b[0m"))
        for trial_id, raw in lines:
            entry = _entry(display_line(raw))
            self._buffer(trial_id).append(entry)
            if self.shown is None or trial_id == self.shown:
                out.extend(self._marked(trial_id, (entry,)))
        self._append(out)

    def show_trial(self, trial_id: str, *, keep: bool = False) -> None:
        """Show this trial's lines from now on: below what is there (``keep``), or in place of it."""
        if trial_id == self.shown:
            return
        everything, self.shown = self.shown is None, trial_id
        lines = tuple(self._buffers.get(trial_id, ()))
        if keep:
            if not everything:   # while every trial's lines were shown, this one's are there already
                self._append(list(self._marked(trial_id, lines)))
            return
        self.clear()
        self._strips.clear()
        self._trial = ""
        self.unseen = 0
        self.follow = True
        self._append(list(self._marked(trial_id, lines)))

    def trial_lines(self, trial_id: str) -> list[str]:
        """The lines kept for a trial, as shown."""
        return [line for line, _ in self._buffers.get(trial_id, ())]

    def _buffer(self, trial_id: str) -> deque[tuple[str, int]]:
        buffer = self._buffers.get(trial_id)
        if buffer is None:
            while len(self._buffers) >= TRIAL_BUFFERS:
                oldest = next(t for t in self._buffers if t != self.shown)
                del self._buffers[oldest]
            buffer = self._buffers[trial_id] = deque(maxlen=self.max_lines)
        return buffer

    def _marked(self, trial_id: str, entries):
        """The entries, after a marker where the pane moves on to another trial's lines."""
        for entry in entries:
            if trial_id != self._trial:
                self._trial = trial_id
                yield _entry(f"\x1b[2m── {display_line(trial_id)} ──\x1b[0m")
            yield entry

    def _append(self, out: list[tuple[str, int]]) -> None:
        if not out:
            return
        if not self.follow:
            self.unseen += len(out)
        self._lines.extend(line for line, _ in out)
        self._width = max(self._width, max(width for _, width in out))
        if len(self._lines) > self.max_lines:
            self._prune_max_lines()
        self.virtual_size = Size(self._width, len(self._lines))
        if self.follow:
            self._scroll_to_end()
        self.refresh()

    def _scroll_to_end(self) -> None:
        """After the next refresh, when the new size is known; unless the user stopped following since."""
        self.call_after_refresh(self._end_if_following)

    def _end_if_following(self) -> None:
        if self.follow:
            self._programmatic = True
            try:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
            finally:
                self._programmatic = False

    def on_resize(self) -> None:
        if self.follow:
            self._scroll_to_end()

    def watch_follow(self, follow: bool) -> None:
        if follow:
            self.unseen = 0
            self._scroll_to_end()
        self._update_subtitle()

    def watch_unseen(self) -> None:
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        if self.follow:
            self.border_subtitle = "following"
        elif self.unseen:
            self.border_subtitle = f"paused · +{self.unseen:,} lines · f to follow"
        else:
            self.border_subtitle = "paused · f to follow"

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if self._programmatic:
            return
        if new < old and new < self.max_scroll_y and self.follow:
            self.follow = False          # the user scrolled up to read: stop pulling the view down
        elif not self.follow and new >= self.max_scroll_y and new > old:
            self.follow = True           # back at the end: follow again

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        if self.text_selection is not None:
            return super()._render_line_strip(y, rich_style)
        line = self._lines[y]
        strip = self._strips.get(line)
        if strip is None:
            text = Text.from_ansi(line, no_wrap=True, end="") if "\x1b" in line else Text(line, no_wrap=True, end="")
            text.stylize_before(rich_style)
            strip = Strip(text.render(self.app.console), cell_len(text.plain))
            self._strips[line] = strip
        return strip


def _entry(line: str) -> tuple[str, int]:
    """A line as shown, with its width (colour codes take no cells)."""
    return line, cell_len(plain(line))
