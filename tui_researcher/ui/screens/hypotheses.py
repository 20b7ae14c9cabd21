"""The hypothesis pool (key ``h``): value, valuation, tries, best result and status of each hypothesis.

Read off the UI thread through the source's reader, like every other view; the columns are the
ones ``tui-researcher hypotheses`` prints (``hypotheses.table``), so both faces agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

from ...hypotheses import COLUMNS, read_pool, table
from ..reads import StoreReads, TrialReads

if TYPE_CHECKING:
    from ..source import Source

SHOWN = 200


def pool_rows(reads: TrialReads) -> list[tuple[str, ...]] | None:
    """The newest hypotheses as table rows (None: the project has no pool, or no store to read)."""
    if not isinstance(reads, StoreReads):
        return None
    rows = read_pool(reads.store, SHOWN)
    return table(rows) if rows else None


class HypothesesScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,h,q", "close", "Close", id="hypotheses.close")]

    def __init__(self, source: Source) -> None:
        super().__init__(classes="modal")
        self.source = source

    def compose(self) -> ComposeResult:
        with Vertical(id="hypotheses-dialog", classes="dialog"):
            yield Label("Hypothesis pool", classes="dialog-title")
            yield DataTable(id="hypotheses-table", cursor_type="row", zebra_stripes=True)
            yield Label(f"Newest first (at most {SHOWN}). value: valuation and results, as the UCB choice sees "
                        "them; U/Q/E: utility, quality, exploration. escape closes.", classes="dialog-help",
                        markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self._load()

    @work(exclusive=True, group="hypotheses", exit_on_error=False)
    async def _load(self) -> None:
        rows = await self.source.ask(pool_rows)
        data = self.query_one(DataTable)
        if not rows:
            data.add_row("-", "-", "no hypotheses yet", "", "", "", "", "the LLM leader's THINK fills the pool")
            return
        for row in rows:
            data.add_row(*row)

    def action_close(self) -> None:
        self.dismiss(None)
