"""Every row of the verdict table, in milliseconds: no process, no backend, no clock."""

from __future__ import annotations

import pytest

from tui_researcher.metrics import MetricResult
from tui_researcher.trial import KillOrder, TrialStatus, better
from tui_researcher.verdict import Ending, classify

OK = MetricResult(value=0.9, metrics={"val_acc": 0.9})
TRACEBACK = "Traceback (most recent call last):\n  File \"train.py\"\nValueError: bad shape\n"


def verdict(ending=Ending(exit_code=0), result=OK, log=TRACEBACK, kill=None, best=None, goal="max"):
    return classify(ending, result, log, kill=kill, metric_name="val_acc", goal=goal, best=best)


@pytest.mark.parametrize("ending, result, kill, best, expected", [
    (Ending(launched=False), OK, None, None, (TrialStatus.LAUNCH_FAILED, "the controller stopped before the launch completed")),
    (Ending(exit_code=0), OK, KillOrder(TrialStatus.STALLED, "no log growth"), None, (TrialStatus.STALLED, "no log growth")),
    (Ending(exit_code=None, status="timeout", reason="TIMEOUT"), OK, None, None, ("timeout", "TIMEOUT")),
    (Ending(exit_code=None, status="cancelled"), OK, None, None, ("cancelled", "ValueError: bad shape")),
    (Ending(exit_code=None), OK, None, None,
     (TrialStatus.CRASH, "process vanished without an exit code; ValueError: bad shape")),
    (Ending(exit_code=3), OK, None, None, (TrialStatus.CRASH, "ValueError: bad shape")),
    (Ending(exit_code=0), MetricResult(value=float("nan"), nonfinite="val_acc became nan"), None, None,
     (TrialStatus.NAN, "val_acc became nan")),
    (Ending(exit_code=0), MetricResult(value=None), None, None, (TrialStatus.CRASH, "finished but no val_acc in the log")),
    (Ending(exit_code=0), MetricResult(value=0.4, gate_failures=["val_acc 0.4 misses >= 0.5"]), None, None,
     (TrialStatus.GATED, "val_acc 0.4 misses >= 0.5")),
    (Ending(exit_code=0), OK, None, None, (TrialStatus.KEEP, "")),
    (Ending(exit_code=0), OK, None, 0.8, (TrialStatus.KEEP, "")),
    (Ending(exit_code=0), OK, None, 0.95, (TrialStatus.DISCARD, "")),
    (Ending(exit_code=0), OK, None, 0.9, (TrialStatus.DISCARD, "")),      # a tie is not an improvement
])
def test_each_row(ending, result, kill, best, expected):
    v = verdict(ending, result, kill=kill, best=best)
    assert (v.status, v.label) == expected


def test_an_exit_code_with_an_empty_log_says_the_code():
    assert verdict(Ending(exit_code=137), log="").label == "exit code 137"


def test_a_kill_wins_over_a_clean_exit_and_a_good_metric():
    """The user stopped it: even a metric better than the best is not kept."""
    v = verdict(Ending(exit_code=0), kill=KillOrder(TrialStatus.CANCELLED, "stopped by the user"), best=0.1)
    assert v.status == TrialStatus.CANCELLED


def test_min_goal_keeps_the_lower_value():
    assert verdict(result=MetricResult(value=0.2), best=0.3, goal="min").status == TrialStatus.KEEP
    assert verdict(result=MetricResult(value=0.4), best=0.3, goal="min").status == TrialStatus.DISCARD


def test_better_is_the_one_rule():
    assert better(0.2, None, "max") and not better(None, 0.1, "max") and not better(float("nan"), None, "max")
    assert better(0.1, 0.2, "min") and not better(0.2, 0.2, "min") and better(0.3, 0.2, "max")


def test_a_kill_of_the_training_from_outside_is_cancelled_and_sigkill_a_crash():
    v = verdict(Ending(exit_code=143, training_signal="SIGTERM"))
    assert v.status == TrialStatus.CANCELLED and "SIGTERM from outside" in v.label
    v = verdict(Ending(exit_code=137, training_signal="SIGKILL"))
    assert v.status == TrialStatus.CRASH and "out of memory" in v.label
    ours = verdict(Ending(exit_code=143, training_signal="SIGTERM"), kill=KillOrder(TrialStatus.STALLED, "no growth"))
    assert ours.status == TrialStatus.STALLED      # the controller's own stop keeps its reason
