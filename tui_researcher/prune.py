"""``monitor.prune: median``: stop a trial whose curve is already worse than most finished ones.

The rule of Optuna's MedianPruner, on the curves the logs gave: at the running trial's progress
``x`` (past ``prune_warmup``), its best metric so far is compared with the median, over finished
trials, of the value each had reached by ``x``. Worse than that median, the trial is stopped and
recorded ``pruned`` with those numbers. Pure: the monitor feeds it, a unit test draws the curves.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

from .trial import better

Curve = Sequence[tuple[float, float]]
"""(progress, metric), progress ascending."""


@dataclass(frozen=True, slots=True)
class MedianRule:
    metric: str
    goal: str
    warmup: float = 1.0
    min_trials: int = 3

    def judge(self, running: Curve, finished: Sequence[Curve], unit: str = "step") -> str:
        """Why to stop the running trial now, with the numbers; "" to let it run."""
        if not running:
            return ""
        x = running[-1][0]
        if x < self.warmup:
            return ""
        reached = [v for v in (value_by(curve, x) for curve in finished) if v is not None]
        if len(reached) < self.min_trials:
            return ""
        values = [v for _, v in running]
        best = max(values) if self.goal == "max" else min(values)
        median = statistics.median(reached)
        if best == median or better(best, median, self.goal):
            return ""
        at = f"{unit} {x:g}"
        return (f"{self.metric} {best:.4g} (its best by {at}) is worse than the median {median:.4g} of "
                f"{len(reached)} finished trials at {at} (monitor.prune: median)")


def value_by(curve: Curve, x: float) -> float | None:
    """The value a finished trial had reached by progress ``x`` (its last point at or before it)."""
    value = None
    for at, v in curve:
        if at > x:
            break
        value = v
    return value
