"""Confirm before stopping a running trial (its process group gets SIGTERM, then SIGKILL).

"Keep running" is always the default button, however many trials run: ``k`` then Enter stops
nothing. The dialog follows the running set while it is open: a trial that ends is no longer
offered, and when none is left the dialog closes saying so.
"""

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

    def __init__(self, running: tuple[str, ...], selected: str | None = None) -> None:
        super().__init__(classes="modal")
        self.running = running
        self.selected = selected
        # one trial to name: the one whose log is shown, else the newest; "Stop all" covers the rest
        self.target = selected if selected in running else running[-1]

    def follow(self, running: tuple[str, ...]) -> None:
        """The controller's running set changed while the dialog is open: offer only what still runs."""
        if running == self.running:
            return
        if not running:
            self.app.notify(f"{self.target} has ended: nothing left to stop", timeout=4)
            self.dismiss(None)
            return
        self.running = running
        self.target = self.selected if self.selected in running else running[-1]
        self.refresh(recompose=True)
        self.call_after_refresh(self._focus_keep)

    def compose(self) -> ComposeResult:
        with Vertical(id="stop-dialog", classes="dialog"):
            if len(self.running) == 1:
                yield Label(f"Stop trial {self.target}?", classes="dialog-title")
            else:
                yield Label(f"Stop {self.target}, or all {len(self.running)} running trials?", classes="dialog-title")
            help_text = "It is recorded as cancelled; the loop then plans the next trial."
            if len(self.running) > 1:
                help_text += " To stop another one, select it in Running trials first."
            yield Label(help_text, classes="dialog-help")
            with Horizontal(classes="buttons"):
                yield Button(f"Stop {self.target}", id=f"trial-{self.target}", name=self.target, variant="error")
                if len(self.running) > 1:
                    yield Button(f"Stop all {len(self.running)}", id="trial-all", name=ALL, variant="error")
                yield Button("Keep running", id="keep", variant="primary")

    def on_mount(self) -> None:
        self.watch(self.app, "running", self.follow, init=False)
        self._focus_keep()

    def _focus_keep(self) -> None:
        self.query_one("#keep", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        name = event.button.name
        if event.button.id == "keep" or name is None:
            self.dismiss(None)
        else:
            self.dismiss("" if name == ALL else name)

    def action_cancel(self) -> None:
        self.dismiss(None)
