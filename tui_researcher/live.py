"""What the monitor learns from each running trial's new log lines: progress, live curve, early stops.

Zero LLM like the monitor that owns it. One ``ProgressReader`` per running trial, fed the lines each
poll brings; a non-finite loss or metric stops the trial at once (``nan``), and under
``monitor.prune: median`` a curve worse than the finished trials' median stops it (``pruned``).
The finished trials' curves are read once from the ledger, then kept as trials end.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .progress import Progress, ProgressReader, metric_points
from .project import Project
from .prune import MedianRule
from .trial import KillOrder, RunningTrial, Trial, TrialStatus

FINISHED_CURVES = 200
"""Finished trials the pruner compares with: the newest this many (a flat cost however long the run)."""
COMPLETED = frozenset({TrialStatus.KEEP, TrialStatus.DISCARD, TrialStatus.GATED})
"""Trials that ran to their end: only their curves say what a trial reaches."""


@dataclass(frozen=True, slots=True)
class LiveReading:
    """One poll's news about one trial."""

    progress: Progress | None = None
    points: tuple[tuple[float | None, float | None, float | None], ...] = ()
    stop: KillOrder | None = None


class LiveTrials:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.config = project.config
        self.readers: dict[str, ProgressReader] = {}
        self._curves: deque[tuple[str, list[tuple[float, float]], float | None]] | None = None
        """(unit, (progress, metric) points, total) of the newest finished trials."""
        monitor = self.config.monitor
        self.rule = (MedianRule(self.config.metric.name, self.config.metric.goal, monitor.prune_warmup,
                                monitor.prune_min_trials) if monitor.prune == "median" else None)

    def read(self, run: RunningTrial, text: str, now: float) -> LiveReading:
        reader = self.readers.get(run.id)
        if reader is None:
            trial = self.project.ledger.get(run.id)
            reader = self.readers[run.id] = ProgressReader.for_trial(
                self.config.metric.name, trial.command if trial else "", pattern=self.config.monitor.progress,
                metric_pattern=self.config.metric.pattern)
        if text:
            reader.feed(text)
        points = reader.take_fresh()
        elapsed = now - run.started if run.started else None
        where = reader.progress(elapsed_s=elapsed, previous_total=self._previous_total(reader))
        return LiveReading(where, points, self._stop(reader, where))

    def _stop(self, reader: ProgressReader, where: Progress | None) -> KillOrder | None:
        if reader.nonfinite:
            return KillOrder(TrialStatus.NAN, f"{reader.nonfinite} (seen in the log while it ran)")
        if self.rule is None or where is None:
            return None
        unit = where.unit
        curves = [points for u, points, _ in self._finished() if u == unit]
        why = self.rule.judge(metric_points({"points": reader.points}), curves, unit)
        return KillOrder(TrialStatus.PRUNED, why) if why else None

    def _previous_total(self, reader: ProgressReader) -> float | None:
        """How far the newest finished trial counted, for a log that never says its total."""
        where = reader.progress()
        for unit, points, total in reversed(self._finished()):
            if where is not None and unit == where.unit:
                return total or (points[-1][0] if points else None)
        return None

    def _finished(self) -> deque:
        if self._curves is None:
            self._curves = deque(maxlen=FINISHED_CURVES)
            for trial in self.project.ledger.recent(FINISHED_CURVES, finished=True):   # oldest first
                self._keep(trial)
        return self._curves

    def _keep(self, trial: Trial) -> None:
        if trial.status in COMPLETED and trial.curve.get("unit"):
            self._curves.append((trial.curve["unit"], metric_points(trial.curve), trial.curve.get("total")))

    def ended(self, trial_id: str) -> None:
        """The trial was recorded: forget its reader, and learn its curve."""
        self.readers.pop(trial_id, None)
        if self._curves is not None:
            trial = self.project.ledger.get(trial_id)
            if trial is not None:
                self._keep(trial)
