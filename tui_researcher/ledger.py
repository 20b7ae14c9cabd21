"""trials.jsonl: every trial's full lineage, append-only, updated by appending a newer record.

Each line is a whole trial record plus ``event`` (planned, launched, finished, ...). The
current view folds lines by id; the lines themselves are the audit trail (how many launches
a trial ever had, for instance).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

from .events import TrialStatus
from .fsutil import append_line, read_jsonl


@dataclass
class Trial:
    id: str
    cycle: int
    parent: str | None = None
    hypothesis: str = ""
    task: str = ""
    success_criteria: str = ""
    command: str = ""
    argv: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    status: str = TrialStatus.PENDING
    label: str = ""
    host: str = ""
    gpus: list[int] = field(default_factory=list)
    job_id: str = ""
    node: str = ""
    """The node a scheduler ran the job on."""
    pid: int | None = None
    start_time: str = ""
    """The process start time as the host's kernel reports it: a reused PID never matches."""
    run_dir: str = ""
    log_path: str = ""
    exit_path: str = ""
    log_offset: int = 0
    log_size: int = 0
    last_growth: float | None = None
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    metric: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    duration: float | None = None
    decision: str = ""
    tool_calls: list[dict] = field(default_factory=list)
    dry_run: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Trial":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def active(self) -> bool:
        return self.status in TrialStatus.ACTIVE

    @property
    def elapsed(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started


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
        self._trials[trial.id] = Trial.from_dict(trial.to_dict())
        self._events.setdefault(trial.id, []).append(event)

    def get(self, trial_id: str) -> Trial | None:
        trial = self._trials.get(trial_id)
        return Trial.from_dict(trial.to_dict()) if trial else None

    def all(self) -> list[Trial]:
        return [Trial.from_dict(t.to_dict()) for t in self._trials.values()]

    def finished(self) -> list[Trial]:
        return [t for t in self.all() if t.status in TrialStatus.FINISHED]

    def unreflected(self) -> list[str]:
        """Finished trials whose REFLECT never happened (the controller stopped first)."""
        return [tid for tid, t in self._trials.items()
                if t.status in TrialStatus.FINISHED and "reflected" not in self._events.get(tid, [])]

    def launch_count(self, trial_id: str) -> int:
        return self._events.get(trial_id, []).count("launched")

    def best(self, goal: str) -> Trial | None:
        """The best trial that counts: kept, with a finite metric."""
        kept = [t for t in self._trials.values() if t.status == TrialStatus.KEEP and t.metric is not None]
        if not kept:
            return None
        pick = max if goal == "max" else min
        return pick(kept, key=lambda t: t.metric)

    def lineage(self, goal: str, last: int = 5) -> str:
        """A compact slice for prompts: the best trial and the last few, never the whole ledger."""
        lines = []
        best = self.best(goal)
        if best:
            lines.append(f"best: {_line(best)}")
        recent = [t for t in self._trials.values() if t.status in TrialStatus.FINISHED][-last:]
        lines.extend(f"recent: {_line(t)}" for t in recent)
        return "\n".join(lines) or "no trials yet"

    def tried_params(self) -> Iterable[dict[str, Any]]:
        return (t.params for t in self._trials.values())


def _line(t: Trial) -> str:
    metric = "-" if t.metric is None else f"{t.metric:.6g}"
    params = " ".join(f"{k}={v}" for k, v in t.params.items())
    label = f" ({t.label[:80]})" if t.label else ""
    return f"{t.id} {t.status} metric={metric} {params}{label}".strip()
