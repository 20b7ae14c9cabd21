"""The ledger as a virtual table: id, status in its colour, metric, delta vs the best, duration, params, hypothesis.

A DataTable holds every row, so at 100,000 trials it costs seconds and hundreds of MB before
the view appears. This table knows only the trial count: its virtual height is the count,
``render_line`` draws a row from a small cache of pages (``PAGE`` rows each, read by the source
off the UI thread), and a row whose page has not arrived yet is drawn as a placeholder until it
does. New trials grow the count and refresh the last page; the table is never rebuilt. It keeps
DataTable's look (header, zebra stripes, row cursor) through the same component classes' rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style

from rich.text import Text
from textual import events, work
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...formats import format_duration
from ..gauges import cut, params_text
from ...trial import TrialStatus

if TYPE_CHECKING:
    from ...trial import Trial
    from ..reads import Row

PAGE = 200
"""Rows read at a time: a screenful or more, in one indexed query."""
PAGES_KEPT = 16
"""Pages held at most (3,200 trials), least recently drawn dropped first."""
LABELS = ("id", "status", "metric", "Δ best", "duration", "params", "hypothesis")
HYPOTHESIS_CHARS = 60
"""At most; the last column, it takes what the terminal has left (a narrow one cuts it, not the metric)."""
PLACEHOLDER = [Text("…", style="dim")] + [Text("")] * (len(LABELS) - 1)

STATUS_VARIABLE = {
    TrialStatus.KEEP: "trial-keep", TrialStatus.DISCARD: "trial-discard", TrialStatus.RUNNING: "trial-running",
    TrialStatus.PENDING: "trial-pending", TrialStatus.CONFIRMING: "trial-pending", TrialStatus.SEED_RUN: "trial-discard",
    TrialStatus.PRUNED: "trial-discard",
}
"""Statuses with their own colour (``pruned`` is a judged result, like ``discard``); every failure (crash, nan,
stalled, ...) uses ``trial-crash``."""

PageReader = Callable[[int, int], Awaitable["list[Row]"]]


class TrialsTable(ScrollView, can_focus=True):
    """One line per trial, oldest first; the cursor follows the newest trial while it is on the last row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Details", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,g,ctrl+home", "first", "First trial", show=False),
        Binding("end,G,ctrl+end", "last", "Newest trial", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "trials-table--header", "trials-table--cursor", "trials-table--even-row", "trials-table--odd-row",
    }

    DEFAULT_CSS = """
    TrialsTable {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .trials-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .trials-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark {
            & > .trials-table--even-row {
                background: $surface-darken-1 40%;
            }
        }
        & > .trials-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .trials-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .trials-table--odd-row {
        }
        & > .trials-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .trials-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class Selected(Message):
        def __init__(self, trial: "Trial") -> None:
            super().__init__()
            self.trial = trial

    class HeaderClicked(Message):
        """A column's header was clicked: the screen sorts by it (again: the other way round)."""

        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    def __init__(self, pages: PageReader, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._read_page = pages
        self.count = 0
        """Rows the table shows: the ledger's trials, or those the filter kept."""
        self.ledger_count = 0
        self.order: list[int] | None = None
        """Row numbers shown, sorted and filtered (``arrange.py``); None: every trial, oldest first."""
        self.sort: tuple[str, bool] = ("id", False)
        self.cursor_row = 0
        self.best: float | None = None
        """The best metric so far (the Δ best column), from the loop's state."""
        self._pages: LRUCache[int, dict[int, Trial]] = LRUCache(PAGES_KEPT)
        """Page number -> {row index: trial}."""
        self._loading: set[int] = set()
        self._again: set[int] = set()
        """Pages asked for again while being read: the answer in flight may be older than the news."""
        self._widths = [cell_len(label) for label in LABELS]
        """Content widths: grown to fit every row read so far, never shrunk (the columns do not jump back)."""
        self._lines: LRUCache[tuple, list[Segment]] = LRUCache(256)
        self._generation = 0
        """Bumped whenever drawn lines may be stale (a page, the best, the widths, the theme)."""

    # what the screen hands on ------------------------------------------------------------

    def show_count(self, count: int) -> None:
        """The ledger grew (or this is the first count): the new rows' page is read again."""
        if count == self.ledger_count:
            return
        old, self.ledger_count = self.ledger_count, count
        for page in {max(0, old - 1) // PAGE, max(0, count - 1) // PAGE}:
            if page in self._pages or page in self._loading:
                self._load(page)
        if self.order is None:   # sorted or filtered: the screen asks for the new order
            self._set_count(count)

    def _set_count(self, count: int) -> None:
        following = self.count == 0 or self.cursor_row >= self.count - 1
        self.count = count
        self._resize()
        if following:
            self.move_cursor(count - 1)
            self.call_after_refresh(self._scroll_to_cursor)   # once the new height is laid out

    def show_order(self, order: list[int] | None, sort: tuple[str, bool] = ("id", False)) -> None:
        """Row numbers to show, in this order (None: every trial, oldest first); the cursor goes to the top."""
        self.order, self.sort = order, sort
        if sort[0] in LABELS:   # room for the sort mark in its header
            k = LABELS.index(sort[0])
            self._widths[k] = max(self._widths[k], cell_len(sort[0]) + 2)
        self.count = self.ledger_count if order is None else len(order)
        self.cursor_row = 0
        self._resize()
        self.scroll_to(y=0, animate=False, force=True)
        self._invalidate()

    def _ledger_index(self, index: int) -> int:
        """The ledger's row index (0 is the first trial) of the table's row ``index``."""
        if self.order is None:
            return index
        return self.order[index] - 1 if 0 <= index < len(self.order) else -1

    def show_rows(self, rows: "list[Row]") -> None:
        """Records that changed: a row whose page is held is redrawn at once, the rest wait for their page."""
        changed = False
        for row, trial in rows:
            page = self._pages.get((row - 1) // PAGE)
            if page is not None:
                page[row - 1] = trial
                changed = True
        if changed:
            self._fit([trial for _, trial in rows])
            self._invalidate()

    def show_best(self, best: float | None) -> None:
        if best != self.best:
            self.best = best
            self._fit([t for page in list(self._pages.keys()) for t in (self._pages.get(page) or {}).values()])
            self._invalidate()

    def trial_at(self, index: int) -> "Trial | None":
        """The trial at a row index of the table (0 is the top), if its page is held."""
        at = self._ledger_index(index)
        page = self._pages.get(at // PAGE) if at >= 0 else None
        return None if page is None else page.get(at)

    @property
    def held(self) -> int:
        """Trials held in memory now: bounded by ``PAGES_KEPT`` pages whatever the ledger's size."""
        return sum(len(self._pages.get(page) or ()) for page in list(self._pages.keys()))

    def visible_trials(self) -> "list[Trial | None]":
        """The trials on screen, top to bottom (None: a row whose page has not arrived)."""
        top = round(self.scroll_y)
        rows = max(0, self.scrollable_content_region.height - 1)
        return [self.trial_at(i) for i in range(top, min(self.count, top + rows))]

    # cursor -------------------------------------------------------------------------------

    def move_cursor(self, index: int) -> None:
        index = max(0, min(index, self.count - 1))
        old, self.cursor_row = self.cursor_row, index
        self.refresh_line(old + 1)
        self.refresh_line(index + 1)
        self._scroll_to_cursor()

    def _scroll_to_cursor(self) -> None:
        rows = self.scrollable_content_region.height - 1   # the header keeps the top line
        if rows <= 0:
            return
        top = round(self.scroll_y)
        # force: a count that grew this tick has not yet been laid out into a scrollbar
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, force=True)
        elif self.cursor_row >= top + rows:
            self.scroll_to(y=self.cursor_row - rows + 1, animate=False, force=True)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self.count - 1)

    def action_select_cursor(self) -> None:
        trial = self.trial_at(self.cursor_row)
        if trial is not None:   # a placeholder has nothing to show yet
            self.post_message(self.Selected(trial))

    def on_click(self, event: events.Click) -> None:
        row, column = event.style.meta.get("row"), event.style.meta.get("column")
        if row == -1 and isinstance(column, int) and 0 <= column < len(LABELS) \
                and not event.style.meta.get("out_of_bounds"):
            event.stop()
            self.post_message(self.HeaderClicked(LABELS[column]))
            return
        if isinstance(row, int) and 0 <= row < self.count:
            event.stop()
            if row == self.cursor_row:
                self.action_select_cursor()
            self.move_cursor(row)

    # pages --------------------------------------------------------------------------------

    def _want(self, page: int) -> None:
        """Called while drawing: read the page soon, once, if it is still on screen by then."""
        if page not in self._loading:
            self._loading.add(page)
            self.call_later(self._read_if_shown, page)

    def _read_if_shown(self, page: int) -> None:
        """A first frame drawn before the cursor was scrolled into view must not cost a read."""
        top = round(self.scroll_y)
        bottom = min(self.count, top + max(1, self.scrollable_content_region.height - 1))
        if page in {self._ledger_index(i) // PAGE for i in range(top, bottom)}:
            self._read(page)
        else:
            self._loading.discard(page)   # drawn again if it comes back into view, and asked for then

    def _load(self, page: int) -> None:
        if page in self._loading:
            self._again.add(page)
        else:
            self._loading.add(page)
            self._read(page)

    @work(group="trial-pages", exit_on_error=False)
    async def _read(self, page: int) -> None:
        try:
            rows = await self._read_page(page * PAGE, PAGE)
        finally:
            self._loading.discard(page)
        self._pages.discard(page)   # LRUCache.set keeps an existing entry: replace it explicitly
        self._pages[page] = {row - 1: trial for row, trial in rows}
        self._fit([trial for _, trial in rows])
        self._invalidate()
        if page in self._again:
            self._again.discard(page)
            self._load(page)

    # drawing ------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda: self._invalidate(), init=False)
        self._resize()

    def on_resize(self) -> None:
        self._resize()
        self._invalidate()
        self._scroll_to_cursor()

    def on_focus(self) -> None:
        self._invalidate()

    def on_blur(self) -> None:
        self._invalidate()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._invalidate()

    def _invalidate(self) -> None:
        self._generation += 1
        self.refresh()

    def _fit(self, trials: "list[Trial]") -> None:
        """Widen columns to the new rows' cells (the Δ best column's width is its widest delta)."""
        widths = list(self._widths)
        for trial in trials:
            for k, cell in enumerate(self._cells(trial)):
                widths[k] = max(widths[k], cell.cell_len)
        if widths != self._widths:
            self._widths = widths
            self._resize()

    def _resize(self) -> None:
        if self.is_mounted:
            self.virtual_size = Size(self._table_width, self.count + 1)

    @property
    def _table_width(self) -> int:
        return sum(w + 2 for w in self._fitted_widths())

    def _fitted_widths(self) -> list[int]:
        """Every column at its width, but the last (the hypothesis) only what the pane has left."""
        widths = list(self._widths)
        room = self.scrollable_content_region.width - sum(w + 2 for w in widths[:-1]) - 2
        if room > 0:
            widths[-1] = max(4, min(widths[-1], room))
        return widths

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        index = -1 if y == 0 else y - 1 + scroll_y   # the header stays on top
        if index >= self.count:
            return Strip.blank(width, self.rich_style)
        segments = self._row_segments(index)
        return Strip(segments).crop(scroll_x, scroll_x + width).adjust_cell_length(width, self.rich_style).simplify()

    def _row_segments(self, index: int) -> list[Segment]:
        if index >= 0 and self.trial_at(index) is None:
            self._want(max(0, self._ledger_index(index)) // PAGE)
            return self._draw_row(index)   # a placeholder is never kept: drawn again, it asks for its page again
        key = (index, index == self.cursor_row, self._generation, self.size.width)
        segments = self._lines.get(key)
        if segments is None:
            segments = self._lines[key] = self._draw_row(index)
        return segments

    def _draw_row(self, index: int) -> list[Segment]:
        """One row as DataTable draws it: padded cells on the row's style, the cursor's over it."""
        if index < 0:
            key, descending = self.sort
            cells = [Text(label + ((" ▼" if descending else " ▲") if label == key and self.order is not None else ""))
                     for label in LABELS]
            row_style = self.get_component_rich_style("trials-table--header")
        else:
            trial = self.trial_at(index)
            cells = PLACEHOLDER if trial is None else self._cells(trial)
            row_style = self.get_component_rich_style("trials-table--odd-row" if index % 2 else "trials-table--even-row")
        cursor = self.get_component_rich_style("trials-table--cursor") if index == self.cursor_row else Style()
        line = Text(style=row_style + cursor, no_wrap=True, end="")
        for column, (cell, width) in enumerate(zip(cells, self._fitted_widths())):
            cell = cell.copy()   # one Text per row, not a console render per cell: drawing a page stays cheap
            cell.truncate(width, overflow="ellipsis")
            cell.align(cell.justify if cell.justify in ("left", "center", "right") else "left", width)
            start = len(line)
            line.append(" ").append_text(cell).append(" ")
            line.stylize(Style.from_meta({"row": index, "column": column}), start, len(line))
        line.stylize(Style.from_color(color=cursor.color))   # the cursor's colour wins over a cell's own
        segments = list(line.render(self.app.console))
        extend = row_style + cursor + Style.from_meta({"row": index, "column": 0, "out_of_bounds": True})
        segments.append(Segment(" " * max(0, self.size.width - self._table_width), extend))
        return segments

    def _cells(self, trial: "Trial") -> list[Text]:
        variables = self.app.theme_variables
        colour = variables.get(STATUS_VARIABLE.get(trial.status, "trial-crash"), "")
        status = Text(trial.status, style=f"bold {colour}")
        hypothesis = cut((f"[{trial.role}] " if trial.role else "") + " ".join(trial.hypothesis.split()),
                         HYPOTHESIS_CHARS)
        value = trial.mean if trial.mean is not None else trial.metric   # seed-checked: its mean counts
        metric = "–" if value is None else f"{value:.4g}"
        if trial.mean is not None and trial.spread is not None:
            metric += f" ± {trial.spread:.2g}"
        if trial.self_reported:   # no evaluator, and the worker changed the code that printed it
            metric += " (self)"
        best = self.best
        if value is None or best is None:
            delta = Text("–")
        elif value == best and trial.status == TrialStatus.KEEP:
            delta = Text("best", style=f"bold {variables.get('trial-keep', '')}")
        else:
            delta = Text(f"{value - best:+.4g}")
        duration = "–" if trial.duration is None else (
            f"{trial.duration:.1f}s" if trial.duration < 60 else format_duration(trial.duration))
        return [Text(trial.id, style="bold"), status, Text(metric, justify="right"), delta,
                Text(duration, justify="right"), Text(params_text(trial.params), style=variables.get("text-muted", "")),
                Text(hypothesis, overflow="ellipsis", no_wrap=True)]

