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
from .events import TrialFinished
from .metrics import MetricReader
from .progress import read_curve
from .project import Project
from .trial import RunningTrial, Trial, TrialStatus
from .verdict import Ending, classify

LOG_READ_BYTES = 1024 * 1024


class Collector:
    def __init__(self, project: Project, bus: EventBus, backends: dict[str, Backend],
                 on_recorded: Callable[[str], None]) -> None:
        self.project = project
        self.config = project.config
        self.bus = bus
        self.backends = backends
        self.reader = MetricReader(project.config.metric)
        self.on_recorded = on_recorded

    async def collect(self, tid: str, tp: TrialProbe) -> None:
        state, ledger = self.project.state, self.project.ledger
        run = state.running[tid]
        trial = ledger.get(tid) or Trial(id=tid, cycle=state.cycle, run_dir=run.run_dir)
        self._absorb(trial, run, tp)
        log_text, results_json = await self._read_outputs(self.backends[run.host], trial.run_dir)
        result = self.reader.read(log_text, results_json)
        trial.curve = read_curve(log_text, self.config.metric.name, trial.command,
                                 pattern=self.config.monitor.progress, metric_pattern=self.config.metric.pattern)
        trial.metrics = {k: v for k, v in result.metrics.items() if math.isfinite(v)}
        trial.metric = result.value if result.value is not None and math.isfinite(result.value) else None
        ending = Ending(launched=tp.launched, exit_code=tp.exit_code, status=tp.status, reason=tp.reason,
                        training_signal=tp.training_signal)
        verdict = classify(ending,
                           result, log_text, kill=run.kill, metric_name=self.config.metric.name,
                           goal=self.config.metric.goal, best=self.project.best_metric())
        trial.status, trial.label = verdict.status, verdict.label
        if trial.status == TrialStatus.KEEP:
            state.best_trial, state.best_metric = trial.id, trial.metric
        state.running.pop(tid, None)
        self.project.commit(trial, "finished")
        self.bus.emit(TrialFinished(trial_id=tid, status=trial.status, metric=trial.metric, label=trial.label,
                                    exit_code=trial.exit_code, duration_s=trial.duration,
                                    best=self.project.best_metric()))
        self.on_recorded(tid)

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
