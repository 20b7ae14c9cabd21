"""The trials view's sort and filter: which ledger rows, in which order. Textual-free.

The table stays virtual: an arrangement is only the list of row numbers to show (one int each,
read on the source's reader thread), and the table draws row ``k`` from the page that holds
``order[k]``. The store answers with one query; a list of trials (a scripted source) the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from ..store import Store
from ..trial import Trial

SORTS: dict[str, str] = {
    "id": "rowid",
    "status": "status",
    "metric": "metric",
    "Δ best": "metric",
    "duration": "json_extract(record, '$.duration')",
    "params": "params_key",
    "hypothesis": "json_extract(record, '$.hypothesis')",
}
"""Each column of the table, and what the store sorts it by."""

_HAYSTACK = ("lower(id || ' ' || status || ' ' || coalesce(json_extract(record, '$.hypothesis'), '') || ' ' || "
             "coalesce(json_extract(record, '$.params'), ''))")


@dataclass(frozen=True)
class Arrangement:
    text: str = ""
    """Rows whose id, status, hypothesis or params contain it (case-insensitive)."""
    key: str = "id"
    descending: bool = False

    @property
    def natural(self) -> bool:
        """The ledger's own order, every row: the table needs no list."""
        return not self.text.strip() and self.key == "id" and not self.descending

    def describe(self) -> str:
        parts = []
        if self.text.strip():
            parts.append(f"filter “{self.text.strip()}”")
        if self.key != "id" or self.descending:
            parts.append(f"by {self.key} {'▼' if self.descending else '▲'}")
        return " · ".join(parts)


def store_order(store: Store, arrangement: Arrangement) -> list[int]:
    """Row numbers in the arrangement's order; a trial without the sorted value goes last either way."""
    expr = SORTS.get(arrangement.key, "rowid")
    direction = "DESC" if arrangement.descending else "ASC"
    where, args = "", []
    if arrangement.text.strip():
        where, args = f"WHERE {_HAYSTACK} LIKE ? ESCAPE '\\'", [f"%{_escape(arrangement.text.strip().lower())}%"]
    rows = store.query(f"SELECT rowid FROM trials {where} ORDER BY ({expr}) IS NULL, {expr} {direction}, rowid",
                       args)
    return [row for (row,) in rows]


def list_order(trials: list[Trial], arrangement: Arrangement) -> list[int]:
    text = arrangement.text.strip().lower()
    rows = [(k + 1, t) for k, t in enumerate(trials)
            if not text or text in f"{t.id} {t.status} {t.hypothesis} {json.dumps(t.params)}".lower()]
    value: Callable[[int, Trial], Any] = _VALUES.get(arrangement.key, lambda row, t: row)
    known = [(row, t) for row, t in rows if value(row, t) is not None]
    missing = [row for row, t in rows if value(row, t) is None]
    known.sort(key=lambda item: value(*item), reverse=arrangement.descending)   # stable: ties keep row order
    return [row for row, _ in known] + missing


_VALUES: dict[str, Callable[[int, Trial], Any]] = {
    "id": lambda row, t: row, "status": lambda row, t: str(t.status), "metric": lambda row, t: t.metric,
    "Δ best": lambda row, t: t.metric, "duration": lambda row, t: t.duration,
    "params": lambda row, t: json.dumps(t.params, sort_keys=True), "hypothesis": lambda row, t: t.hypothesis,
}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
