"""The one-line prompt that ``/`` opens at the foot of a screen: a log search or a trials filter.

Enter hands the text to the screen (``Input.Submitted``) and closes it; escape closes it and
gives the focus back. Hidden until asked for: it takes no row while nobody types.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input


class SearchBar(Input):
    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    DEFAULT_CSS = """
    SearchBar {
        dock: bottom;
        display: none;
        height: 3;
        margin-bottom: 1;
        border: round $accent;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, placeholder="search…")
        self.back_to: Widget | None = None

    def open(self, back_to: Widget, prompt: str, value: str = "") -> None:
        self.back_to = back_to
        self.placeholder = prompt
        self.border_title = prompt
        self.value = value
        self.display = True
        self.focus()

    def action_close(self) -> None:
        self.display = False
        if self.back_to is not None:
            self.back_to.focus()

    def _on_input_submitted(self) -> None:   # after the screen's handler has the value: close
        self.call_after_refresh(self.action_close)
