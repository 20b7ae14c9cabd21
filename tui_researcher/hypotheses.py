"""The hypothesis pool: proposals valued by the leader, chosen by an upper-confidence rule, kept in the store.

Why a pool: one idea per THINK, run at once, spends a whole trial on every idea; a pool lets THINK
propose several, each valued (utility, quality, exploration, 0-1), and GPU time goes to the one
with the highest upper-confidence score over that valuation and the results observed so far.
An idea whose implementation fails its dry-run twice is retired before it costs a training run.
The pool holds at most ``strategy.pool_max`` live hypotheses (the oldest low-value ones retire),
so choosing costs the same however long the run; every choice is recorded with its score's parts.

Score (``ucb``): ``mean + c * sqrt(ln(N + 1) / (n + 1))`` where the valuation counts as one
observation, ``mean = (prior + sum of rewards) / (n + 1)``, ``prior`` the valuation's mean, ``n``
the hypothesis's results, ``N`` all results of the pool. Reward: 1 for a kept trial (a new best),
0.3 for a finite result that did not beat the best, 0 for a failure. ``fifo``: the oldest open one.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .store import Store, dumps
from .trial import Trial, TrialStatus, better

SCHEMA = """
CREATE TABLE IF NOT EXISTS hypotheses(id INTEGER PRIMARY KEY AUTOINCREMENT, created REAL NOT NULL,
    role TEXT NOT NULL DEFAULT '', text TEXT NOT NULL, plan TEXT NOT NULL, utility REAL NOT NULL,
    quality REAL NOT NULL, exploration REAL NOT NULL, status TEXT NOT NULL DEFAULT 'open',
    tries INTEGER NOT NULL DEFAULT 0, outcomes INTEGER NOT NULL DEFAULT 0, reward REAL NOT NULL DEFAULT 0,
    best REAL, dry_fails INTEGER NOT NULL DEFAULT 0, last_trial TEXT NOT NULL DEFAULT '',
    why TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS hypotheses_status ON hypotheses(status);
CREATE TABLE IF NOT EXISTS hypothesis_choices(seq INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,
    trial_id TEXT NOT NULL, hypothesis_id INTEGER NOT NULL, rule TEXT NOT NULL, parts TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS hypothesis_choices_trial ON hypothesis_choices(trial_id);
"""
LIVE = ("open", "running")
DRY_RUN_FAILURES = 2
"""Failed dry-runs that retire a hypothesis without a training run."""
REWARD = {"keep": 1.0, "result": 0.3, "failure": 0.0}


def ensure_schema(store: Store) -> None:
    """The pool's tables, created in a store of any age (a project made before them takes them on open)."""
    if store.meta("hypotheses_schema") == "1":
        return
    with store.transaction() as c:
        for statement in SCHEMA.strip().split(";\n"):
            c.execute(statement)
        store.set_meta("hypotheses_schema", "1")


@dataclass
class Proposal:
    text: str
    plan: dict[str, Any] = field(default_factory=dict)
    """The rest of the plan: task, params, success_criteria, parent."""
    utility: float = 0.5
    quality: float = 0.5
    exploration: float = 0.5
    role: str = ""


@dataclass
class Hypothesis:
    id: int
    created: float
    role: str
    text: str
    plan: dict[str, Any]
    utility: float
    quality: float
    exploration: float
    status: str
    tries: int
    outcomes: int
    reward: float
    best: float | None
    dry_fails: int
    last_trial: str
    why: str

    @property
    def prior(self) -> float:
        return (self.utility + self.quality + self.exploration) / 3

    @property
    def value(self) -> float:
        """The valuation and the rewards observed, one observation each."""
        return (self.prior + self.reward) / (self.outcomes + 1)


_COLUMNS = "id, created, role, text, plan, utility, quality, exploration, status, tries, outcomes, reward, best, " \
           "dry_fails, last_trial, why"


def _row(row: tuple) -> Hypothesis:
    values = list(row)
    values[4] = json.loads(values[4])
    return Hypothesis(*values)


def ucb_parts(h: Hypothesis, total: int, c: float) -> dict[str, float]:
    """The score and its parts, as recorded for the choice (hand-checkable)."""
    bonus = c * math.sqrt(math.log(total + 1) / (h.outcomes + 1))
    return {"prior": round(h.prior, 6), "observed": round(h.reward / h.outcomes, 6) if h.outcomes else None,
            "n": h.outcomes, "N": total, "mean": round(h.value, 6), "bonus": round(bonus, 6),
            "score": round(h.value + bonus, 6)}


@dataclass
class Choice:
    hypothesis: Hypothesis
    rule: str
    parts: dict[str, Any]


class Pool:
    def __init__(self, store: Store, *, pool_max: int = 20, max_tries: int = 1, goal: str = "max") -> None:
        self.store, self.pool_max, self.max_tries, self.goal = store, pool_max, max_tries, goal
        ensure_schema(store)

    # reads ---------------------------------------------------------------------------------------

    def get(self, hid: int) -> Hypothesis | None:
        rows = self.store.query(f"SELECT {_COLUMNS} FROM hypotheses WHERE id=?", (hid,))
        return _row(rows[0]) if rows else None

    def live(self) -> list[Hypothesis]:
        """Open and running hypotheses (at most pool_max: the status index, never the retired ones)."""
        return [_row(r) for r in self.store.query(
            f"SELECT {_COLUMNS} FROM hypotheses WHERE status IN ('open', 'running') ORDER BY id")]

    def newest(self, limit: int = 200) -> list[Hypothesis]:
        """Every status, newest first: for the views."""
        return [_row(r) for r in self.store.query(f"SELECT {_COLUMNS} FROM hypotheses ORDER BY id DESC LIMIT ?",
                                                  (limit,))]

    def of_trial(self, trial_id: str) -> tuple[Hypothesis, dict] | None:
        rows = self.store.query("SELECT hypothesis_id, parts FROM hypothesis_choices WHERE trial_id=? "
                                "ORDER BY seq DESC LIMIT 1", (trial_id,))
        if not rows:
            return None
        h = self.get(rows[0][0])
        return (h, json.loads(rows[0][1])) if h else None

    def total_outcomes(self) -> int:
        return int(self.store.meta("hypotheses_outcomes") or 0)

    # writes --------------------------------------------------------------------------------------

    def add(self, proposals: list[Proposal]) -> list[int]:
        """Store the proposals, then retire the oldest low-value open ones past pool_max."""
        now = time.time()
        ids = []
        with self.store.transaction() as c:
            for p in proposals:
                ids.append(c.execute(
                    "INSERT INTO hypotheses(created, role, text, plan, utility, quality, exploration) "
                    "VALUES(?, ?, ?, ?, ?, ?, ?)", (now, p.role, p.text, dumps(p.plan), _unit(p.utility),
                                                    _unit(p.quality), _unit(p.exploration))).lastrowid)
            live = self.live()
            excess = len(live) - self.pool_max
            if excess > 0:
                for h in sorted((h for h in live if h.status == "open"), key=lambda h: (h.value, h.created, h.id)
                                )[:excess]:
                    self._set(h.id, status="retired", why=f"pool full (strategy.pool_max={self.pool_max}): "
                                                          f"lowest value {h.value:.3f}")
        return ids

    def choose(self, rule: str, c: float, *, roles: tuple[str, ...] = (), avoid: tuple[str, ...] = ()
               ) -> Choice | None:
        """The open hypothesis to run next: of ``roles`` when any is open, else of a role not in ``avoid``."""
        candidates = [h for h in self.live() if h.status == "open"]
        for keep in (lambda h: h.role in roles, lambda h: h.role not in avoid, lambda h: True):
            subset = [h for h in candidates if keep(h)] if (roles or avoid) else candidates
            if subset:
                candidates = subset
                break
        if not candidates:
            return None
        if rule == "fifo":
            h = min(candidates, key=lambda h: h.id)
            return Choice(h, "fifo", {"created": h.created, "id": h.id})
        total = self.total_outcomes()
        scored = [(ucb_parts(h, total, c), h) for h in candidates]
        parts, h = max(scored, key=lambda s: (s[0]["score"], -s[1].id))
        return Choice(h, "ucb", parts)

    def started(self, choice: Choice, trial_id: str) -> None:
        with self.store.transaction() as c:
            c.execute("INSERT INTO hypothesis_choices(ts, trial_id, hypothesis_id, rule, parts) VALUES(?, ?, ?, ?, ?)",
                      (time.time(), trial_id, choice.hypothesis.id, choice.rule, dumps(choice.parts)))
            c.execute("UPDATE hypotheses SET status='running', tries=tries+1, last_trial=? WHERE id=?",
                      (trial_id, choice.hypothesis.id))

    def dry_run_failed(self, hid: int) -> bool:
        """Count one failed dry-run; True when this one retires the hypothesis."""
        h = self.get(hid)
        if h is None or h.status == "retired":
            return h is not None
        fails = h.dry_fails + 1
        retire = fails >= DRY_RUN_FAILURES
        self._set(hid, dry_fails=fails, **({"status": "retired", "why": f"its dry-run failed {fails} times: "
                                                                        f"retired without a training run"}
                                           if retire else {}))
        return retire

    def finished(self, trial: Trial) -> Hypothesis | None:
        """A trial of a hypothesis ended: its reward and best result are counted once."""
        found = self.of_trial(trial.id)
        if found is None:
            return None
        h, _ = found
        if h.last_trial != trial.id or h.status != "running":
            return h        # counted already (a REFLECT owed again after a restart), or retired meanwhile
        if trial.status in (TrialStatus.DRY_RUN_FAILED, TrialStatus.CANCELLED):
            self._set(h.id, status="open")      # it never trained: a try is a result (a second failed dry-run retires)
            return self.get(h.id)
        outcomes = h.outcomes + 1
        changes: dict[str, Any] = {"status": "done" if outcomes >= self.max_tries else "open", "outcomes": outcomes,
                                   "reward": h.reward + reward(trial)}
        if better(trial.metric, h.best, self.goal):
            changes["best"] = trial.metric
        with self.store.transaction():
            self.store.set_meta("hypotheses_outcomes", str(self.total_outcomes() + 1))
            self._set(h.id, **changes)
        return self.get(h.id)

    def reopen_interrupted(self, trial_of: Callable[[str], Trial | None]) -> list[int]:
        """Running hypotheses whose trial never launched (the controller stopped first): open again, the try
        given back, as the trial's configuration is."""
        reopened = []
        for h in self.live():
            trial = trial_of(h.last_trial) if h.status == "running" else None
            if h.status == "running" and (trial is None or trial.status == TrialStatus.INTERRUPTED):
                self._set(h.id, status="open", tries=max(0, h.tries - 1))
                reopened.append(h.id)
        return reopened

    def _set(self, hid: int, **changes: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in changes)
        with self.store.transaction() as c:
            c.execute(f"UPDATE hypotheses SET {sets} WHERE id=?", (*changes.values(), hid))

    def render(self, max_lines: int = 30) -> str:
        """The live pool as the leader sees it: one line each, highest value first."""
        live = sorted(self.live(), key=lambda h: -h.value)[:max_lines]
        return "\n".join(f"h{h.id}{f' [{h.role}]' if h.role else ''} {h.status} value={h.value:.2f} "
                         f"tries={h.tries} best={'-' if h.best is None else f'{h.best:.4g}'}: {h.text[:120]}"
                         for h in live) or "empty"


def reward(trial: Trial) -> float:
    if trial.status == TrialStatus.KEEP:
        return REWARD["keep"]
    if trial.metric is not None and math.isfinite(trial.metric):
        return REWARD["result"]
    return REWARD["failure"]


def _unit(value: Any) -> float:
    try:
        return min(1.0, max(0.0, float(value)))
    except (TypeError, ValueError):
        return 0.5


COLUMNS = ("id", "role", "status", "value", "U/Q/E", "tries", "best", "hypothesis")


def table(rows: list[Hypothesis]) -> list[tuple[str, ...]]:
    """The pool as rows of text: the CLI's ``hypotheses`` and the app's view show the same columns."""
    return [(f"h{h.id}", h.role or "-", h.status + (f" ({h.why[:60]})" if h.status == "retired" and h.why else ""),
             f"{h.value:.2f}", f"{h.utility:.1f}/{h.quality:.1f}/{h.exploration:.1f}", str(h.tries),
             "-" if h.best is None else f"{h.best:.4g}", " ".join(h.text.split())[:100]) for h in rows]


def read_pool(store: Store, limit: int = 200) -> list[Hypothesis] | None:
    """The newest hypotheses for a reader (another process): None when the project never had a pool."""
    if store.meta("hypotheses_schema") is None:
        return None
    return Pool(store).newest(limit)
