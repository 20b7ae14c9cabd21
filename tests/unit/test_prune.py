"""Median pruning on a synthetic set of curves: the numbers that decide are the ones recorded."""

from __future__ import annotations

from tui_researcher.prune import MedianRule, value_by

GOOD = [[(e, 0.5 + 0.04 * e) for e in range(1, 11)] for _ in range(3)]
"""Three finished trials reaching 0.54 at epoch 1 ... 0.9 at epoch 10."""


def hopeless(upto: int):
    return [(e, 0.2 + 0.001 * e) for e in range(1, upto + 1)]


def test_a_hopeless_curve_is_pruned_after_warmup_with_its_numbers():
    rule = MedianRule("val_acc", "max", warmup=2, min_trials=3)
    assert rule.judge(hopeless(1), GOOD, "epoch") == ""          # warm-up: too early to tell
    why = rule.judge(hopeless(3), GOOD, "epoch")
    assert why == ("val_acc 0.203 (its best by epoch 3) is worse than the median 0.62 of 3 finished trials "
                   "at epoch 3 (monitor.prune: median)")


def test_a_promising_curve_runs_on():
    rule = MedianRule("val_acc", "max", warmup=1, min_trials=3)
    promising = [(e, 0.6 + 0.04 * e) for e in range(1, 6)]
    assert rule.judge(promising, GOOD, "epoch") == ""


def test_its_best_so_far_counts_not_its_last_dip():
    rule = MedianRule("val_acc", "max", warmup=1, min_trials=3)
    dipped = [(1, 0.6), (2, 0.3)]   # best 0.6 by epoch 2 beats the median 0.58
    assert rule.judge(dipped, GOOD, "epoch") == ""


def test_minimised_metric_and_too_few_finished_trials():
    rule = MedianRule("val_loss", "min", warmup=0, min_trials=2)
    finished = [[(1, 1.0), (2, 0.5)], [(1, 0.9), (2, 0.4)]]
    assert "worse than the median 0.45" in rule.judge([(1, 1.2), (2, 0.8)], finished)
    assert rule.judge([(1, 1.2), (2, 0.8)], finished[:1]) == ""
    assert rule.judge([(2, 0.3)], finished) == ""


def test_a_finished_trial_counts_from_its_first_point_on():
    assert value_by([(2, 0.5), (4, 0.7)], 1) is None
    assert value_by([(2, 0.5), (4, 0.7)], 3) == 0.5
    assert value_by([(2, 0.5), (4, 0.7)], 9) == 0.7
    rule = MedianRule("val_acc", "max", warmup=0, min_trials=3)
    late = [[(5, 0.9)]] * 3
    assert rule.judge([(1, 0.1)], late) == ""   # nobody had reached epoch 1 in their curves
