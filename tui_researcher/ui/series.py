"""The metric plot's data: a bounded sample of the finished trials, exact where the best moved.

A plot a few dozen cells wide cannot show 100,000 dots, and drawing them would cost the UI a
scan of the ledger. So the series holds every ``stride``-th trial (by row number) plus every
kept trial: a kept trial is one that beat the best, so the best-so-far line drawn from it is
the exact one. When new trials push the sample past its budget the stride doubles, which keeps
exactly the points a fresh read with that stride would return. Textual-free: the source's
reader thread builds it, the plot draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..trial import Trial, TrialStatus

BUDGET = 500
"""Sampled points kept, kept trials aside: more than any terminal is wide."""


@dataclass(frozen=True, slots=True)
class Point:
    row: int
    """The trial's row number in the ledger (1 is the first trial): the x axis."""
    trial_id: str
    metric: float
    status: str

    @classmethod
    def of(cls, row: int, trial: Trial) -> "Point | None":
        """The trial as a plot point, or None while it runs or when it has no metric."""
        if trial.metric is None or not trial.finished:
            return None
        return cls(row, trial.id, trial.metric, str(trial.status))

    @property
    def kept(self) -> bool:
        return self.status == TrialStatus.KEEP


def stride_for(rows: int, budget: int = BUDGET) -> int:
    """Every trial when there are few; otherwise one in ``stride`` so about ``budget`` remain."""
    return max(1, -(-rows // budget))


@dataclass
class Series:
    stride: int = 1
    budget: int = BUDGET
    points: list[Point] = field(default_factory=list)
    """Sorted by row, one per row."""

    def add(self, point: Point) -> bool:
        """Take a finished trial if the sample wants it (a newer record of a row replaces the older)."""
        wanted = self.wants(point)
        if wanted:
            self.extend([point])
        return wanted

    def wants(self, point: Point) -> bool:
        return point.kept or point.row % self.stride == 0

    def extend(self, points: Iterable[Point]) -> None:
        by_row = {p.row: p for p in self.points}
        by_row.update((p.row, p) for p in points if self.wants(p))
        self.points = sorted(by_row.values(), key=lambda p: p.row)
        self._thin()

    def _thin(self) -> None:
        while sum(1 for p in self.points if not p.kept) > self.budget:
            self.stride *= 2
            self.points = [p for p in self.points if self.wants(p)]
