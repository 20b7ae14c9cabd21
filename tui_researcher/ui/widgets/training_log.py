"""The live tail of the running trial: follows by default, scrolls back, keeps colour, stays safe.

A ``ScrollView`` that draws only the lines in view (``render_line``) from a list capped at
``max_lines``, each rendered once into a ``Strip`` kept in an LRU cache keyed by the line's
text, as Toolong's LogLines does: a flood costs an append and a prune, not a redraw. Lines are
stored as ``ansi.display_line`` makes them, so colour survives and any other escape shows as
text. Scrolling up stops following; the border counts lines that arrived since; ``f`` (or
scrolling back to the end) resumes.

With several trials running, the pane shows one of them (``show_trial``): every trial's
recent lines are kept in a bounded buffer of its own, so switching to another trial shows
its lines at once, and lines of the others never interleave with the shown trial's.
Until a trial is chosen, every line is shown, each trial's marked where it starts.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Sequence

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

from ..ansi import display_line, plain

TRIAL_BUFFERS = 16
"""Trials whose lines are kept for a switch (the shown one, then the most recently started)."""

STRIPS_CACHED = 1024
"""Rendered lines kept: a few screens' worth, so scrolling back and forth renders nothing twice."""

Entry = tuple[str, int]
"""A line as shown, with its width in cells."""


class TrainingLog(ScrollView, can_focus=True):
    """A capped, followable, selectable log of display-safe lines."""

    ALLOW_SELECT = True
    DEFAULT_CSS = """
    TrainingLog {
        background: $surface;
        color: $text;
        overflow: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    BINDINGS = [
        Binding("n", "next_match", "Next match", show=False),
        Binding("N", "previous_match", "Previous match", show=False),
        Binding("g,home", "first_line", "First line", show=False),
        Binding("G,end", "last_line", "Last line (follow)", show=False),
    ]

    follow = reactive(True)
    """Keep the newest line in view."""
    unseen = reactive(0)
    """Lines that arrived while not following."""

    def __init__(self, *, max_lines: int = 5000, id: str | None = None) -> None:
        super().__init__(id=id)
        self.max_lines = max_lines
        self._lines: list[str] = []
        self._width = 0
        """The widest line since the last clear (the horizontal scroll range)."""
        self._trial = ""
        """The trial of the last line in the pane (a marker starts each trial's lines)."""
        self.shown: str | None = None
        """The trial whose lines the pane shows; None: every trial's."""
        self._buffers: dict[str, deque[Entry]] = {}
        """Trial id -> its newest lines as shown, with their widths."""
        self._strips: LRUCache[str, Strip] = LRUCache(STRIPS_CACHED)
        self._programmatic = False
        self.query_text = ""
        """What ``/`` searched for (case-insensitive); "" for none."""
        self.match: int | None = None
        """The line of the current match."""

    @property
    def lines(self) -> Sequence[str]:
        """The lines in the pane, oldest first, as stored (SGR codes kept)."""
        return self._lines

    @property
    def line_count(self) -> int:
        return len(self._lines)

    # what the screen hands on -------------------------------------------------------------

    def add_lines(self, lines: list[tuple[str, str]], dropped: int = 0) -> None:
        """(trial id, raw line) pairs; ``dropped`` lines of a flood were skipped before they got here."""
        out: list[Entry] = []
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
        self.unseen = 0
        self.follow = True
        self._append(list(self._marked(trial_id, lines)))

    def trial_lines(self, trial_id: str) -> list[str]:
        """The lines kept for a trial, as shown."""
        return [line for line, _ in self._buffers.get(trial_id, ())]

    def clear(self) -> None:
        """An empty pane (the trial buffers stay)."""
        self._lines.clear()
        self._width = 0
        self._trial = ""
        self._strips.clear()
        self.virtual_size = Size(0, 0)

    # storing lines ---------------------------------------------------------------------------

    def _buffer(self, trial_id: str) -> deque[Entry]:
        buffer = self._buffers.get(trial_id)
        if buffer is None:
            while len(self._buffers) >= TRIAL_BUFFERS:
                oldest = next(t for t in self._buffers if t != self.shown)
                del self._buffers[oldest]
            buffer = self._buffers[trial_id] = deque(maxlen=self.max_lines)
        return buffer

    def _marked(self, trial_id: str, entries: Iterable[Entry]) -> Iterable[Entry]:
        """The entries, after a marker where the pane moves on to another trial's lines."""
        for entry in entries:
            if trial_id != self._trial:
                self._trial = trial_id
                yield _entry(f"\x1b[2m── {display_line(trial_id)} ──\x1b[0m")
            yield entry

    def _append(self, out: list[Entry]) -> None:
        """Add lines at the end, drop the oldest beyond the cap, and keep the end in view when following."""
        if not out:
            return
        if not self.follow:
            self.unseen += len(out)
        self._lines.extend(line for line, _ in out)
        self._width = max(self._width, max(width for _, width in out))
        if len(self._lines) > self.max_lines:
            del self._lines[:len(self._lines) - self.max_lines]
        self.virtual_size = Size(self._width, len(self._lines))
        if self.follow:
            self._scroll_to_end()
        self.refresh()

    # search ----------------------------------------------------------------------------------

    def search(self, text: str) -> bool:
        """Find ``text`` from the top of the view on (then from the start); False when no line has it."""
        self.query_text = text.strip().lower()
        self.match = None
        self._strips.clear()
        self.refresh()
        if not self.query_text:
            return False
        return self._jump(round(self.scroll_y) - 1, forward=True)

    def action_next_match(self) -> None:
        if self.query_text:
            self._jump(self.match if self.match is not None else round(self.scroll_y) - 1, forward=True)

    def action_previous_match(self) -> None:
        if self.query_text:
            self._jump(self.match if self.match is not None else round(self.scroll_y), forward=False)

    def _jump(self, after: int, *, forward: bool) -> bool:
        count = len(self._lines)
        step = 1 if forward else -1
        for k in range(1, count + 1):
            index = (after + step * k) % count
            if self.query_text in plain(self._lines[index]).lower():
                self.match = index
                self.follow = False
                self._programmatic = True
                try:
                    self.scroll_to(y=max(0, index - self.scrollable_content_region.height // 2), animate=False,
                                   immediate=True)
                finally:
                    self._programmatic = False
                self._strips.clear()
                self.refresh()
                return True
        return False

    def action_first_line(self) -> None:
        self.follow = False
        self._programmatic = True
        try:
            self.scroll_home(animate=False, immediate=True)
        finally:
            self._programmatic = False

    def action_last_line(self) -> None:
        self.follow = True

    # follow mode ---------------------------------------------------------------------------

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

    # drawing -------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        """A new theme or focus tint: every cached strip has the old colours."""
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        style = self.rich_style
        if index >= len(self._lines):
            return Strip.blank(width, style)
        strip = self._line_strip(index, style)
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, index)

    def _line_strip(self, index: int, style: Style) -> Strip:
        """One whole line, uncropped: from the cache unless part of it is selected."""
        line = self._lines[index]
        selection = self.text_selection
        if selection is None and (strip := self._strips.get(line)) is not None and index != self.match:
            return strip
        text = Text.from_ansi(line, no_wrap=True, end="") if "\x1b" in line else Text(line, no_wrap=True, end="")
        text.stylize_before(style)
        if self.query_text:
            found = text.plain.lower()
            start = found.find(self.query_text)
            while start >= 0:
                text.stylize("reverse bold" if index == self.match else "reverse", start, start + len(self.query_text))
                start = found.find(self.query_text, start + 1)
        span = selection.get_span(index) if selection is not None else None
        if span is not None:
            start, end = span
            selected = self.screen.get_component_rich_style("screen--selection")
            text.stylize(selected, start, len(text) if end == -1 else end)
        strip = Strip(text.render(self.app.console), text.cell_len)
        if selection is None and index != self.match:
            self._strips[line] = strip
        return strip

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        """The selected text as shown: without colour codes."""
        return selection.extract("\n".join(plain(line) for line in self._lines)), "\n"


def _entry(line: str) -> Entry:
    """A line as shown, with its width (colour codes take no cells)."""
    return line, cell_len(plain(line))
