"""Confirm before stopping a running trial (its process group gets SIGTERM, then SIGKILL)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

ALL = "*all*"


class ConfirmStopScreen(ModalScreen[str | None]):
    """Returns the trial id to stop, "" for every running trial, or None to keep them."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="stop.cancel"),
        Binding("left", "app.focus_previous", show=False),
        Binding("right", "app.focus_next", show=False),
    ]

    def __init__(self, running: tuple[str, ...]) -> None:
        super().__init__(classes="modal")
        self.running = running

    def compose(self) -> ComposeResult:
        with Vertical(id="stop-dialog", classes="dialog"):
            if len(self.running) == 1:
                yield Label(f"Stop trial {self.running[0]}?", classes="dialog-title")
            else:
                yield Label(f"Stop which trial? ({len(self.running)} running)", classes="dialog-title")
            yield Label("It is recorded as cancelled; the loop then plans the next trial.", classes="dialog-help")
            with Horizontal(classes="buttons"):
                for tid in self.running:
                    yield Button(f"Stop {tid}", id=f"trial-{tid}", name=tid, variant="error")
                if len(self.running) > 1:
                    yield Button("Stop all", id="trial-all", name=ALL, variant="error")
                yield Button("Keep running", id="keep", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#keep" if len(self.running) > 1 else f"#trial-{self.running[0]}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        name = event.button.name
        if event.button.id == "keep" or name is None:
            self.dismiss(None)
        else:
            self.dismiss("" if name == ALL else name)

    def action_cancel(self) -> None:
        self.dismiss(None)
