"""Every key, what it does, and where else to find it (the command palette)."""

from __future__ import annotations

from typing import Iterable, Mapping

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help.close")]

    def __init__(self, keys: list[tuple[str, str, str]]) -> None:
        super().__init__(classes="modal")
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            yield DataTable(id="help-keys", cursor_type="none", show_header=False)
            yield Label("Every action is also in the command palette (ctrl+p). "
                        "Rebind keys in settings.toml under [keymap]. escape closes.", classes="dialog-help",
                        markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("key", "action", "what it does")
        for key, description, tooltip in self.keys:
            table.add_row(key, description, tooltip)

    def action_close(self) -> None:
        self.dismiss(None)


def key_rows(bindings: Iterable[BindingType], keymap: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(keys, action, what it does) for every key the footer shows, rebound keys as rebound, then the palette."""
    rows = []
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.show or binding.action == "resume":
            continue   # pause and resume share a key and a row
        keys = keymap.get(binding.id or "", binding.key)
        description = "Pause / resume" if binding.action == "pause" else binding.description
        rows.append((keys.replace("question_mark", "?"), description, binding.tooltip))
    rows.extend(VIEW_KEYS)
    rows.append(("ctrl+p", "Command palette", "Search every action by name"))
    return rows


VIEW_KEYS = [
    ("/", "Search / filter", "Log: search (n / N next, previous; g / G first, last). Trials: filter"),
    ("s / S", "Sort", "Trials view: sort by the next column / the other way round (or click a header)"),
    ("r", "Range", "Trials view: the plot's range, the best quartile or every trial"),
    ("enter", "Details", "Trials view: a trial's params, the diff of its edits, its log"),
]
"""Keys of one view or pane: in the help, though the dashboard's footer does not list them."""
