"""Seed-checked bests (experiment.confirm_seeds: N): one lucky init seed never becomes the best.

A trial that would be the new best is recorded ``confirming`` and re-run with seeds 1..N as child
trials (``{seed}`` in the command, ``SEED`` in the environment; the same code and command, so no
new dry-run), each recorded ``seed_run``. When the last has ended, the trial is kept only if its
mean beats the best's mean by more than the spread (the larger standard deviation of the two);
otherwise it is discarded. The mean then ranks it in the ledger. Re-runs go before any new THINK
and count against experiment.max_parallel like any trial; the queue is rebuilt from the ledger
at a restart, so none is lost or run twice.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable, Protocol

from .bus import EventBus
from .events import TrialFinished
from .facts import fmt
from .project import Project
from .trees import Trees
from .trial import Trial, TrialStatus, better


class ChildLauncher(Protocol):
    """What a re-run needs of ``execute.Launcher`` (not imported: the collector, and so this module,
    must not reach a planner)."""

    trees: Trees
    default_backend: Any

    async def launch(self, trial: Trial, argv: list[str]) -> Trial | None: ...

RAN = (TrialStatus.KEEP, TrialStatus.DISCARD)
"""A seed re-run's verdicts that mean "it ran and measured": it is recorded ``seed_run``."""


class SeedChecker:
    def __init__(self, project: Project, bus: EventBus, on_decided: Callable[[str], None],
                 wake: Callable[[], None] = lambda: None) -> None:
        self.project = project
        self.bus = bus
        self.on_decided = on_decided
        self.wake = wake
        """Planning waits for an event: a re-run owed, or a slot freed by one, is one."""
        self.pending: list[tuple[str, int]] = []
        """(trial, seed) re-runs to launch, oldest first."""

    @property
    def n(self) -> int:
        return self.project.config.experiment.confirm_seeds

    def wants(self, trial: Trial) -> bool:
        return self.n > 0 and not trial.seed_of and trial.status == TrialStatus.KEEP

    def hold(self, trial: Trial) -> None:
        """The collector found a would-be best: it waits for its seeds (the caller commits it)."""
        trial.status = TrialStatus.CONFIRMING
        trial.label = f"would be the new best: re-run with {self.n} more seed(s) first"
        self.pending.extend((trial.id, seed) for seed in range(1, self.n + 1))
        self.wake()

    def resume(self) -> None:
        """At start: the re-runs a stopped controller owed, and decisions whose re-runs all ended."""
        ledger = self.project.ledger
        for tid in ledger.with_status(TrialStatus.CONFIRMING):
            trial = ledger.get(tid)
            started = {c.seed for c in self._children(trial)}
            self.pending.extend((tid, s) for s in range(1, self.n + 1) if s not in started)
            self._maybe_decide(trial)

    async def launch_next(self, launcher: ChildLauncher) -> None:
        """One owed re-run: its own tree from the trial's snapshot, then the trial's own command."""
        tid, seed = self.pending.pop(0)
        parent = self.project.ledger.get(tid)
        if parent is None or parent.status != TrialStatus.CONFIRMING:
            return
        state = self.project.state
        child = Trial(id=f"t{state.next_trial:04d}", cycle=parent.cycle, parent=parent.id, seed_of=parent.id,
                      seed=seed, hypothesis=f"seed check of {parent.id}: seed {seed}", task=parent.task,
                      command=parent.command, params=dict(parent.params), run_dir=f"runs/t{state.next_trial:04d}",
                      base_snapshot=parent.snapshot)
        state.next_trial += 1
        parent.seeds.append(child.id)
        with self.project.store.transaction():
            self.project.ledger.record(parent, "seed")
            self.project.commit(child, "planned")
        if parent.snapshot:
            await launcher.trees.prepare(child, launcher.default_backend)
        if await launcher.launch(child, list(parent.template or parent.argv)) is None:
            self._maybe_decide(self.project.ledger.get(tid))   # a failed launch is a failed seed

    @staticmethod
    def mark(child: Trial) -> None:
        """A re-run that measured is ``seed_run`` (never keep: it is not a configuration of its own)."""
        if child.status in RAN:
            child.status, child.label = TrialStatus.SEED_RUN, f"seed {child.seed} of {child.seed_of}"

    def recorded(self, child: Trial) -> None:
        """The collector recorded a re-run; its trial may now be decided."""
        child.decision = f"seed re-run of {child.seed_of}"
        self.project.ledger.record(child, "reflected")      # nothing for a planner to decide
        parent = self.project.ledger.get(child.seed_of)
        if parent is not None:
            self._maybe_decide(parent)
        self.wake()

    def _children(self, parent: Trial) -> list[Trial]:
        """Its re-runs, but not one a stopped controller never launched (that seed is owed again)."""
        children = (self.project.ledger.get(c) for c in parent.seeds)
        return [c for c in children if c is not None and c.status != TrialStatus.INTERRUPTED]

    def _maybe_decide(self, parent: Trial) -> None:
        if parent.status != TrialStatus.CONFIRMING:
            return
        children = self._children(parent)
        if len(children) >= self.n and all(c.finished for c in children):
            self._decide(parent, children)

    def _decide(self, parent: Trial, children: list[Trial]) -> None:
        goal, ledger, state = self.project.config.metric.goal, self.project.ledger, self.project.state
        failed = [c.id for c in children if c.status != TrialStatus.SEED_RUN or c.metric is None]
        values = [parent.metric, *(c.metric for c in children if c.id not in failed)]
        parent.mean = statistics.fmean(values)
        parent.spread = statistics.stdev(values) if len(values) > 1 else 0.0
        best = ledger.best(goal)
        mean = None if best is None else (best.mean if best.mean is not None else best.metric)
        margin = max(parent.spread, (best.spread or 0.0) if best else 0.0)
        bar = None if mean is None else (mean + margin if goal == "max" else mean - margin)
        ours = f"mean {fmt(parent.mean)} ± {fmt(parent.spread)} over {len(values)} seeds"
        theirs = "" if best is None else f"{best.id}'s {fmt(mean)} ± {fmt(best.spread or 0.0)}"
        if failed:
            parent.status, parent.label = TrialStatus.DISCARD, f"seed re-run(s) failed: {', '.join(failed)}; {ours}"
        elif better(parent.mean, bar, goal):
            parent.status = TrialStatus.KEEP
            parent.label = f"{ours}" + (f" beats {theirs} by more than the spread" if best else "")
            state.best_trial, state.best_metric = parent.id, parent.mean
        else:
            parent.status, parent.label = TrialStatus.DISCARD, f"{ours} does not beat {theirs} by more than the spread"
        parent.ended = parent.ended or time.time()
        self.project.commit(parent, "seeds_decided")
        self.bus.emit(TrialFinished(trial_id=parent.id, status=parent.status, metric=parent.metric, label=parent.label,
                                    exit_code=parent.exit_code, duration_s=parent.duration,
                                    best=self.project.best_metric()))
        self.on_decided(parent.id)
