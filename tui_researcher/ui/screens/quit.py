"""Quit with a choice: leave training running (the default) or stop it. Attached: just detach.

The trials it names are the running ones now: the list follows the controller while it is open.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

LEAVE, STOP, DETACH = "leave", "stop", "detach"


class QuitScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="quit.cancel"),
        Binding("left", "app.focus_previous", show=False),
        Binding("right", "app.focus_next", show=False),
    ]

    def __init__(self, *, attached: bool, running: tuple[str, ...] = ()) -> None:
        super().__init__(classes="modal")
        self.attached = attached
        self.running = running

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-dialog", classes="dialog"):
            if self.attached:
                yield Label("Detach from this loop?", classes="dialog-title")
                yield Label("The loop and its training keep running; attach again at any time.",
                            classes="dialog-help")
                with Horizontal(classes="buttons"):
                    yield Button("Detach", id=DETACH, variant="primary")
                    yield Button("Cancel", id="cancel")
                return
            yield Label("Quit tui-researcher?", classes="dialog-title")
            yield Label(self._running_text(), id="quit-running", classes="dialog-help")
            with Horizontal(classes="buttons"):
                yield Button("Leave training running", id=LEAVE, variant="primary")
                yield Button("Stop training", id=STOP, variant="error")
                yield Button("Cancel", id="cancel")

    def _running_text(self) -> str:
        what = f"Running now: {', '.join(self.running)}." if self.running else "No trial is running."
        return f"{what} Run the same command again to re-attach to training left running."

    def on_mount(self) -> None:
        self.query_one(f"#{DETACH if self.attached else LEAVE}", Button).focus()
        if not self.attached:
            self.watch(self.app, "running", self.follow, init=False)

    def follow(self, running: tuple[str, ...]) -> None:
        """The running set as the controller says it now, not as it was when the dialog opened."""
        self.running = running
        self.query_one("#quit-running", Label).update(self._running_text())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None if event.button.id == "cancel" else event.button.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
