"""The lineage view: the best chain, the last trials, failures grouped by label; bounded and of constant cost."""

from __future__ import annotations

import sqlite3

from tui_researcher.ledger import Ledger
from tui_researcher.lineage import Lineage, add_diff, ensure_schema, failure_groups, full_diff
from tui_researcher.store import Store
from tui_researcher.trial import Trial, TrialStatus

CHAIN = {"t0001": (None, 0.60, "baseline"), "t0500": ("t0001", 0.80, "wider layer helps"),
         "t4000": ("t0500", 0.90, "cosine schedule"), "t9000": ("t4000", 0.97, "warmup keeps the high lr stable")}


def chain_of(n: int) -> dict[str, tuple]:
    """The chain above placed at the same fractions of a ledger of ``n`` trials."""
    def at(tid: str | None) -> str | None:
        return None if tid is None else f"t{max(1, int(tid[1:]) * n // 10_000):04d}"
    return {at(tid): (at(parent), metric, why) for tid, (parent, metric, why) in CHAIN.items()}


def build(store: Store, n: int) -> Ledger:
    """``n`` trials: the chain above, discards, and failures under three labels, in one transaction."""
    ledger = Ledger(store)
    chain = chain_of(n)
    with store.transaction():
        for i in range(1, n + 1):
            tid = f"t{i:04d}"
            trial = Trial(id=tid, cycle=i, hypothesis=f"idea {i}", params={"lr": i % 7, "hidden": 8})
            ledger.record(trial, "planned")
            if tid in chain:
                parent, metric, why = chain[tid]
                trial.parent, trial.status, trial.metric, trial.hypothesis = parent, TrialStatus.KEEP, metric, why
                trial.params = {"lr": 0.1, "hidden": 8 * (1 + list(chain).index(tid))}
            elif i % 10 == 3:
                trial.status, trial.label = TrialStatus.CRASH, "CUDA out of memory (simulated)"
            elif i % 10 == 7:
                trial.status, trial.label = TrialStatus.DRY_RUN_FAILED, "dry-run exit 1: SyntaxError"
            elif i % 100 == 11:
                trial.status, trial.label = TrialStatus.NAN, "loss became nan"
            else:
                trial.status, trial.metric = TrialStatus.DISCARD, 0.5
            ledger.record(trial, "finished")
    return ledger


def queries(store: Store, lineage: Lineage) -> list[str]:
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        lineage.render()
    finally:
        store.conn.set_trace_callback(None)
    return seen


def test_lineage_at_10000_trials_is_bounded_has_the_best_chain_and_costs_what_it_costs_at_100(tmp_path):
    store = Store(tmp_path / "big.db")
    ensure_schema(store)
    build(store, 10_000)
    add_diff(store, "t9000", "train.py", "lr = 0.1\n", "lr = 0.1\nwarmup = 100\n")
    lineage = Lineage(store, "max", "val_acc", 3000)
    text = lineage.render()

    assert len(text) <= 3000
    chain = text.split("## Last trials")[0]
    positions = [chain.index(f"{tid} keep") for tid in CHAIN]
    assert positions == sorted(positions)                       # oldest first, the best last
    assert "t9000 keep val_acc=0.97 | hypothesis: warmup keeps the high lr stable" in chain
    assert "changed: hidden 24->32; train.py +1 -0" in chain    # params against its parent, and its diff
    assert "t9999 discard" in text.split("## Last trials")[1]
    failures = text.split("## Failures by label (one example each)")[1]
    assert "1000x crash: CUDA out of memory (simulated) (e.g. t0003)" in failures
    assert "1000x dry_run_failed: dry-run exit 1: SyntaxError (e.g. t0007)" in failures
    assert "100x nan: loss became nan (e.g. t0011)" in failures

    small = Store(tmp_path / "small.db")
    ensure_schema(small)
    build(small, 1_000)
    add_diff(small, "t0900", "train.py", "lr = 0.1\n", "lr = 0.1\nwarmup = 100\n")
    # the same statements whatever the ledger's length: no question walks the trials
    assert len(queries(store, lineage)) == len(queries(small, Lineage(small, "max", "val_acc", 3000)))


def test_a_small_budget_keeps_the_best_trial_before_its_ancestors(tmp_path):
    store = Store(tmp_path / "s.db")
    ensure_schema(store)
    build(store, 2_000)
    first, *_, best = chain_of(2_000)
    text = Lineage(store, "max", "val_acc", 400).render()
    assert len(text) <= 400
    assert f"{best} keep" in text and f"{first} keep" not in text


def test_an_existing_project_takes_the_schema_on_open_with_its_failures_counted(tmp_path):
    path = tmp_path / "old.db"
    build(Store(path), 30)                                      # written before the lineage's tables existed
    store = Store(path)
    assert failure_groups(store) == []
    ensure_schema(store)
    groups = {(g.status, g.n, g.example) for g in failure_groups(store)}
    assert groups == {("crash", 3, "t0003"), ("dry_run_failed", 2, "t0007"), ("nan", 1, "t0011")}
    ledger = Ledger(store)
    ledger.record(Trial(id="t0031", cycle=31, status=TrialStatus.CRASH, label="cuda OUT of memory (simulated)"),
                  "finished")                                 # the trigger counts it: same label, any case
    ledger.record(ledger.get("t0031"), "reflected")          # recorded again: not counted twice
    assert {(g.status, g.n) for g in failure_groups(store)} >= {("crash", 4)}
    ensure_schema(store)                                        # a second open changes nothing
    assert {(g.status, g.n) for g in failure_groups(store)} >= {("crash", 4)}


def test_the_full_diff_of_a_trial_is_bounded(tmp_path):
    store = Store(tmp_path / "d.db")
    ensure_schema(store)
    add_diff(store, "t0001", "a.py", "", "x = 1\n" * 5000)
    add_diff(store, "t0001", "same.py", "y\n", "y\n")         # no change: no diff
    text = full_diff(store, "t0001", max_chars=500)
    assert text.startswith("--- /dev/null\n+++ b/a.py") and "more chars of diff not shown" in text   # a new file
    assert len(store.query("SELECT * FROM trial_diffs")) == 1


def test_the_store_refuses_nothing_the_triggers_do_not_know(tmp_path):
    """A reader process's connection (no Python functions registered) can still write trials."""
    path = tmp_path / "r.db"
    ensure_schema(Store(path))
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO trials(id, status, finished, record) VALUES('t0001', 'crash', 1, '{\"label\": \"x\"}')")
    conn.commit()
    assert [(g.status, g.n) for g in failure_groups(Store(path))] == [("crash", 1)]
