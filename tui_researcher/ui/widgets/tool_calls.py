"""Worker tool calls, newest at the bottom; Enter on a row asks for the full arguments and result."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ..ansi import display_line, plain

if TYPE_CHECKING:
    from ...events import Event

MAX_ROWS = 500
COLUMNS = (("", "status", 5), ("tool", "tool", 17), ("took", "took", 7), ("result", "result", 6),
           ("arguments", "args", 60))
"""Arguments last: the column a narrow pane cuts is the one that is only a summary anyway. The others have
the width of their longest value (``launch_experiment``, ``error``, ``123.45s``, a 60-char summary): no row widens
them later: the pane looks the same however fast its rows arrive."""


@dataclass
class ToolCallRecord:
    call_id: str
    tool: str
    args: dict = field(default_factory=dict)
    trial_id: str = ""
    ok: bool | None = None
    result: str = ""
    duration_s: float | None = None

    def args_summary(self, width: int = 60) -> str:
        text = ", ".join(f"{k}={_short(v)}" for k, v in self.args.items())
        return text if len(text) <= width else text[: width - 1] + "…"

    def detail(self) -> str:
        status = "running" if self.ok is None else "ok" if self.ok else "error"
        took = "" if self.duration_s is None else f" in {self.duration_s:.2f}s"
        head = f"{self.tool}  ·  {status}{took}" + (f"  ·  trial {self.trial_id}" if self.trial_id else "")
        args = json.dumps(self.args, indent=2, ensure_ascii=False, default=str)
        return f"{head}\n\nArguments\n{args}\n\nResult ({len(self.result):,} chars)\n{self.result or '–'}"


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(plain(display_line(text)).split())
    if len(text) > 40:
        text = text[:39] + "…"
    return repr(text) if isinstance(value, str) else text


def _size(chars: int) -> str:
    return f"{chars / 1000:.1f}k" if chars >= 1000 else str(chars)


class ToolCallsTable(DataTable):
    """One row per call; a result updates its call's row."""

    class Selected(Message):
        def __init__(self, record: ToolCallRecord) -> None:
            super().__init__()
            self.record = record

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.records: dict[str, ToolCallRecord] = {}

    def on_mount(self) -> None:
        for label, key, width in COLUMNS:
            self.add_column(label, key=key, width=width)
        self.watch(self.app, "theme", self._recolour, init=False)
        self.display = bool(self.records)   # an offline planner calls no tool: no empty pane

    def add_events(self, events: "list[Event]") -> None:
        if events and not self.display:
            self.display = True
        follow = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        for event in events:
            record = self.records.get(event.call_id)
            if record is None:
                record = ToolCallRecord(call_id=event.call_id, tool=event.tool, trial_id=event.trial_id)
                self.records[event.call_id] = record
                if hasattr(event, "args"):
                    record.args = dict(event.args)
                self.add_row(*self._cells(record), key=record.call_id)
            if hasattr(event, "ok"):
                record.ok, record.result, record.duration_s = event.ok, event.result, event.duration_s
            self._update_row(record)
        while len(self.records) > MAX_ROWS:
            oldest = next(iter(self.records))
            del self.records[oldest]
            self.remove_row(oldest)
        if follow and self.row_count:
            self.move_cursor(row=self.row_count - 1)

    def _cells(self, record: ToolCallRecord) -> list:
        variables = self.app.theme_variables
        if record.ok is None:
            status = Text("…", style=variables.get("warning", ""))
        elif record.ok:
            status = Text("ok", style=variables.get("success", ""))
        else:
            status = Text("error", style=f"bold {variables.get('error', '')}")
        took = "" if record.duration_s is None else f"{record.duration_s:.2f}s"
        result = "" if record.ok is None else _size(len(record.result))
        return [status, Text(record.tool), Text(took, justify="right"), Text(result, justify="right"),
                Text(record.args_summary())]

    def _update_row(self, record: ToolCallRecord) -> None:
        for (_, key, _), value in zip(COLUMNS, self._cells(record), strict=True):
            self.update_cell(record.call_id, key, value)

    def _recolour(self) -> None:
        for record in self.records.values():
            self._update_row(record)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        record = self.records.get(event.row_key.value)
        if record is not None:
            self.post_message(self.Selected(record))
