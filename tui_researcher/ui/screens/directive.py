"""A directive for the leader's next THINK: a multi-line editor; ctrl+s sends, escape cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

from ..widgets.key_bar import KeyBar


class DirectiveScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="directive.send", tooltip="Send the directive to the leader"),
        Binding("escape", "cancel", "Cancel", id="directive.cancel"),
    ]

    def __init__(self, text: str = "") -> None:
        super().__init__(classes="modal")
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical(id="directive-dialog", classes="dialog"):
            yield Label("Directive for the leader", classes="dialog-title")
            yield Label("Used at the next THINK, then archived. ctrl+s sends · escape cancels.",
                        classes="dialog-help")
            yield TextArea(self.text, id="directive-text", soft_wrap=True, show_line_numbers=False)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def action_send(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.notify("The directive is empty: type something, or press escape", severity="warning")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
