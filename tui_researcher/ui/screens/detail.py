"""A full record in a scrollable modal: a tool call's arguments and result, or a trial."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

from ..ansi import display_line, plain


class DetailScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close", id="detail.close")]

    def __init__(self, title: str, body: str) -> None:
        super().__init__(classes="modal")
        self.title_text = title
        self.body = "\n".join(plain(display_line(line)) for line in body.splitlines())

    def compose(self) -> ComposeResult:
        with Vertical(id="detail-dialog", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield TextArea(self.body, read_only=True, soft_wrap=True, id="detail-text")
            yield Label("escape closes", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_close(self) -> None:
        self.dismiss(None)
