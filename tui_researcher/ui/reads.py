"""What the app reads of the project's store, and on which thread.

The app never holds the ledger: the trials view asks for a page of rows, the plot for a bounded
series, the detail dialog for one trial, the bridge for the trials an event named. Each answer is
one indexed query (``TrialReads``), so opening the view costs the same at 100 trials as at 100,000.

SQLite connections belong to the thread that opened them, and no read may hold up the UI, so a
source's reads all run on one ``ReaderThread``: one thread, one read-only connection, opened the
first time it is needed. A project that has not run has no store: its reads answer "nothing yet"
until the store appears. Textual-free; ``source.py`` wraps these in coroutines.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from ..events import Event, event_from_dict
from ..ledger import Ledger
from ..store import Store, StoreError
from ..trial import Trial
from .arrange import Arrangement, list_order, store_order
from .series import BUDGET, Point, Series, stride_for

T = TypeVar("T")

Row = tuple[int, Trial]
"""A trial and its row number in the ledger (1 is the first trial recorded)."""


@dataclass(frozen=True)
class TrialNews:
    """The ledger's news for the app: how many trials there are, and the records that just changed."""

    count: int = 0
    rows: tuple[Row, ...] = ()


class TrialReads(ABC):
    """The questions the app asks of the ledger; called on the source's reader thread only."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def page(self, after: int, limit: int) -> list[Row]:
        """``limit`` trials after row ``after``, oldest first."""

    @abstractmethod
    def rows(self, ids: Iterable[str]) -> list[Row]: ...

    @abstractmethod
    def detail(self, trial_id: str) -> Trial | None:
        """The trial with its tool calls and dry-run output (the detail dialog)."""

    @abstractmethod
    def series(self, budget: int = BUDGET) -> Series: ...

    @abstractmethod
    def order(self, arrangement: Arrangement) -> list[int]:
        """Row numbers sorted and filtered as the trials view asks (``arrange.py``)."""


class StoreReads(TrialReads):
    def __init__(self, store: Store) -> None:
        self.store = store
        self.ledger = Ledger(store)

    def count(self) -> int:
        return self.store.last_row()

    def page(self, after: int, limit: int) -> list[Row]:
        return self.ledger.page(after, limit)

    def rows(self, ids: Iterable[str]) -> list[Row]:
        return [(row, Trial.from_dict(record)) for row, record in self.store.trial_rows(ids)]

    def detail(self, trial_id: str) -> Trial | None:
        return self.ledger.with_calls(trial_id)

    def order(self, arrangement: Arrangement) -> list[int]:
        return store_order(self.store, arrangement)

    def series(self, budget: int = BUDGET) -> Series:
        """Every finished trial when few; else every ``stride``-th row plus every kept trial."""
        rows = self.count()
        stride = stride_for(rows, budget)
        if stride == 1:
            found = self.store.metric_points()
        else:
            found = self.store.metric_points(range(stride, rows + 1, stride)) + self.store.kept_points()
        series = Series(stride=stride, budget=budget)
        series.extend(Point(row, tid, metric, status) for row, tid, status, metric in sorted(found))
        return series


class ListReads(TrialReads):
    """The same answers from a list of trials (a scripted source, or a project with no store yet)."""

    def __init__(self, trials: list[Trial]) -> None:
        self.trials = trials

    def count(self) -> int:
        return len(self.trials)

    def page(self, after: int, limit: int) -> list[Row]:
        return [(after + k + 1, t) for k, t in enumerate(self.trials[after:after + limit])]

    def rows(self, ids: Iterable[str]) -> list[Row]:
        wanted = set(ids)
        return [(k + 1, t) for k, t in enumerate(self.trials) if t.id in wanted]

    def detail(self, trial_id: str) -> Trial | None:
        return next((t for t in self.trials if t.id == trial_id), None)

    def order(self, arrangement: Arrangement) -> list[int]:
        return list_order(self.trials, arrangement)

    def series(self, budget: int = BUDGET) -> Series:
        series = Series(stride=stride_for(len(self.trials), budget), budget=budget)
        series.extend(p for k, t in enumerate(self.trials) if (p := Point.of(k + 1, t)))
        return series


NOTHING_YET = ListReads([])


@dataclass
class EventFollower:
    """The store's events table, read from where this app last was: first the tail, then what is new.

    ``data_version`` changes only when another connection commits, so a poll that finds nothing
    new costs one pragma, not a query.
    """

    seq: int = 0
    version: int | None = None

    def tail(self, store: Store, n: int) -> list[Event]:
        self.seq = max(0, store.last_event_seq() - n)
        return self.new(store)

    def new(self, store: Store, batch: int = 1000) -> list[Event]:
        version = store.data_version()
        if version == self.version:
            return []
        self.version = version   # read before the query: a commit in between is seen now or next time
        events: list[Event] = []
        while rows := store.events_after(self.seq, batch):
            self.seq = rows[-1][0]
            events += [e for _, record in rows if (e := event_from_dict(record)) is not None]
            if len(rows) < batch:
                break
        return events


class ReaderThread:
    """One thread and one read-only connection to the project's store, opened when first needed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-reader")
        self._store: Store | None = None
        """Touched only on the pool's thread."""
        self._closed = False

    async def run(self, fn: Callable[[Store | None], T]) -> T:
        """``fn(store)`` on the reader thread; ``store`` is None while the project has none."""
        if self._closed:
            return fn(None)
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._call, fn)

    def _call(self, fn: Callable[[Store | None], T]) -> T:
        if self._store is None and self.path.exists():
            with contextlib.suppress(StoreError):
                self._store = Store.reader(self.path)
        return fn(self._store)

    async def ask(self, question: Callable[[TrialReads], T]) -> T:
        return await self.run(lambda store: question(StoreReads(store) if store else NOTHING_YET))

    def close(self) -> None:
        """Close the connection on its own thread; the thread ends when that is done."""
        if not self._closed:
            self._closed = True
            self._pool.submit(self._close)
            self._pool.shutdown(wait=False)

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
