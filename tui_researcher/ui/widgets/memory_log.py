"""MEMORY_LOG.md as it is now: the leader's capped memory, key results and recent decisions, newest in view."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.containers import VerticalScroll
from textual.widgets import Markdown

NO_MEMORY = "_No memory yet._"


class MemoryPane(VerticalScroll):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="-empty")
        self._updating: AwaitComplete | None = None
        self._text = ""

    def compose(self) -> ComposeResult:
        yield Markdown(NO_MEMORY)

    def show(self, text: str) -> None:
        if text != self._text:
            self._text = text
            body = text.removeprefix("# Memory Log").lstrip("\n")   # the pane's title says it already
            # no entry yet (a new project, its first trial running): one line, and the plan takes the room
            empty = not any(line.startswith("- ") for line in body.splitlines())
            self.set_class(empty, "-empty")
            self._updating = AwaitComplete(self._update(NO_MEMORY if empty else body)).call_next(self)

    async def _update(self, body: str) -> None:
        """The newest entries are at the end: the pane opens there (the best and the recent decisions)."""
        await self.query_one(Markdown).update(body)
        self.call_after_refresh(self.scroll_end, animate=False)   # once the new text is laid out

    async def rendered(self) -> None:
        """Wait until the newest text is on screen (Markdown parses off the UI thread)."""
        if self._updating is not None:
            await self._updating
