"""Every running trial, one row each: id, host, GPUs or Slurm job and node, state, elapsed, hypothesis.

The rows come from what the bridge hands on: a launch adds one, a monitor reading updates its
state and elapsed time, a finish removes it, and the controller's state (``state.running``)
adds the trials an attached app never saw launch. Elapsed time ticks here, from the newest
reading, so nothing waits for the next poll.

The highlighted row is the trial whose log the training-log pane shows: the newest launched
(that is not waiting in a queue), unless the user moves to another row (that choice holds while its trial runs; moving back to
the newest row follows the newest again). With one running trial the pane stays hidden
(the status bar and the log's title say it all) until its log tells its progress or a curve; it
shows for two or more, or for a job that waits in a queue. Each row's progress bar (with its ETA)
and its live curve (a sparkline of the metric, else the loss) come from the monitor's readings;
beside it, on the same scale, the best run's metric up to the same epoch or step.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ..ansi import display_line, plain
from ..gauges import progress_text, sparkline
from ...formats import format_duration
from ...progress import Progress

if TYPE_CHECKING:
    from ...trial import RunningTrial, Trial, TrialSample

COLUMNS = ("id", "state", "elapsed", "progress", "host", "where", "hypothesis")
"""How far each trial is (bar, count, time left, its curve and the best run's) comes before where it runs: a
narrow pane cuts the end; one column, so a trial whose log says nothing costs two cells, not six."""
CURVE_CELLS = 12
NARROW = 80
"""A pane narrower than this (an 80-column terminal) draws a shorter bar and sparkline."""
"""The live curve's sparkline: its newest this many values."""
HYPOTHESIS_CHARS = 60
"""At most; fewer when the pane is narrower."""
FINISHED_KEPT = 256
"""Ids of finished trials remembered, so a stale state file does not bring their row back."""


def shorten(text: str, width: int = HYPOTHESIS_CHARS) -> str:
    """One line of at most ``width`` cells, control characters made visible, "…" where it was cut."""
    line = Text(" ".join(plain(display_line(text)).split()))
    line.truncate(width, overflow="ellipsis")
    return line.plain


@dataclass
class RunningRow:
    """What one row shows, gathered from launches, readings and the controller's state."""

    trial_id: str
    host: str = ""
    gpus: tuple[int, ...] = ()
    job_id: str = ""
    node: str = ""
    state: str = ""
    """As the monitor reports it: RUNNING, PENDING (a queued job), or a scheduler's other states."""
    reason: str = ""
    """Why a queued job waits (Slurm's reason: Resources, Priority, ...)."""
    elapsed_s: float | None = None
    sampled_at: float | None = None
    """When ``elapsed_s`` was measured (the reading's own time)."""
    started: float | None = None
    submitted: float | None = None
    hypothesis: str = ""
    order: int = 0
    """Launch order: the highest is the newest."""
    launched: bool = False
    """Seen launch (or re-attach); otherwise known only from the state file or a reading."""
    progress: Progress | None = None
    metric_curve: deque[float] = field(default_factory=lambda: deque(maxlen=CURVE_CELLS))
    loss_curve: deque[float] = field(default_factory=lambda: deque(maxlen=CURVE_CELLS))
    """The values its log said while it ran: the live curve (the metric's, else the loss's)."""

    @property
    def has_news(self) -> bool:
        """Progress or a curve to show: worth the pane even for one trial."""
        return self.progress is not None or bool(self.metric_curve or self.loss_curve)

    def curve(self, cells: int = CURVE_CELLS, *, scale: tuple[float, ...] = ()) -> str:
        if scale and self.metric_curve:
            return sparkline(list(self.metric_curve), cells, scale=scale)
        return sparkline(list(self.metric_curve or self.loss_curve), cells)

    def best_so_far(self, best: list[tuple[float, float]]) -> list[float]:
        """The best run's metric up to where this trial is now: the curve to compare with."""
        if not best or not self.metric_curve or self.progress is None:
            return []
        return [v for x, v in best if x <= self.progress.current][-CURVE_CELLS:]

    @property
    def pending(self) -> bool:
        return self.state == "PENDING"

    def where(self) -> str:
        if self.job_id:
            return f"job {self.job_id}" + (f" on {self.node}" if self.node else "")
        if self.gpus:
            return "gpu " + ",".join(str(g) for g in self.gpus)
        return "cpu"

    def state_label(self) -> str:
        state = self.state or "RUNNING"
        return f"{state} ({self.reason})" if self.reason and self.pending else state

    def elapsed(self, now: float) -> float | None:
        """Running time; for a queued job, the time it has waited (None: not known yet)."""
        if self.pending:
            return None if self.submitted is None else now - self.submitted
        if self.elapsed_s is not None and self.sampled_at is not None:
            return self.elapsed_s + max(0.0, now - self.sampled_at)
        if self.started:
            return now - self.started
        return None

    def describe(self) -> str:
        """For the log's title: which trial, and where."""
        return " · ".join((self.trial_id, " ".join(p for p in (self.host, self.where()) if p)))


class RunningTrials(DataTable):
    """One row per running trial, newest at the bottom."""

    class Chosen(Message):
        """The user moved to a row: its trial's log is wanted."""

        def __init__(self, trial_id: str) -> None:
            super().__init__()
            self.trial_id = trial_id

    def __init__(self, *, clock: Callable[[], float] = time.time, animate: bool = True,
                 id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", show_header=False, zebra_stripes=False)
        self.clock = clock
        self.animate = animate
        self.trials: dict[str, RunningRow] = {}
        self.pinned: str | None = None
        """The trial the user chose; None: the newest launched."""
        self._hypotheses: dict[str, str] = {}
        self._finished: deque[str] = deque(maxlen=FINISHED_KEPT)
        self._order = 0
        self._rendered: dict[str, tuple] = {}
        self._title = ""
        self.best_curve: list[tuple[float, float]] = []
        """(progress, metric) of the best run so far: each running metric curve is drawn beside it."""
        self.best_id = ""

    def show_best(self, trial_id: str, curve: list[tuple[float, float]]) -> None:
        self.best_id, self.best_curve = trial_id, curve
        self._refresh_rows()

    def on_mount(self) -> None:
        for key in COLUMNS:
            self.add_column("", key=key)   # no header: a column is as wide as its cells, an empty one two cells
        self.watch(self.app, "theme", self._recolour, init=False)
        if self.animate:
            self.set_interval(1.0, self._tick)
        self._refresh_rows()

    # what the app hands on -----------------------------------------------------------

    def launched(self, trial_id: str, host: str, *, gpus: Iterable[int] = (), job_id: str = "",
                 at: float | None = None, reattached: bool = False, hypothesis: str = "") -> None:
        if trial_id in self._finished:
            self._finished.remove(trial_id)
        row = self.trials.get(trial_id)
        if row is None:
            row = self.trials[trial_id] = RunningRow(trial_id, order=self._next_order())
        elif not reattached:
            row.order = self._next_order()
        if row.state in ("", "LAUNCHING"):   # a re-attached trial's start comes from the state file or a reading
            row.state = "PENDING" if job_id else "RUNNING"
            row.started = row.started or (None if job_id or reattached else at)
            row.submitted = row.submitted or (at if job_id and not reattached else None)
        row.host, row.gpus, row.job_id, row.launched = host, tuple(gpus), job_id or row.job_id, True
        row.hypothesis = hypothesis or row.hypothesis or self._hypotheses.get(trial_id, "")
        self._refresh_rows()

    def sampled(self, host: str, trials: Iterable[TrialSample], at: float) -> None:
        """A host's reading: state, reason, node and elapsed time of each of its trials."""
        changed = False
        for reading in trials:
            row = self.trials.get(reading.trial_id) or self._add_unseen(reading.trial_id)
            if row is None:
                continue
            row.host = row.host or host
            row.state = reading.state or ("RUNNING" if reading.alive else "EXITED")
            row.reason = reading.reason
            row.job_id = reading.job_id or row.job_id
            row.node = reading.node or row.node
            row.elapsed_s, row.sampled_at = float(reading.elapsed_s), at
            row.progress = Progress.from_dict(reading.progress) or row.progress
            for _, metric, loss in reading.points:
                if metric is not None:
                    row.metric_curve.append(metric)
                if loss is not None:
                    row.loss_curve.append(loss)
            changed = True
        if changed:
            self._refresh_rows()

    def finished(self, trial_id: str) -> None:
        self._finished.append(trial_id)
        self._hypotheses.pop(trial_id, None)
        if self.trials.pop(trial_id, None) is not None:
            if self.pinned == trial_id:
                self.pinned = None
            self._refresh_rows()

    def planned(self, trial_id: str, hypothesis: str) -> None:
        self._hypotheses[trial_id] = hypothesis
        while len(self._hypotheses) > FINISHED_KEPT:
            del self._hypotheses[next(iter(self._hypotheses))]
        row = self.trials.get(trial_id)
        if row is not None and row.hypothesis != hypothesis:
            row.hypothesis = hypothesis
            self._refresh_rows()

    def from_state(self, running: dict[str, "RunningTrial"]) -> None:
        """The controller's own list: adds what was never seen launching, drops what only it had known."""
        for tid, place in sorted(running.items(), key=lambda item: item[1].started or item[1].submitted or 0.0):
            row = self.trials.get(tid) or self._add_unseen(tid)
            if row is None:
                continue
            row.host = row.host or place.host
            row.gpus = row.gpus or tuple(place.gpus)
            row.job_id = row.job_id or place.job_id
            row.node = row.node or place.node
            row.started = place.started or row.started
            row.submitted = place.submitted or row.submitted
            row.progress = row.progress or Progress.from_dict(place.progress)
            if not row.launched and place.launching:
                row.state = "LAUNCHING"   # placed, its launch under way
            elif row.state in ("", "LAUNCHING"):
                row.state = "PENDING" if row.job_id and not row.started else "RUNNING"
            if row.pending and place.started:
                row.state = "RUNNING"   # the state file knows it started before a reading says so
            if row.pending and place.reason:
                row.reason = place.reason
        for tid in [t for t, row in self.trials.items() if not row.launched and t not in running]:
            del self.trials[tid]
        self._refresh_rows()

    def from_ledger(self, trials: "list[Trial]") -> None:
        """Hypotheses of trials whose plan came before this app did."""
        missing = {tid for tid, row in self.trials.items() if not row.hypothesis}
        if not missing:
            return
        for trial in trials:
            if trial.id in missing and trial.hypothesis:
                self.trials[trial.id].hypothesis = trial.hypothesis
        self._refresh_rows()

    # which trial's log ----------------------------------------------------------------

    @property
    def newest(self) -> str | None:
        """The newest launched trial that has a log to show (a queued job has none yet)."""
        rows = [r for r in self.trials.values() if not r.pending] or list(self.trials.values())
        return max(rows, key=lambda r: r.order).trial_id if rows else None

    @property
    def shown(self) -> str | None:
        """The trial whose log the log pane should show: the chosen one while it runs, else the newest."""
        return self.pinned if self.pinned in self.trials else self.newest

    def choose(self, trial_id: str) -> None:
        """Show this trial's log; choosing the newest follows the newest from now on."""
        if trial_id not in self.trials:
            return
        self.pinned = None if trial_id == self.newest else trial_id
        self._move_cursor_to_shown()

    def describe(self, trial_id: str | None) -> str:
        row = self.trials.get(trial_id or "")
        return row.describe() if row is not None else ""

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._user_moved(event.row_key.value, event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self._user_moved(event.row_key.value, event.cursor_row)

    def _user_moved(self, key: str | None, row: int) -> None:
        """A highlight that is not ours: the cursor is still on that row and it is not the shown one."""
        if key is None or key == self.shown or key not in self.trials or row != self.cursor_row:
            return
        if not 0 <= row < self.row_count or self.ordered_rows[row].key.value != key:
            return
        self.choose(key)
        self.post_message(self.Chosen(key))

    # drawing --------------------------------------------------------------------------

    def _next_order(self) -> int:
        self._order += 1
        return self._order

    def _add_unseen(self, trial_id: str) -> RunningRow | None:
        if not trial_id or trial_id in self._finished:
            return None
        row = self.trials[trial_id] = RunningRow(trial_id, order=self._next_order(),
                                                   hypothesis=self._hypotheses.get(trial_id, ""))
        return row

    def _refresh_rows(self) -> None:
        """Add, drop and update rows (a full rebuild only when the order changed); keep the shown row highlighted."""
        display = len(self.trials) > 1 or any(row.pending or row.has_news for row in self.trials.values())
        if display != self.display:
            self.display = display
        title = f"Running trials ({len(self.trials)})"
        if title != self._title:
            self._title = self.border_title = title
        if not self.is_mounted or not self.columns:
            return
        wanted = [row.trial_id for row in sorted(self.trials.values(), key=lambda r: r.order)]
        present = [key.value for key in self.rows]
        kept = [k for k in present if k in self.trials]
        if wanted[:len(kept)] != kept:   # a row would land out of order: rebuild (a few rows at most)
            self.clear()
            self._rendered.clear()
            present = []
        for gone in set(present) - set(wanted):
            self.remove_row(gone)
            self._rendered.pop(gone, None)
        now = self.clock()
        rendered = {tid: self._cells(self.trials[tid], now) for tid in wanted}
        room = self._hypothesis_room(list(rendered.values()))
        for tid in wanted:
            cells = rendered[tid]
            cells[-1] = Text(shorten(cells[-1].plain, room), style=cells[-1].style)
            signature = tuple((c.plain, str(c.style)) for c in cells)
            previous = self._rendered.get(tid)
            if previous is None:
                self.add_row(*cells, key=tid)
            elif previous != signature:
                for key, cell in zip(COLUMNS, cells, strict=True):
                    self.update_cell(tid, key, cell, update_width=True)   # a column narrows with its cells too
            self._rendered[tid] = signature
        self._move_cursor_to_shown()

    def _hypothesis_room(self, rows: list[list[Text]]) -> int:
        """Cells left for the hypothesis, so it ends in "…" rather than under the border."""
        width = self.scrollable_content_region.width
        if width <= 0:
            return HYPOTHESIS_CHARS
        pad = 2 * self.cell_padding
        used = pad   # the hypothesis column's own padding
        for index, column in enumerate(list(self.columns.values())[:-1]):
            cells = max((cell.cell_len for cells in rows for cell in cells[index:index + 1]), default=0)
            used += max(cells, column.content_width) + pad
        return max(8, min(HYPOTHESIS_CHARS, width - used))

    def on_resize(self) -> None:
        self._refresh_rows()

    def _move_cursor_to_shown(self) -> None:
        shown = self.shown
        if shown is None or not self.is_mounted or shown not in self._rendered:
            return
        index = self.get_row_index(shown)
        if index != self.cursor_row:
            self.move_cursor(row=index, animate=False)

    def _cells(self, row: RunningRow, now: float) -> list[Text]:
        variables = self.app.theme_variables
        if row.pending:
            colour = variables.get("trial-pending", "")
        elif row.state == "RUNNING":
            colour = variables.get("trial-running", "")
        else:
            colour = variables.get("text-muted", "")
        elapsed = row.elapsed(now)
        elapsed_text = Text("–" if elapsed is None else format_duration(elapsed, always_hours=True),
                            justify="right", style=variables.get("text-muted", "") if row.pending else "")
        narrow = 0 < self.scrollable_content_region.width < NARROW
        best = [] if narrow else row.best_so_far(self.best_curve)
        cells = 6 if narrow else CURVE_CELLS
        progress = Text("  ").join(part for part in (
            Text(progress_text(row.progress, 5 if narrow else 10, short=narrow), style=variables.get("trial-running", "")),
            Text(row.curve(cells, scale=tuple(best)), style=variables.get("accent", "")),
            Text(f"best {self.best_id} {sparkline(best, cells, scale=tuple(row.metric_curve))}" if best else "",
                 style=variables.get("trial-keep", ""))) if part.plain)
        return [Text(row.trial_id, style="bold"), Text(row.state_label(), style=f"bold {colour}"), elapsed_text,
                progress,
                Text(row.host), Text(row.where()),
                Text(" ".join(row.hypothesis.split()) or "–", style=variables.get("text-muted", ""))]

    def _tick(self) -> None:
        if self.display and self.trials:
            self._refresh_rows()

    def _recolour(self) -> None:
        self._rendered.clear()
        self.clear()
        self._refresh_rows()
