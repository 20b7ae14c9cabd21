"""Pivot: the next THINK must change direction; the reason is optional."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class PivotScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pivot.cancel")]

    def __init__(self) -> None:
        super().__init__(classes="modal")

    def compose(self) -> ComposeResult:
        with Vertical(id="pivot-dialog", classes="dialog"):
            yield Label("Pivot: the next THINK must change direction", classes="dialog-title")
            yield Label("Why (optional). enter sends · escape cancels.", classes="dialog-help")
            yield Input(placeholder="e.g. width is saturated; try the learning-rate schedule", id="pivot-reason")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
