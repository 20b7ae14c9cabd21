"""The trial ended: the controller reads its log and results file and records the verdict.

Zero LLM, like the monitor that calls it: the metric is measured here, never taken from a model.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Callable

from .backends.base import Backend, TrialProbe
from .bus import EventBus
from .errors import BackendError
from .evaluate import Evaluator
from .events import TrialFinished
from .metrics import MetricReader, MetricResult, failure_label
from .progress import read_curve
from .project import Project
from .seeds import SeedChecker
from .snapshot import SnapshotError
from .trees import Trees
from .trial import RunningTrial, Trial, TrialStatus
from .verdict import Ending, classify
from .failpoints import failpoint

LOG_READ_BYTES = 1024 * 1024


class Collector:
    def __init__(self, project: Project, bus: EventBus, backends: dict[str, Backend],
                 on_recorded: Callable[[str], None], trees: Trees | None = None,
                 seeds: SeedChecker | None = None) -> None:
        self.project = project
        self.seeds = seeds or SeedChecker(project, bus, on_recorded)
        self.trees = trees or Trees(project)
        self.config = project.config
        self.bus = bus
        self.backends = backends
        self.reader = MetricReader(project.config.metric)
        self.evaluator = Evaluator(project.config, project.paths)
        self.on_recorded = on_recorded

    async def collect(self, tid: str, tp: TrialProbe) -> None:
        state, ledger = self.project.state, self.project.ledger
        run = state.running[tid]
        trial = ledger.get(tid) or Trial(id=tid, cycle=state.cycle, run_dir=run.run_dir)
        self._absorb(trial, run, tp)
        log_text, results_json = await self._read_outputs(self.backends[run.host], trial.run_dir)
        trial.curve = read_curve(log_text, self.config.metric.name, trial.command,
                                 pattern=self.config.monitor.progress, metric_pattern=self.config.metric.pattern)
        ending = Ending(launched=tp.launched, exit_code=tp.exit_code, status=tp.status, reason=tp.reason,
                        training_signal=tp.training_signal)
        result, ending = await self._measure(trial, run, ending, log_text, results_json)
        trial.metrics = {k: v for k, v in result.metrics.items() if math.isfinite(v)}
        trial.metric = result.value if result.value is not None and math.isfinite(result.value) else None
        trial.self_reported = trial.measured_by == "log" and trial.code_changed and trial.metric is not None
        verdict = classify(ending,
                           result, log_text, kill=run.kill, metric_name=self.config.metric.name,
                           goal=self.config.metric.goal, best=self.project.best_metric())
        trial.status, trial.label = verdict.status, verdict.label
        if trial.seed_of:
            self.seeds.mark(trial)             # a re-run's metric counts in its trial's mean, never alone
        elif self.seeds.wants(trial):
            self.seeds.hold(trial)             # a would-be best waits for its seed re-runs
        elif trial.status == TrialStatus.KEEP:
            state.best_trial, state.best_metric = trial.id, trial.metric
        failpoint("collect")
        state.running.pop(tid, None)
        self._repair_memory()
        self.project.commit(trial, "finished")
        failpoint("finished")
        self.bus.emit(TrialFinished(trial_id=tid, status=trial.status, metric=trial.metric, label=trial.label,
                                    exit_code=trial.exit_code, duration_s=trial.duration,
                                    best=self.project.best_metric(), self_reported=trial.self_reported))
        if trial.seed_of:
            self.seeds.recorded(trial)
        elif trial.status != TrialStatus.CONFIRMING:
            self.on_recorded(tid)
        with contextlib.suppress(SnapshotError, BackendError, OSError):   # its code is in git: the copy goes
            await self.trees.prune(trial, (self.backends[run.host], next(iter(self.backends.values()))))

    async def _measure(self, trial: Trial, run: RunningTrial, ending: Ending, log_text: str,
                       results_json: str | None) -> tuple[MetricResult, Ending]:
        """The evaluator's reading of a trial that exited 0, where one is declared; else the log's."""
        clean = ending.exit_code == 0 and not ending.status and run.kill is None and not ending.training_signal
        if not (self.evaluator.declared and clean):
            trial.measured_by = "log"
            return self.reader.read(log_text, results_json), ending
        trial.measured_by = "evaluator"
        out = await self.evaluator.run(self.backends[run.host], trial)
        text = out.stdout + out.stderr
        if not out.ok:
            why = "timed out" if out.timed_out else f"exit {out.exit_code}"
            ending = Ending(launched=ending.launched, exit_code=ending.exit_code, status=TrialStatus.CRASH,
                            reason=f"evaluator {why}: {failure_label(text)}".strip())
        return self.reader.read(text, None), ending

    def _repair_memory(self) -> None:
        """MEMORY_LOG.md replaced by the controller while a trial ran loses its read-only mount in that
        trial's sandbox; whatever the trial wrote there since is put back from the controller's memory."""
        path = self.project.paths.memory
        with contextlib.suppress(OSError):
            if path.exists() and path.read_text(encoding="utf-8") != self.project.memory.render():
                self.project.memory.save()

    @staticmethod
    def _absorb(trial: Trial, run: RunningTrial, tp: TrialProbe) -> None:
        trial.pid = trial.pid or run.pid
        trial.training_pid = trial.training_pid or run.training_pid or tp.training_pid
        trial.log_offset = run.log_offset
        trial.ended = tp.ended or time.time()
        trial.exit_code = tp.exit_code
        if run.started:
            trial.started = run.started
        trial.job_id = trial.job_id or run.job_id
        trial.node = trial.node or run.node
        trial.duration = round(trial.ended - trial.started, 3) if trial.started else None

    async def _read_outputs(self, backend: Backend, run_dir: str) -> tuple[str, str | None]:
        log_text = ""
        with contextlib.suppress(BackendError):
            log_text = await backend.tail(f"{run_dir}/train.log", max_bytes=LOG_READ_BYTES)
        results_json = None
        if self.config.metric.file:   # only the run's own copy: a worker can write elsewhere in the workspace
            with contextlib.suppress(BackendError):
                results_json = await backend.read_file(f"{run_dir}/{self.config.metric.file}")
        return log_text, results_json
