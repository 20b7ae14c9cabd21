"""The lineage every agent reads: the best chain, the last trials, and failures grouped by label.

Why a view of its own: the leader and the workers must see what was tried, what it changed and
what came of it, or dead ends fall out of the 2,000-char memory and get tried again. It is built
from indexed questions only (the best by the ``(status, metric)`` index, the chain by primary
key, the last N by walking the table backwards, the failure groups from a running aggregate
kept by triggers), so its cost is the same at the 10th trial and the 100,000th; its text is cut
to ``memory.lineage_max_chars``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codediff import unified
from .store import Store
from .trial import Trial, TrialStatus

FAILURES = tuple(str(s) for s in (TrialStatus.CRASH, TrialStatus.DRY_RUN_FAILED, TrialStatus.GATED, TrialStatus.NAN,
                                  TrialStatus.STALLED, TrialStatus.TIMEOUT, TrialStatus.LAUNCH_FAILED))
CHAIN_MAX = 12
"""Links of the best chain followed back (each one primary-key lookup)."""
RECENT = 8
FAILURE_GROUPS = 6
LINE_MAX = 260
PARENT_DIFF_MAX_CHARS = 6000
"""The parent's diff as the code worker gets it at most."""

_STATUSES = ",".join(f"'{s}'" for s in FAILURES)
_KEY = "NEW.status || ':' || substr(lower(trim(coalesce(json_extract(NEW.record, '$.label'), ''))), 1, 60)"
_GROUP = (f"INSERT INTO failure_groups(key, status, label, n, example, last) VALUES({_KEY}, NEW.status, "
          f"substr(coalesce(json_extract(NEW.record, '$.label'), ''), 1, 200), 1, NEW.id, NEW.id) "
          f"ON CONFLICT(key) DO UPDATE SET n = n + 1, last = excluded.last")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS trial_diffs(seq INTEGER PRIMARY KEY AUTOINCREMENT, trial_id TEXT NOT NULL,
    path TEXT NOT NULL, added INTEGER NOT NULL, removed INTEGER NOT NULL, diff TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS trial_diffs_trial ON trial_diffs(trial_id);
CREATE TABLE IF NOT EXISTS failure_groups(key TEXT PRIMARY KEY, status TEXT NOT NULL, label TEXT NOT NULL,
    n INTEGER NOT NULL, example TEXT NOT NULL, last TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS failure_groups_n ON failure_groups(n);
CREATE TRIGGER IF NOT EXISTS failure_groups_update AFTER UPDATE OF finished ON trials
    WHEN OLD.finished = 0 AND NEW.finished = 1 AND NEW.status IN ({_STATUSES}) BEGIN {_GROUP}; END;
CREATE TRIGGER IF NOT EXISTS failure_groups_insert AFTER INSERT ON trials
    WHEN NEW.finished = 1 AND NEW.status IN ({_STATUSES}) BEGIN {_GROUP}; END;
"""

_BACKFILL = (f"INSERT OR IGNORE INTO failure_groups(key, status, label, n, example, last) "
             f"SELECT {_KEY.replace('NEW.', '')} AS k, status, substr(coalesce(json_extract(record, '$.label'), ''), "
             f"1, 200), COUNT(*), MIN(id), MAX(id) FROM trials WHERE finished = 1 AND status IN ({_STATUSES}) "
             f"GROUP BY k")


def ensure_schema(store: Store) -> None:
    """Create the lineage's tables in a store of any age; a project made before them is backfilled once."""
    if store.meta("lineage_schema") == "1":
        return
    with store.transaction() as c:
        for statement in _statements(SCHEMA):
            c.execute(statement)
        c.execute(_BACKFILL)
        store.set_meta("lineage_schema", "1")


def _statements(script: str) -> list[str]:
    """A script's statements, one each (a trigger's body keeps its own semicolons)."""
    out, buf = [], ""
    for line in script.strip().splitlines():
        buf += line + "\n"
        trigger = buf.lstrip().startswith("CREATE TRIGGER")
        if buf.rstrip().endswith("END;" if trigger else ";"):
            out.append(buf.strip())
            buf = ""
    return out


def add_diff(store: Store, trial_id: str, path: str, old: str, new: str) -> None:
    """A file a worker wrote for this trial, as a unified diff (its summary is counted once, here)."""
    text = unified(old, new, path)
    if not text:
        return
    lines = text.splitlines()[2:]       # past the ---/+++ header
    added = sum(1 for line in lines if line.startswith("+"))
    removed = sum(1 for line in lines if line.startswith("-"))
    with store.transaction() as c:
        c.execute("INSERT INTO trial_diffs(trial_id, path, added, removed, diff) VALUES(?, ?, ?, ?, ?)",
                  (trial_id, path, added, removed, text.rstrip("\n")))


def diff_summary(store: Store, trial_id: str) -> str:
    """``train.py +3 -1, model.py +10 -0``: the files a trial changed, every write of each counted."""
    if store.meta("lineage_schema") is None:
        return ""
    rows = store.query("SELECT path, added, removed FROM trial_diffs WHERE trial_id=? ORDER BY seq", (trial_id,))
    files: dict[str, tuple[int, int]] = {}
    for path, added, removed in rows:
        before = files.get(path, (0, 0))
        files[path] = (before[0] + added, before[1] + removed)
    return ", ".join(f"{p} +{a} -{r}" for p, (a, r) in files.items())


def full_diff(store: Store, trial_id: str, max_chars: int = PARENT_DIFF_MAX_CHARS) -> str:
    text = "\n".join(r[0] for r in store.query("SELECT diff FROM trial_diffs WHERE trial_id=? ORDER BY seq",
                                               (trial_id,)))
    if len(text) > max_chars:
        return text[:max_chars] + f"\n[... {len(text) - max_chars:,} more chars of diff not shown]"
    return text


@dataclass(frozen=True)
class FailureGroup:
    status: str
    label: str
    n: int
    example: str


def failure_groups(store: Store, limit: int = FAILURE_GROUPS) -> list[FailureGroup]:
    if store.meta("lineage_schema") is None:
        return []       # a store opened by a reader before any controller of this version ran
    rows = store.query("SELECT status, label, n, example FROM failure_groups ORDER BY n DESC LIMIT ?", (limit,))
    return [FailureGroup(*r) for r in rows]


class Lineage:
    """The lineage text for prompts, bounded by ``max_chars`` however long the run."""

    def __init__(self, store: Store, goal: str, metric: str, max_chars: int) -> None:
        self.store, self.goal, self.metric, self.max_chars = store, goal, metric, max_chars

    def chain(self) -> list[Trial]:
        """The best trial and its ancestors, oldest first (at most ``CHAIN_MAX``, a cycle cannot loop)."""
        data = self.store.best(self.goal)
        chain: list[Trial] = []
        seen: set[str] = set()
        while data is not None and len(chain) < CHAIN_MAX and data["id"] not in seen:
            trial = Trial.from_dict(data)
            seen.add(trial.id)
            chain.append(trial)
            data = self.store.trial(trial.parent) if trial.parent else None
        return chain[::-1]

    def line(self, trial: Trial, parent: Trial | None = None) -> str:
        value = "-" if trial.metric is None else f"{trial.metric:.6g}"
        result = f"{trial.status} {self.metric}={value}" + (f" ({trial.label[:80]})" if trial.label else "")
        parts = [f"{trial.id}{f' [{trial.role}]' if trial.role else ''} {result}"]
        if trial.hypothesis:
            parts.append(f"hypothesis: {' '.join(trial.hypothesis.split())[:100]}")
        parts.append(f"changed: {self.changes(trial, parent)}")
        line = " | ".join(parts)
        return line if len(line) <= LINE_MAX else line[:LINE_MAX - 1] + "…"

    def changes(self, trial: Trial, parent: Trial | None) -> str:
        base = parent.params if parent is not None else {}
        moved = [f"{k} {base[k]}->{v}" if k in base else f"{k}={v}"
                 for k, v in trial.params.items() if base.get(k, object()) != v]
        files = diff_summary(self.store, trial.id)
        return "; ".join(x for x in (" ".join(moved), files) if x) or (trial.command[:80] or "nothing recorded")

    def sections(self) -> list[tuple[str, list[str]]]:
        chain = self.chain()
        chain_lines = [self.line(t, chain[i - 1] if i else self._parent(t)) for i, t in enumerate(chain)]
        recent = [Trial.from_dict(d) for d in self.store.recent(RECENT, finished=True)]
        recent_lines = [self.line(t, self._parent(t)) for t in recent]
        failure_lines = [f"{g.n}x {g.status}: {g.label[:120] or 'no label'} (e.g. {g.example})"
                         for g in failure_groups(self.store)]
        return [("Best chain (oldest first, the best last)", 0.4, chain_lines), ("Last trials", 0.35, recent_lines),
                ("Failures by label (one example each)", 0.25, failure_lines)]

    def _parent(self, trial: Trial) -> Trial | None:
        data = self.store.trial(trial.parent) if trial.parent else None
        return Trial.from_dict(data) if data else None

    def render(self) -> str:
        """Each section gets a share of the budget; what one leaves unused passes to the next. The best
        trial (the chain's last line) is kept before its ancestors."""
        sections = [(title, share, lines) for title, share, lines in self.sections() if lines]
        if not sections:
            return "no trials yet"
        out: list[str] = []
        spare = 0.0
        for title, share, lines in sections:
            chain = title.startswith("Best")
            budget = self.max_chars * share + spare
            kept = _fit(f"## {title}", lines[::-1] if chain else lines, budget)
            if kept and chain:
                kept = [kept[0], *kept[1:][::-1]]
            used = sum(len(l) + 1 for l in kept)
            spare = max(0.0, budget - used)
            out += kept
        text = "\n".join(out)
        return text if len(text) <= self.max_chars else text[:self.max_chars - 1] + "…"


def _fit(header: str, lines: list[str], budget: float) -> list[str]:
    """The header and as many lines, in order, as fit in ``budget`` chars (nothing if not even one)."""
    kept = [header]
    used = len(header) + 1
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    return kept if len(kept) > 1 else []
