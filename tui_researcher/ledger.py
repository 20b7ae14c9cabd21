"""trials.jsonl: every trial's full lineage, append-only, updated by appending a newer record.

Each line is a whole trial record plus ``event`` (planned, launched, finished, ...). The
current view folds lines by id; the lines themselves are the audit trail (how many launches
a trial ever had, for instance).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from .fsutil import append_line, read_jsonl
from .trial import Trial, TrialStatus, better


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._trials: dict[str, Trial] = {}
        self._events: dict[str, list[str]] = {}
        for record in read_jsonl(path):
            event = record.pop("event", "update")
            trial = Trial.from_dict(record)
            self._trials[trial.id] = trial
            self._events.setdefault(trial.id, []).append(event)

    def record(self, trial: Trial, event: str) -> None:
        """Append the trial's whole current record; the newest line for an id wins."""
        data = trial.to_dict()
        data["event"] = event
        append_line(self.path, json.dumps(data, sort_keys=True, default=str))
        self._trials[trial.id] = trial.copy()
        self._events.setdefault(trial.id, []).append(event)

    def get(self, trial_id: str) -> Trial | None:
        trial = self._trials.get(trial_id)
        return trial.copy() if trial else None

    def all(self) -> list[Trial]:
        return [t.copy() for t in self._trials.values()]

    def finished(self) -> list[Trial]:
        return [t for t in self.all() if t.finished]

    def unreflected(self) -> list[str]:
        """Finished trials whose REFLECT never happened (the controller stopped first)."""
        return [tid for tid, t in self._trials.items()
                if t.finished and "reflected" not in self._events.get(tid, [])]

    def launch_count(self, trial_id: str) -> int:
        return self._events.get(trial_id, []).count("launched")

    def best(self, goal: str) -> Trial | None:
        """The best trial that counts: kept, with a finite metric."""
        best: Trial | None = None
        for t in self._trials.values():
            if t.status == TrialStatus.KEEP and t.metric is not None and (best is None or better(t.metric, best.metric, goal)):
                best = t
        return best

    def lineage(self, goal: str, last: int = 5) -> str:
        """A compact slice for prompts: the best trial and the last few, never the whole ledger."""
        lines = []
        best = self.best(goal)
        if best:
            lines.append(f"best: {_line(best)}")
        recent = [t for t in self._trials.values() if t.finished][-last:]
        lines.extend(f"recent: {_line(t)}" for t in recent)
        return "\n".join(lines) or "no trials yet"

    def tried_params(self) -> Iterable[dict[str, Any]]:
        return (t.params for t in self._trials.values())


def _line(t: Trial) -> str:
    metric = "-" if t.metric is None else f"{t.metric:.6g}"
    params = " ".join(f"{k}={v}" for k, v in t.params.items())
    label = f" ({t.label[:80]})" if t.label else ""
    return f"{t.id} {t.status} metric={metric} {params}{label}".strip()
