"""The hypothesis pool: the UCB choice on hand-computed cases, FIFO, retirement past pool_max and after dry-runs."""

from __future__ import annotations

import math

import pytest

from tui_researcher.hypotheses import Pool, Proposal, ensure_schema
from tui_researcher.store import Store
from tui_researcher.trial import Trial, TrialStatus


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "researcher.db")


def proposal(text: str, u: float, q: float, e: float, role: str = "") -> Proposal:
    return Proposal(text=text, plan={"task": text, "params": {"x": text}}, utility=u, quality=q, exploration=e,
                    role=role)


def run(pool: Pool, rule: str, tid: str, status: TrialStatus, metric: float | None, c: float = 1.0):
    choice = pool.choose(rule, c)
    pool.started(choice, tid)
    pool.finished(Trial(id=tid, cycle=int(tid[1:]), status=status, metric=metric))
    return choice


def test_ucb_chooses_by_valuation_first_then_by_results_with_its_parts_recorded(store):
    pool = Pool(store, pool_max=10, max_tries=3)
    a, b, c = pool.add([proposal("a", 0.9, 0.6, 0.3), proposal("b", 0.3, 0.3, 0.3), proposal("c", 0.6, 0.9, 0.9)])
    # no results yet: N=0, bonus = c*sqrt(ln 1 / 1) = 0; scores are the priors 0.6, 0.3, 0.8
    first = run(pool, "ucb", "t0001", TrialStatus.CRASH, None)
    assert first.hypothesis.id == c
    assert first.parts == {"prior": 0.8, "observed": None, "n": 0, "N": 0, "mean": 0.8, "bonus": 0.0, "score": 0.8}
    # c crashed (reward 0): mean (0.8 + 0) / 2 = 0.4; N=1:
    #   a: 0.6 + sqrt(ln 2 / 1) = 0.6 + 0.832555 = 1.432555;  c: 0.4 + sqrt(ln 2 / 2) = 0.4 + 0.588705
    second = run(pool, "ucb", "t0002", TrialStatus.KEEP, 0.9)
    assert second.hypothesis.id == a
    assert second.parts["score"] == pytest.approx(0.6 + math.sqrt(math.log(2)), abs=1e-6)
    # a kept (reward 1): mean (0.6 + 1) / 2 = 0.8; N=2, bonus(n=1) = sqrt(ln 3 / 2) = 0.741109
    #   a: 1.541109; b: 0.3 + sqrt(ln 3) = 1.348147; c: 0.4 + 0.741109 = 1.141109
    third = run(pool, "ucb", "t0003", TrialStatus.DISCARD, 0.5)
    assert third.hypothesis.id == a and third.parts["observed"] == 1.0 and third.parts["N"] == 2
    assert third.parts["score"] == pytest.approx(0.8 + math.sqrt(math.log(3) / 2), abs=1e-6)
    h = pool.get(a)
    assert (h.tries, h.outcomes, h.best, h.status) == (2, 2, 0.9, "open")
    recorded = store.query("SELECT trial_id, hypothesis_id, rule FROM hypothesis_choices ORDER BY seq")
    assert recorded == [("t0001", c, "ucb"), ("t0002", a, "ucb"), ("t0003", a, "ucb")]
    assert pool.of_trial("t0002")[1]["score"] == second.parts["score"]


def test_fifo_runs_the_oldest_open_one_whatever_its_value(store):
    pool = Pool(store, pool_max=10, max_tries=1)
    a, b = pool.add([proposal("a", 0.1, 0.1, 0.1), proposal("b", 1, 1, 1)])
    assert run(pool, "fifo", "t0001", TrialStatus.DISCARD, 0.1).hypothesis.id == a
    assert pool.get(a).status == "done"       # max_tries 1: done after its one trial
    assert run(pool, "fifo", "t0002", TrialStatus.DISCARD, 0.2).hypothesis.id == b
    assert pool.choose("fifo", 1.0) is None


def test_past_pool_max_the_oldest_low_value_open_ones_retire(store):
    pool = Pool(store, pool_max=3)
    old_low, high, _ = pool.add([proposal("old low", 0.2, 0.2, 0.2), proposal("high", 0.9, 0.9, 0.9),
                                 proposal("mid", 0.5, 0.5, 0.5)])
    new_low, newer = pool.add([proposal("new low", 0.2, 0.2, 0.2), proposal("newer", 0.7, 0.7, 0.7)])
    live = {h.text for h in pool.live()}
    assert live == {"high", "mid", "newer"}
    assert pool.get(old_low).status == "retired" and "strategy.pool_max=3" in pool.get(old_low).why
    assert pool.get(new_low).status == "retired"


def test_two_failed_dry_runs_retire_a_hypothesis(store):
    pool = Pool(store)
    (h,) = pool.add([proposal("a", 1, 1, 1)])
    pool.started(pool.choose("ucb", 1.0), "t0001")
    assert pool.dry_run_failed(h) is False
    pool.finished(Trial(id="t0001", cycle=1, status=TrialStatus.DRY_RUN_FAILED))
    assert pool.get(h).status == "open" and pool.get(h).outcomes == 0     # it never trained: offered again
    pool.started(pool.choose("ucb", 1.0), "t0002")
    assert pool.dry_run_failed(h) is True
    assert pool.get(h).status == "retired" and "dry-run failed 2 times" in pool.get(h).why
    assert pool.choose("ucb", 1.0) is None


def test_a_result_counted_once_even_if_reflected_again(store):
    pool = Pool(store)
    (h,) = pool.add([proposal("a", 1, 1, 1)])
    run(pool, "ucb", "t0001", TrialStatus.KEEP, 0.9)
    pool.finished(Trial(id="t0001", cycle=1, status=TrialStatus.KEEP, metric=0.9))
    assert (pool.get(h).outcomes, pool.total_outcomes()) == (1, 1)


def test_an_existing_store_takes_the_pool_schema_once(tmp_path):
    path = tmp_path / "old.db"
    Store(path).close()
    store = Store(path)
    assert store.query("SELECT name FROM sqlite_master WHERE name='hypotheses'") == []
    ensure_schema(store)
    ensure_schema(store)
    assert store.query("SELECT name FROM sqlite_master WHERE name='hypotheses'") == [("hypotheses",)]


def test_a_hypothesis_whose_trial_never_launched_is_open_again(store):
    pool = Pool(store)
    a, b = pool.add([proposal("a", 1, 1, 1), proposal("b", 0.5, 0.5, 0.5)])
    pool.started(pool.choose("ucb", 1.0), "t0001")
    pool.started(pool.choose("ucb", 1.0), "t0002")
    trials = {"t0001": Trial(id="t0001", cycle=1, status=TrialStatus.INTERRUPTED),
              "t0002": Trial(id="t0002", cycle=2, status=TrialStatus.RUNNING)}
    assert pool.reopen_interrupted(trials.get) == [a]
    assert (pool.get(a).status, pool.get(a).tries) == ("open", 0)
    assert pool.get(b).status == "running"                  # its trial runs: it stays taken
