"""The project's store: one SQLite file (WAL) holding trials, running trials, state and events.

Why one transactional file: "trial recorded" and "trial running" change together, so after a
crash at any instant they cannot disagree. Why SQLite: every question the loop and the faces
ask (best so far, last N, counts by status, tried configurations, unreflected trials, a page of
the trials table, the events after N) is an index lookup, so its cost does not grow with a
month of trials; other processes (``status``, ``attach``) read it while the controller writes.
Tool calls and dry-run output are streams of their own, never copied into a trial's record.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

SCHEMA_VERSION = 1
EVENTS_KEPT = 20_000
"""Events older than the newest this many are trimmed: enough for an attached face to replay."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials(
    id TEXT PRIMARY KEY, status TEXT NOT NULL, metric REAL, params_key TEXT NOT NULL DEFAULT '',
    finished INTEGER NOT NULL DEFAULT 0, reflected INTEGER NOT NULL DEFAULT 0,
    launches INTEGER NOT NULL DEFAULT 0, record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS trials_best ON trials(status, metric);
CREATE INDEX IF NOT EXISTS trials_params ON trials(params_key);
CREATE INDEX IF NOT EXISTS trials_unreflected ON trials(finished, reflected);
CREATE TABLE IF NOT EXISTS trial_events(trial_id TEXT NOT NULL, event TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counts(status TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS running(id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS state(key TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tool_calls(seq INTEGER PRIMARY KEY AUTOINCREMENT, trial_id TEXT NOT NULL,
                                      record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS tool_calls_trial ON tool_calls(trial_id);
CREATE TABLE IF NOT EXISTS dry_runs(seq INTEGER PRIMARY KEY AUTOINCREMENT, trial_id TEXT NOT NULL,
                                    record TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dry_runs_trial ON dry_runs(trial_id);
"""


class StoreError(Exception):
    pass


@dataclass
class Snapshot:
    copy: sqlite3.Connection
    version: int


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


class Store:
    """One connection per store object; ``Store.reader`` opens another for a thread or process that only reads."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        if not create and not path.exists():
            raise StoreError(f"{path}: no store here (has this project ever run?)")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the project's store: {exc}") from exc
        self._depth = 0
        self._lock = threading.RLock()
        self._events_since_trim = 0
        self._journal: list[tuple[str, tuple, dict]] | None = None
        if self.meta("schema") is None:
            with self.transaction():
                self.set_meta("schema", str(SCHEMA_VERSION))

    @classmethod
    def reader(cls, path: Path) -> "Store":
        return cls(path, create=False)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Nested uses join the outermost: everything inside commits together, or nothing does."""
        with self._lock:
            if self._depth == 0:
                self.conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self.conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if self._depth == 0:
                self.conn.execute("COMMIT")

    def _note(self, method: str, *args: Any, **kwargs: Any) -> None:
        if self._journal is not None:
            self._journal.append((method, args, kwargs))

    def snapshot(self) -> "Snapshot":
        """A copy of the whole store, and a journal of this connection's writes from now on.

        For a shell command that runs without the namespace sandbox: if another process wrote the
        store meanwhile, ``restore`` puts the copy back and replays this controller's own writes.
        """
        copy = sqlite3.connect(":memory:", check_same_thread=False)
        with self._lock:
            self.conn.backup(copy)
            self._journal = []
            return Snapshot(copy, self.data_version())

    def tampered(self, snap: "Snapshot") -> bool:
        try:
            return self.data_version() != snap.version or self.query("PRAGMA quick_check")[0][0] != "ok"
        except sqlite3.DatabaseError:
            return True

    def restore(self, snap: "Snapshot") -> None:
        with self._lock:
            journal, self._journal = self._journal or [], None
            snap.copy.backup(self.conn)
            for method, args, kwargs in journal:
                getattr(self, method)(*args, **kwargs)
            snap.copy.close()

    def forget(self, snap: "Snapshot") -> None:
        self._journal = None
        snap.copy.close()

    def query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            return self.conn.execute(sql, tuple(args)).fetchall()

    # meta and state --------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key=?", (key,))
        return rows[0][0] if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                      (key, value))

    def load_state(self) -> tuple[dict | None, dict[str, dict]]:
        """The state's fields (None: never saved) and the running trials by id."""
        rows = self.query("SELECT record FROM state WHERE key='state'")
        running = {tid: json.loads(rec) for tid, rec in self.query("SELECT id, record FROM running")}
        return (json.loads(rows[0][0]) if rows else None), running

    def save_state(self, fields: dict, running: dict[str, dict]) -> None:
        """Rewrites the running set whole: it holds at most experiment.max_parallel entries."""
        self._note("save_state", fields, running)
        with self.transaction() as c:
            c.execute("INSERT INTO state(key, record) VALUES('state', ?) "
                      "ON CONFLICT(key) DO UPDATE SET record=excluded.record", (dumps(fields),))
            c.execute("DELETE FROM running")
            c.executemany("INSERT INTO running(id, record) VALUES(?, ?)",
                          [(tid, dumps(rec)) for tid, rec in running.items()])

    # trials ----------------------------------------------------------------------------------------

    def put_trial(self, tid: str, record: dict, *, status: str, metric: float | None, params_key: str,
                  finished: bool, event: str, ts: float) -> None:
        self._note("put_trial", tid, record, status=status, metric=metric, params_key=params_key, finished=finished,
                   event=event, ts=ts)
        with self.transaction() as c:
            old = c.execute("SELECT status FROM trials WHERE id=?", (tid,)).fetchone()
            c.execute(
                "INSERT INTO trials(id, status, metric, params_key, finished, reflected, launches, record) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status=excluded.status, "
                "metric=excluded.metric, params_key=excluded.params_key, finished=excluded.finished, "
                "reflected=reflected + excluded.reflected, launches=launches + excluded.launches, "
                "record=excluded.record",
                (tid, status, metric, params_key, int(finished), int(event == "reflected"),
                 int(event == "launched"), dumps(record)))
            c.execute("INSERT INTO trial_events(trial_id, event, ts) VALUES(?, ?, ?)", (tid, event, ts))
            if old is None or old[0] != status:
                if old is not None:
                    c.execute("UPDATE counts SET n = n - 1 WHERE status=?", (old[0],))
                c.execute("INSERT INTO counts(status, n) VALUES(?, 1) ON CONFLICT(status) DO UPDATE SET n = n + 1",
                          (status,))

    def trial(self, tid: str) -> dict | None:
        rows = self.query("SELECT record FROM trials WHERE id=?", (tid,))
        return json.loads(rows[0][0]) if rows else None

    def best(self, goal: str) -> dict | None:
        order = "DESC" if goal == "max" else "ASC"
        rows = self.query(f"SELECT record FROM trials WHERE status='keep' AND metric IS NOT NULL "
                          f"ORDER BY metric {order}, rowid ASC LIMIT 1")
        return json.loads(rows[0][0]) if rows else None

    def recent(self, n: int, *, finished: bool = False) -> list[dict]:
        # walk the table backwards and stop at n: the (finished, reflected) index would visit every finished row
        where = "NOT INDEXED WHERE finished=1 " if finished else ""
        rows = self.query(f"SELECT record FROM trials {where}ORDER BY rowid DESC LIMIT ?", (n,))
        return [json.loads(r[0]) for r in reversed(rows)]

    def page(self, after: int, limit: int) -> list[tuple[int, dict]]:
        """Trials in the order they were first recorded, ``limit`` of them after row number ``after``."""
        rows = self.query("SELECT rowid, record FROM trials WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, limit))
        return [(rowid, json.loads(rec)) for rowid, rec in rows]

    def unreflected(self) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM trials WHERE finished=1 AND reflected=0 "
                                         "AND status != 'interrupted' ORDER BY rowid")]

    def launch_count(self, tid: str) -> int:
        rows = self.query("SELECT launches FROM trials WHERE id=?", (tid,))
        return rows[0][0] if rows else 0

    def trial_events(self, tid: str) -> list[str]:
        return [r[0] for r in self.query("SELECT event FROM trial_events WHERE trial_id=? ORDER BY rowid", (tid,))]

    def tried(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        found: set[str] = set()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self.query(
                f"SELECT params_key FROM trials WHERE params_key IN ({marks}) AND status != 'interrupted'", chunk))
        return found

    def counts(self) -> dict[str, int]:
        return {status: n for status, n in self.query("SELECT status, n FROM counts WHERE n > 0")}

    def with_status(self, status: str) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM trials WHERE status=? ORDER BY rowid", (status,))]

    def last_trial_id(self) -> str | None:
        rows = self.query("SELECT id FROM trials ORDER BY rowid DESC LIMIT 1")
        return rows[0][0] if rows else None

    def iter_trials(self, batch: int = 1000) -> Iterator[dict]:
        """Every trial, oldest first, a batch at a time (exports never hold the whole ledger)."""
        after = 0
        while True:
            rows = self.page(after, batch)
            if not rows:
                return
            for _, record in rows:
                yield record
            after = rows[-1][0]

    # read-only helpers for the app's virtual views: each one indexed, none loads every trial ------------

    def last_row(self) -> int:
        """The newest trial's row number; rows run 1..N and trials are never deleted, so it is also the count."""
        return self.query("SELECT MAX(rowid) FROM trials")[0][0] or 0

    def trial_rows(self, ids: Iterable[str]) -> list[tuple[int, dict]]:
        """(row number, record) of the trials with these ids, oldest first (missing ids are skipped)."""
        ids = list(dict.fromkeys(ids))
        rows: list[tuple[int, str]] = []
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows += self.query(f"SELECT rowid, record FROM trials WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        return [(rowid, json.loads(rec)) for rowid, rec in sorted(rows)]

    def metric_points(self, rows: Iterable[int] | None = None) -> list[tuple[int, str, str, float]]:
        """(row, id, status, metric) of finished trials with a metric, oldest first: all of them, or those at ``rows``."""
        sql = "SELECT rowid, id, status, metric FROM trials {} WHERE finished=1 AND metric IS NOT NULL"
        if rows is None:
            return self.query(sql.format("") + " ORDER BY rowid")
        wanted = list(rows)
        found: list[tuple[int, str, str, float]] = []
        for i in range(0, len(wanted), 500):   # NOT INDEXED: rowid lookups, not a walk of the (finished, ...) index
            chunk = wanted[i:i + 500]
            found += self.query(f"{sql.format('NOT INDEXED')} AND rowid IN ({','.join('?' * len(chunk))})", chunk)
        return sorted(found)

    def kept_points(self) -> list[tuple[int, str, str, float]]:
        """(row, id, status, metric) of every kept trial with a metric, oldest first: the best-so-far steps."""
        return self.query("SELECT rowid, id, status, metric FROM trials WHERE status='keep' AND metric IS NOT NULL "
                          "ORDER BY rowid")

    # streams of their own: tool calls and dry-run output -----------------------------------------------

    def add_tool_call(self, tid: str, record: dict) -> None:
        self._note("add_tool_call", tid, record)
        with self.transaction() as c:
            c.execute("INSERT INTO tool_calls(trial_id, record) VALUES(?, ?)", (tid, dumps(record)))

    def tool_calls(self, tid: str) -> list[dict]:
        return [json.loads(r[0]) for r in self.query("SELECT record FROM tool_calls WHERE trial_id=? ORDER BY seq",
                                                     (tid,))]

    def add_dry_run(self, tid: str, record: dict) -> None:
        self._note("add_dry_run", tid, record)
        with self.transaction() as c:
            c.execute("INSERT INTO dry_runs(trial_id, record) VALUES(?, ?)", (tid, dumps(record)))

    def dry_runs(self, tid: str) -> list[dict]:
        return [json.loads(r[0]) for r in self.query("SELECT record FROM dry_runs WHERE trial_id=? ORDER BY seq",
                                                     (tid,))]

    # events --------------------------------------------------------------------------------------------

    def append_event(self, record: dict, ts: float) -> int:
        self._note("append_event", record, ts)
        with self.transaction() as c:
            seq = c.execute("INSERT INTO events(ts, record) VALUES(?, ?)", (ts, dumps(record))).lastrowid
            self._events_since_trim += 1
            if self._events_since_trim >= 1000:
                self._events_since_trim = 0
                c.execute("DELETE FROM events WHERE seq <= ?", (seq - EVENTS_KEPT,))
        return int(seq)

    def events_after(self, seq: int, limit: int = 1000) -> list[tuple[int, dict]]:
        rows = self.query("SELECT seq, record FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))
        return [(s, json.loads(rec)) for s, rec in rows]

    def last_event_seq(self) -> int:
        rows = self.query("SELECT MAX(seq) FROM events")
        return rows[0][0] or 0

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap 'did anything change?' for readers."""
        return self.query("PRAGMA data_version")[0][0]
