"""The ledger: every trial's lineage, in the project's store, updated by id with an audit trail.

Every question asked of it (one trial, the best, the last N, counts, tried configurations,
unreflected trials) is one indexed query: its cost does not grow with the number of trials.
Tool calls and dry-run output go to streams of their own, so a trial's record stays small
however many tool calls its worker makes.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, Iterator

from .lineage import Lineage
from .store import Store
from .trial import Trial


def params_key(params: dict[str, Any]) -> str:
    """One configuration, canonically: the same values in any order give the same key."""
    return json.dumps(sorted((str(k), str(v)) for k, v in params.items()), separators=(",", ":"))


class Ledger:
    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, trial: Trial, event: str) -> None:
        """Write the trial's current record; ``event`` (planned, launched, finished, ...) is kept in its trail."""
        data = trial.to_dict()
        data.pop("tool_calls", None)
        if data.get("dry_run"):
            data["dry_run"] = {k: v for k, v in data["dry_run"].items() if k != "output"}
        ranked = trial.mean if trial.mean is not None else trial.metric   # a seed-checked trial ranks by its mean
        self.store.put_trial(trial.id, data, status=str(trial.status), metric=ranked,
                             params_key=params_key(trial.params), finished=trial.finished, event=event,
                             ts=time.time())

    def tool_call(self, trial: Trial, record: dict) -> None:
        self.store.add_tool_call(trial.id, record)

    def dry_run_output(self, trial: Trial, record: dict) -> None:
        self.store.add_dry_run(trial.id, record)

    def get(self, trial_id: str) -> Trial | None:
        data = self.store.trial(trial_id)
        return Trial.from_dict(data) if data else None

    def with_calls(self, trial_id: str) -> Trial | None:
        """The trial with its tool calls and its last dry-run's output (for a detail view or an export)."""
        trial = self.get(trial_id)
        if trial is not None:
            trial.tool_calls = self.store.tool_calls(trial_id)
            runs = self.store.dry_runs(trial_id)
            if runs and trial.dry_run:
                trial.dry_run = {**trial.dry_run, "output": runs[-1].get("output", "")}
        return trial

    def best(self, goal: str) -> Trial | None:
        """The best trial that counts: kept, with a finite metric (the first of equals)."""
        data = self.store.best(goal)
        return Trial.from_dict(data) if data else None

    def recent(self, n: int, *, finished: bool = False) -> list[Trial]:
        return [Trial.from_dict(d) for d in self.store.recent(n, finished=finished)]

    def page(self, after: int, limit: int) -> list[tuple[int, Trial]]:
        return [(row, Trial.from_dict(d)) for row, d in self.store.page(after, limit)]

    def unreflected(self) -> list[str]:
        """Finished trials whose REFLECT never happened (the controller stopped first)."""
        return self.store.unreflected()

    def launch_count(self, trial_id: str) -> int:
        return self.store.launch_count(trial_id)

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def __len__(self) -> int:
        return sum(self.store.counts().values())

    def tried(self, configurations: Iterable[dict[str, Any]]) -> set[str]:
        """The keys (``params_key``) of those configurations some trial already ran."""
        return self.store.tried(params_key(c) for c in configurations)

    def with_status(self, status: str) -> list[str]:
        return self.store.with_status(str(status))

    def last_id(self) -> str | None:
        return self.store.last_trial_id()

    def __iter__(self) -> Iterator[Trial]:
        return (Trial.from_dict(d) for d in self.store.iter_trials())

    def lineage(self, goal: str, metric: str = "metric", max_chars: int = 3000) -> str:
        """The bounded lineage view for prompts (``lineage.Lineage``), never the whole ledger."""
        return Lineage(self.store, goal, metric, max_chars).render()
