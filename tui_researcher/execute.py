"""EXECUTE: the mandatory dry-run gate, placement on a free GPU, and at most one launch per trial.

``Runner`` is all a planner gets for a trial: it dry-runs and launches through one gate, so the
rule "no launch without a passing dry-run of this very command" is written once, here.
"""

from __future__ import annotations

import asyncio
import posixpath
import time
from typing import Callable

from .backends.base import Backend, HostProbe, RunResult
from .bus import EventBus
from .errors import BackendError, ResearcherError
from .events import Phase, TrialFinished, TrialLaunched
from .metrics import failure_label
from .monitor import Monitor
from .placement import HostView, Placement, choose
from .planner import dry_run_argv, with_seed
from .project import Project
from .sandbox import Kind, Sandbox, isolation, launch_env, sandbox_for
from .snapshot import SnapshotError
from .trees import Trees
from .trial import RunningTrial, Trial, TrialStatus
from .failpoints import failpoint

SetPhase = Callable[[Phase, str], None]


def seed_env(trial: Trial) -> dict[str, str]:
    """``SEED`` for a trial that has one (experiment.confirm_seeds): its dry-run and its training alike."""
    return {"SEED": str(trial.seed)} if trial.seed is not None else {}


class Launcher:
    def __init__(self, project: Project, bus: EventBus, backends: dict[str, Backend], monitor: Monitor,
                 set_phase: SetPhase, quitting: Callable[[], bool], trees: Trees | None = None) -> None:
        self.project = project
        self.trees = trees or Trees(project)
        self.config = project.config
        self.bus = bus
        self.backends = backends
        self.monitor = monitor
        self.set_phase = set_phase
        self.quitting = quitting

    @property
    def default_backend(self) -> Backend:
        """Where the workspace is edited and dry-runs run: the first host."""
        return next(iter(self.backends.values()))

    async def dry_run(self, trial: Trial, argv: list[str]) -> RunResult:
        """A failure is recorded but does not end the trial: a worker may fix the code and dry-run again.
        EXECUTE ending without a launch records the trial ``dry_run_failed`` (``Controller._execute``)."""
        self.set_phase(Phase.EXECUTE, f"dry-run of {trial.id}")
        argv = with_seed(argv, trial.seed)
        started = time.time()
        try:
            backend = self.default_backend
            sandbox = await self.sandbox(backend, Kind.DRY_RUN, trial=trial)
            result = await backend.run(sandbox.argv(backend.python or "python3", argv=list(argv)),
                                       cwd=trial.tree or ".", env=seed_env(trial),
                                       timeout=self.config.experiment.dry_run_timeout)
        except BackendError as exc:
            result = RunResult(exit_code=None, stderr=str(exc))
        failpoint("dry_run")
        trial.dry_run = {"argv": argv, "exit_code": result.exit_code, "ok": result.ok,
                         "duration": round(time.time() - started, 3)}
        ledger = self.project.ledger
        ledger.dry_run_output(trial, {**trial.dry_run, "output": (result.stdout + result.stderr)[-2000:]})
        if result.ok:
            self.bus.notice(f"{trial.id} dry-run ok in {trial.dry_run['duration']:.1f}s")
            ledger.record(trial, "dry_run")
            return result
        why = "timed out" if result.timed_out else f"exit {result.exit_code}"
        trial.label = f"dry-run {why}: {failure_label(result.stdout + result.stderr)}".strip()
        self.bus.notice(f"{trial.id} {trial.label}", "warning")
        ledger.record(trial, "dry_run")
        return result

    async def sandbox(self, backend: Backend, kind: Kind, *, trial: Trial | None = None,
                      run_dir: str | None = None) -> Sandbox:
        """The one sandbox, as this host allows it (namespaces where it can build them); a trial with a tree
        of its own may write only there (and its run directory), never the shared workspace."""
        found = await isolation(backend)
        tree = posixpath.join(backend.root, trial.tree) if trial is not None and trial.tree else None
        return sandbox_for(kind, self.config, self.project.paths, root=backend.root, tree=tree, run_dir=run_dir,
                           isolate=found.available, degrade=backend.schedules_gpus)

    def finish_unlaunched(self, trial: Trial, status: TrialStatus, label: str) -> None:
        trial.status, trial.label, trial.ended = status, label, time.time()
        self.project.state.running.pop(trial.id, None)
        self.project.commit(trial, "finished")
        self.bus.emit(TrialFinished(trial_id=trial.id, status=trial.status, label=trial.label))

    async def launch(self, trial: Trial, argv: list[str]) -> Trial | None:
        placement = await self.place(trial)
        if placement is None:
            return None
        backend = self.backends[placement.host]
        trial.template, argv = list(argv), with_seed(argv, trial.seed)
        try:
            diff = await self.trees.snapshot(trial, self.default_backend)   # the code as it is launched
            await self.trees.place(trial, backend, self.default_backend)
            await self.trees.write_diff(trial, backend, diff)
        except (SnapshotError, BackendError) as exc:
            self.finish_unlaunched(trial, TrialStatus.LAUNCH_FAILED, f"code snapshot: {exc}"[:300])
            return None
        trial.host, trial.gpus, trial.argv = placement.host, list(placement.gpus), list(argv)
        trial.command = trial.command or " ".join(argv)
        trial.log_path = f"{trial.run_dir}/train.log"
        trial.status = TrialStatus.RUNNING
        state = self.project.state
        # record the intent first: a controller killed mid-launch finds this entry and the pid file
        state.running[trial.id] = RunningTrial(id=trial.id, host=trial.host, gpus=placement.gpus,
                                               run_dir=trial.run_dir, tree=trial.tree, launching=True)
        self.project.save_state()
        self.monitor.launching.add(trial.id)
        try:
            # absolute: the training runs in its tree, not in the workspace the run directory is relative to
            run_dir = posixpath.join(backend.root, trial.run_dir)
            env = {**placement.env, "TUI_RESEARCHER_TRIAL": trial.id, "TUI_RESEARCHER_RUN_DIR": run_dir,
                   **seed_env(trial), **launch_env(True)}
            sandbox = await self.sandbox(backend, Kind.TRAIN, trial=trial, run_dir=trial.run_dir)
            info = await backend.launch(sandbox.argv(backend.python or "python3", argv=list(argv)),
                                        run_dir=trial.run_dir, cwd=trial.tree or ".", env=env)
        except BackendError as exc:
            self.finish_unlaunched(trial, TrialStatus.LAUNCH_FAILED, str(exc)[:300])
            return None
        finally:
            self.monitor.launching.discard(trial.id)
        failpoint("launch")
        trial.pid, trial.start_time, trial.job_id = info.pid, info.start_time, info.job_id
        trial.training_pid = info.training_pid
        trial.started = None if info.job_id else time.time()   # a queued job starts when Slurm says so
        trial.status = TrialStatus.PENDING if info.job_id else TrialStatus.RUNNING
        trial.last_growth = trial.started
        state.running[trial.id] = RunningTrial(
            id=trial.id, host=trial.host, gpus=placement.gpus, run_dir=trial.run_dir, tree=trial.tree, pid=info.pid,
            start_time=info.start_time, training_pid=info.training_pid, job_id=info.job_id, log_path=info.log_path, started=trial.started,
            submitted=time.time())
        self.project.commit(trial, "launched")
        failpoint("launched")
        self.bus.emit(TrialLaunched(trial_id=trial.id, host=trial.host, pid=trial.shown_pid, log_path=info.log_path,
                                    command=trial.command, gpus=tuple(trial.gpus), job_id=info.job_id))
        self.set_phase(Phase.MONITOR, "")
        return trial

    async def place(self, trial: Trial) -> Placement | None:
        """Wait for a free place, from fresh samples; never launch on a busy GPU."""
        scheduler = next((b for b in self.backends.values() if b.schedules_gpus), None)
        if scheduler is not None:
            return Placement(scheduler.name)   # Slurm picks node and GPUs; max_parallel caps what is submitted
        announced = False
        while True:
            probes = await self.monitor.probe_hosts(gpu=self.config.gpu.gpus_per_trial > 0, with_trials=False)
            placement, why = choose([self._view(name, probes.get(name)) for name in self.backends], self.config.gpu)
            if placement is not None:
                return placement
            if not announced:
                self.set_phase(Phase.WAITING_GPU, f"{trial.id}: {why}")
                self.bus.notice(f"{trial.id} waits: {why}")
                announced = True
            if self.quitting():
                return None
            await asyncio.sleep(self.config.monitor.poll_interval)

    def _view(self, name: str, probe: HostProbe | None) -> HostView:
        running = [r for r in self.project.state.running.values() if r.host == name]
        return HostView(name=name, reachable=bool(probe and probe.reachable), gpus=probe.gpus if probe else None,
                        held={g for r in running for g in r.gpus}, allowed=self.backends[name].allowed_gpus,
                        running=len(running))


class Runner:
    """A planner's handle on one trial: dry-run a command, then launch that very command, once."""

    def __init__(self, launcher: Launcher, trial: Trial) -> None:
        self.launcher = launcher
        self.trial = trial
        self.config = launcher.config
        self.cleared: set[tuple[str, ...]] = set()
        """Launch commands whose dry-run passed in this dispatch."""
        self.launched: Trial | None = None

    @property
    def backend(self) -> Backend:
        return self.launcher.default_backend

    def dry_run_argv(self, argv: list[str]) -> list[str]:
        return dry_run_argv(self.config, list(argv), self.trial.params)

    async def dry_run(self, argv: list[str]) -> RunResult:
        """Dry-run the launch command ``argv`` (as experiment.dry_run_command or ``--dry-run`` says)."""
        result = await self.launcher.dry_run(self.trial, self.dry_run_argv(argv))
        if result.ok:
            self.cleared.add(tuple(argv))
        return result

    def refusal(self, argv: list[str]) -> str:
        """Why a launch of ``argv`` is refused now, or "" when it may go."""
        if self.launched is not None:
            return f"{self.trial.id} was already launched (pid {self.launched.pid}); one launch per dispatch"
        if not self.config.experiment.mandatory_dry_run or tuple(argv) in self.cleared:
            return ""
        return ("launch refused: experiment.mandatory_dry_run is on and no dry-run of this exact command "
                f"succeeded in this dispatch; dry-run it first (`{' '.join(self.dry_run_argv(argv))}`)")

    async def launch(self, argv: list[str]) -> Trial | None:
        refusal = self.refusal(argv)
        if refusal:
            raise ResearcherError(refusal)
        self.launched = await self.launcher.launch(self.trial, argv)
        return self.launched
