"""The alert rules, row by row: which events are news, said once each."""

from __future__ import annotations

from tui_researcher.alerts import AlertRules, RuleSettings
from tui_researcher.events import MonitorSample, PhaseChanged, TrialFinished
from tui_researcher.phase import Phase


def rules(**kw) -> AlertRules:
    settings = RuleSettings(project="p", metric="val_loss", goal="min", crash_streak=2, host_down_after=60)
    return AlertRules(settings, **kw)


def kinds(r: AlertRules, *events) -> list[str]:
    return [a.kind for e in events for a in r.feed(e)]


def test_only_a_kept_improvement_is_a_new_best():
    r = rules(best=0.5)
    assert kinds(r, TrialFinished("t1", "keep", 0.6), TrialFinished("t2", "discard", 0.1),
                 TrialFinished("t3", "keep", 0.4)) == ["best"]
    assert r.best == 0.4


def test_a_crash_streak_is_said_once_and_ends_with_a_result():
    r = rules()
    assert kinds(r, TrialFinished("t1", "crash"), TrialFinished("t2", "cancelled"), TrialFinished("t3", "nan"),
                 TrialFinished("t4", "timeout")) == ["crash_streak"]
    assert kinds(r, TrialFinished("t5", "discard", 1.0), TrialFinished("t6", "crash"),
                 TrialFinished("t7", "crash")) == ["crash_streak"]


def test_a_pause_is_news_only_when_the_spending_cap_made_it():
    capped = [False]
    r = rules(paused_by_cap=lambda: capped[0])
    assert kinds(r, PhaseChanged(Phase.PAUSED, 3)) == []
    capped[0] = True
    assert kinds(r, PhaseChanged(Phase.PAUSED, 3), PhaseChanged(Phase.PAUSED, 3)) == ["spending_cap"]


def test_the_end_is_said_once_and_an_unexpected_end_at_shutdown():
    r = rules()
    assert kinds(r, PhaseChanged(Phase.STOPPED, 4), PhaseChanged(Phase.DONE, 4)) == ["stopped"]
    assert r.final() == []
    assert [a.kind for a in rules().final()] == ["stopped"]


def test_a_host_is_down_only_after_host_down_after_and_back_once():
    now = [1000.0]
    r = rules(clock=lambda: now[0])
    down = MonitorSample(host="gpu-a", reachable=False)
    assert kinds(r, down) == []
    now[0] += 59
    assert kinds(r, down) == []
    now[0] += 2
    [alert] = r.feed(down)
    assert alert.kind == "host_down" and "1:01" in alert.happened and "doctor" in alert.todo
    assert kinds(r, down, MonitorSample(host="gpu-a"), MonitorSample(host="gpu-a")) == ["host_back"]


def test_notify_on_complete_adds_every_finished_trial():
    r = AlertRules(RuleSettings(project="p", metric="m", goal="max", every_trial=True))
    assert kinds(r, TrialFinished("t1", "keep", 1.0), TrialFinished("t2", "discard", 0.5)) == ["best", "trial"]
