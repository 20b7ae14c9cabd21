"""The loop: THINK -> EXECUTE -> MONITOR -> REFLECT, as an asyncio state machine.

Both faces (the Textual app and ``--no-ui``) subscribe to ``events()`` and ``send()`` the same
commands; the controller never knows which is attached. It owns the truth on disk: state.json
(atomic), trials.jsonl (append-only), MEMORY_LOG.md. A restarted controller re-attaches every
trial still running and collects every trial that ended while no controller ran.

Two tasks share the state: the planner loop (which may call an LLM) and the monitor (which
never can: it holds no planner). Monitoring therefore goes on during a long THINK or dry-run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

from .backends import make_backends
from .backends.base import Backend, HostProbe, RunResult, TrialRef
from .config import Config
from .errors import BackendError, ResearcherError
from .events import (Command, Directive, Event, MemoryChanged, MonitorSample, Notice, Pause, Phase, PhaseChanged,
                     Pivot, PlanProposed, Quit, Reflected, Resume, StopTrial, TrialFinished, TrialLaunched,
                     TrialStatus, UsageChanged, command_from_dict)
from .fsutil import write_atomic
from .ledger import Ledger, Trial
from .memory import Memory, load_brief
from .metrics import MetricReader, failure_label
from .placement import HostView, Placement, choose
from .planner import OfflinePlanner, Plan, Planner, ThinkContext, dry_run_argv
from .state import CYCLES_KEPT, ProjectLock, State

EVENT_LOG_MAX_BYTES = 5 * 1024 * 1024
KILL_GRACE_S = 10.0
LOG_READ_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ProjectPaths:
    """Every file the controller reads or owns, in one place (tools protect the same list)."""

    root: Path
    workspace: Path

    @classmethod
    def of(cls, project_dir: Path, config: Config) -> "ProjectPaths":
        root = project_dir.resolve()
        return cls(root=root, workspace=(root / config.project.workspace).resolve())

    @property
    def state(self) -> Path: return self.workspace / "state.json"
    @property
    def ledger(self) -> Path: return self.workspace / "trials.jsonl"
    @property
    def memory(self) -> Path: return self.workspace / "MEMORY_LOG.md"
    @property
    def directive(self) -> Path: return self.workspace / "HUMAN_DIRECTIVE.md"
    @property
    def directive_archive(self) -> Path: return self.workspace / "directive_archive"
    @property
    def events(self) -> Path: return self.workspace / "events.jsonl"
    @property
    def commands(self) -> Path: return self.workspace / "commands.jsonl"
    @property
    def lock(self) -> Path: return self.workspace / ".lock"

    def protected(self) -> list[str]:
        """Workspace-relative files no tool may write."""
        names = [self.state, self.ledger, self.memory, self.directive, self.events, self.commands, self.lock]
        return [str(p.relative_to(self.workspace)) for p in names]


class Controller:
    def __init__(self, project_dir: Path, config: Config, *, planner: Planner | None = None,
                 backends: list[Backend] | None = None, max_cycles: int | None = None) -> None:
        self.config = config
        self.paths = ProjectPaths.of(project_dir, config)
        self.project_name = config.project.name or self.paths.root.name
        self.ledger = Ledger(self.paths.ledger)
        self.state = State.load(self.paths.state)
        self.memory = Memory.load(self.paths.memory, config.memory)
        self.metric_reader = MetricReader(config.metric)
        self.planner: Planner = planner or OfflinePlanner(config, self.ledger)
        self.backends: dict[str, Backend] = {b.name: b for b in (backends or make_backends(config, project_dir))}
        self.max_cycles = config.agent.max_cycles if max_cycles is None else max_cycles
        self._lock = ProjectLock(self.paths.lock)
        self._subscribers: list[asyncio.Queue] = []
        self._commands: asyncio.Queue[Command] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._finished: asyncio.Queue[str] = asyncio.Queue()
        self._quit: Quit | None = None
        self._kills: dict[str, tuple[str, float]] = {}      # trial id -> (status to record, when sent)
        self._launching: set[str] = set()   # launches in flight in this process: not the monitor's yet
        self._tasks: list[asyncio.Task] = []
        self._planning_task: asyncio.Task | None = None
        self._backoff_until = 0.0
        self._hold = False   # planning waits for an event (a trial ends, a command): never a timer while trials run
        self._reported = False

    # faces ----------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(queue)

    async def events(self) -> AsyncIterator[Event]:
        queue = self.subscribe()
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            self.unsubscribe(queue)

    def send(self, command: Command) -> None:
        """Faces call this from the event loop's thread; the loop reacts within one tick."""
        self._commands.put_nowait(command)
        self._wake.set()

    def emit(self, event: Event) -> None:
        self._write_event(event)
        for queue in list(self._subscribers):
            queue.put_nowait(event)

    def _write_event(self, event: Event) -> None:
        path = self.paths.events
        try:
            if path.exists() and path.stat().st_size > EVENT_LOG_MAX_BYTES:
                os.replace(path, path.with_suffix(".jsonl.1"))
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps(event.to_dict(), default=str) + "\n")
        except OSError:
            pass  # the event stream on disk is a convenience; the loop must not die for it

    def notice(self, text: str, level: str = "info") -> None:
        self.emit(Notice(level=level, text=text))

    def set_phase(self, phase: str, detail: str = "") -> None:
        if phase != self.state.phase or detail:
            self.state.phase = phase
            self.emit(PhaseChanged(phase=phase, cycle=self.state.cycle, detail=detail))

    # lifecycle ----------------------------------------------------------------------

    async def run(self) -> int:
        """Run until max cycles, the search is exhausted, or a quit command; return an exit code."""
        self._lock.acquire()
        try:
            self.paths.workspace.mkdir(parents=True, exist_ok=True)
            self.state.controller_pid = os.getpid()
            for text in self.config.notices:
                self.notice(text)
            await self._start_backends()
            await self._resume()
            self._tasks = [
                asyncio.create_task(self._monitor_loop(), name="monitor"),
                asyncio.create_task(self._command_loop(), name="commands"),
                asyncio.create_task(self._watch_files(), name="watch"),
            ]
            self._planning_task = asyncio.create_task(self._planning_loop(), name="planner")
            try:
                await self._planning_task
            except asyncio.CancelledError:
                if self._quit is None:
                    raise
            await self._finish_quit()
            return 0
        finally:
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            self.state.controller_pid = None
            self.state.save(self.paths.state)
            for backend in self.backends.values():
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(backend.close(), 10)
            close = getattr(self.planner, "close", None)   # an LLM planner's HTTP connections
            if close is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(close(), 10)
            for queue in list(self._subscribers):
                queue.put_nowait(None)
            self._lock.release()

    async def _start_backends(self) -> None:
        protected = self.paths.protected()
        for backend in self.backends.values():
            configure = getattr(backend, "configure", None)
            if configure is not None:
                await configure(protected)
            try:
                info = await backend.start()
                self.notice(f"host {backend.name}: helper ready (python {info.get('python', '?')}, "
                            f"workspace {info.get('root', '?')})")
            except BackendError as exc:
                self.notice(f"host {backend.name} unreachable: {exc}", "warning")
            if getattr(backend, "put_file", None) is not None:
                await self._seed_code(backend)

    async def _seed_code(self, backend: Backend) -> None:
        """Copy the project's code to a remote workspace where it is missing; never over the host's edits."""
        skip = set(self.paths.protected()) | {"runs", "directive_archive"}
        copied = []
        try:
            for path in sorted(self.paths.workspace.rglob("*")):
                rel = path.relative_to(self.paths.workspace)
                if (not path.is_file() or rel.parts[0] in skip or str(rel) in skip
                        or any(p.startswith(".") or p == "__pycache__" for p in rel.parts)):
                    continue
                if not await backend.exists(str(rel)):
                    await backend.put_file(path, str(rel))
                    copied.append(str(rel))
        except BackendError as exc:
            self.notice(f"host {backend.name}: could not copy the project's code: {exc}", "warning")
            return
        if copied:
            self.notice(f"host {backend.name}: copied {len(copied)} file(s) of code to its workspace "
                        f"({', '.join(copied[:5])}{', ...' if len(copied) > 5 else ''})")

    async def _resume(self) -> None:
        """Re-attach every trial the state says may be running; none is launched again."""
        for tid, place in list(self.state.running.items()):
            trial = self.ledger.get(tid)
            if trial is None:
                self.notice(f"{tid} is in state.json but not in the ledger: dropped", "warning")
                self.state.running.pop(tid)
                continue
            if trial.status in TrialStatus.FINISHED:
                self.state.running.pop(tid)
                continue
            self.emit(TrialLaunched(trial_id=tid, host=trial.host, pid=trial.pid, log_path=trial.log_path,
                                    command=trial.command, gpus=tuple(trial.gpus), reattached=True))
            handle = f"job {trial.job_id}" if trial.job_id else f"pid {trial.pid}"
            self.notice(f"re-attached {tid} on {trial.host} ({handle}); it was not launched again")
        for tid in self.ledger.unreflected():   # recorded, but the controller stopped before REFLECT
            if tid not in self.state.running:
                self._finished.put_nowait(tid)
        self.state.save(self.paths.state)

    def _cycles_left(self) -> bool:
        if self._reported:
            return False
        return not self.max_cycles or self.state.cycle < self.max_cycles

    # commands -----------------------------------------------------------------------

    async def _command_loop(self) -> None:
        while True:
            command = await self._commands.get()
            await self._apply(command)

    async def _apply(self, command: Command) -> None:
        if isinstance(command, Pause):
            self.state.paused = True
            self.notice("paused: no new planning; running training goes on and is still monitored")
        elif isinstance(command, Resume):
            self.state.paused = False
            self.notice("resumed")
        elif isinstance(command, Pivot):
            self.state.pivot = command.reason or "change direction"
            self.notice(f"pivot requested: {self.state.pivot}; the next THINK must change direction")
        elif isinstance(command, Directive):
            write_atomic(self.paths.directive, command.text.rstrip() + "\n")
            self.notice("directive saved: it will be used at the next THINK")
        elif isinstance(command, StopTrial):
            ids = [command.trial_id] if command.trial_id else list(self.state.running)
            for tid in ids:
                await self._kill(tid, TrialStatus.CANCELLED, "stopped by the user")
        elif isinstance(command, Quit):
            self._quit = command
            if self._planning_task is not None and not self._planning_task.done():
                self._planning_task.cancel()
        self.state.save(self.paths.state)
        self._hold = False
        self._wake.set()

    async def _finish_quit(self) -> None:
        quit_cmd = self._quit
        running = list(self.state.running)
        if quit_cmd is not None and not quit_cmd.leave_training_running and running:
            for tid in running:
                await self._kill(tid, TrialStatus.CANCELLED, "stopped at quit")
            deadline = time.monotonic() + KILL_GRACE_S + 5
            while self.state.running and time.monotonic() < deadline:
                await self._poll_once()
                await asyncio.sleep(0.2)
            await self._drain_reflections()
        if self.state.running:
            ids = ", ".join(f"{t} (pid {self.state.running[t].get('pid')})" for t in self.state.running)
            self.notice(f"controller stopped; training left running: {ids}. Run the same command again to re-attach.")
        self.set_phase(Phase.STOPPED if quit_cmd else Phase.DONE)

    async def _watch_files(self) -> None:
        """Directives and commands written by other processes (`directive`, an attached app)."""
        from watchfiles import awatch

        offset = self.paths.commands.stat().st_size if self.paths.commands.exists() else 0
        if self.paths.directive.exists():
            self.notice("a directive is waiting: it will be used at the next THINK")
        async for changes in awatch(self.paths.workspace, recursive=False, debounce=50, step=25,
                                    rust_timeout=1000, yield_on_timeout=False):
            names = {Path(p).name for _, p in changes}
            if self.paths.directive.name in names and self.paths.directive.exists():
                self.notice("directive received: it will be used at the next THINK")
                self._hold = False
                self._wake.set()
            if self.paths.commands.name in names:
                offset = self._read_commands(offset)

    def _read_commands(self, offset: int) -> int:
        try:
            with open(self.paths.commands, "rb") as f:
                f.seek(offset)
                data = f.read()
        except OSError:
            return offset
        end = data.rfind(b"\n") + 1
        for line in data[:end].decode("utf-8", "replace").splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                command = command_from_dict(json.loads(line))
                if command is not None:
                    self.send(command)
        return offset + end

    # planning ---------------------------------------------------------------------------

    async def _planning_loop(self) -> None:
        # checked each turn as well as cancelled: Python 3.11's wait_for can swallow a cancel
        while self._quit is None:
            await self._drain_reflections()
            free = self.config.experiment.max_parallel - len(self.state.running)
            if not self._cycles_left() and not self.state.running and self._finished.empty():
                self.set_phase(Phase.DONE, f"{self.state.cycle} cycles")
                return
            if self.state.paused or self._over_budget():
                self.set_phase(Phase.PAUSED)
            elif time.time() < self._backoff_until:
                self.set_phase(Phase.BACKOFF)
            elif free > 0 and self._cycles_left() and not self._hold:
                await self._cycle()
                continue
            elif not self.state.running and self._finished.empty():
                self.set_phase(Phase.DONE, f"{self.state.cycle} cycles")
                return
            elif self.state.running:
                self.set_phase(Phase.MONITOR)
            self._wake.clear()
            timeout = self.config.monitor.poll_interval
            if self._backoff_until:
                timeout = max(0.05, min(timeout, self._backoff_until - time.time()))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _over_budget(self) -> bool:
        cap = self.config.agent.max_usd_per_day
        if cap and self.state.usage.usd_today >= cap:
            if self.state.phase != Phase.PAUSED:
                self.notice(f"daily spend ${self.state.usage.usd_today:.2f} reached agent.max_usd_per_day "
                            f"(${cap:.2f}): planning paused until tomorrow; training goes on", "warning")
            return True
        return False

    def _context(self) -> ThinkContext:
        brief, warning = load_brief(self.paths.root / self.config.project.brief, self.config.memory.brief_max_chars)
        if warning and not getattr(self, "_brief_warned", False):
            self.notice(warning, "warning")
            self._brief_warned = True
        directive = ""
        if self.paths.directive.exists():
            directive = self.paths.directive.read_text(encoding="utf-8", errors="replace").strip()
        return ThinkContext(
            cycle=self.state.cycle, brief=brief, memory=self.memory.render(), directive=directive,
            pivot=self.state.pivot, lineage=self.ledger.lineage(self.config.metric.goal), running=self.running_trials(),
            free_slots=self.config.experiment.max_parallel - len(self.state.running),
            goal=self.config.metric.goal, metric=self.config.metric.name)

    async def _cycle(self) -> None:
        self.state.cycle += 1
        self.set_phase(Phase.THINK)
        ctx = self._context()
        try:
            plan = await self.planner.think(ctx)
        except ResearcherError as exc:
            self._planning_failed(f"THINK failed: {exc}")
            return
        if plan is None or plan.action == "wait":
            self.state.cycle -= 1
            self.notice("planner has nothing to launch now: waiting")
            self._retry_later(self.config.monitor.poll_interval)
            return
        if plan.action == "report":
            self.state.cycle -= 1
            self._reported = True  # nothing more to plan: finish what runs, then stop
            self.notice(f"planner reports: {plan.hypothesis}")
            return
        if ctx.directive:
            self._archive_directive(ctx.directive)
        self.state.pivot = ""
        self._backoff_until = 0.0
        trial = self._new_trial(plan, ctx.cycle)
        self.emit(PlanProposed(trial_id=trial.id, cycle=trial.cycle, hypothesis=plan.hypothesis, task=plan.task,
                               success_criteria=plan.success_criteria, worker=plan.worker, params=plan.params,
                               command=plan.command, directive=ctx.directive))
        self.set_phase(Phase.EXECUTE)
        runner = _Runner(self, trial)
        try:
            await self.planner.execute(plan, runner)
        except ResearcherError as exc:
            self.notice(f"EXECUTE failed for {trial.id}: {exc}", "error")
        if not runner.launched and trial.id not in self.state.running:
            current = self.ledger.get(trial.id) or trial
            if current.status not in TrialStatus.FINISHED:
                dry_failed = bool(current.dry_run) and not current.dry_run.get("ok")
                current.status = TrialStatus.DRY_RUN_FAILED if dry_failed else TrialStatus.LAUNCH_FAILED
                current.label = current.label or "EXECUTE ended without a launch"
                current.ended = time.time()
                self.ledger.record(current, "finished")
                self.emit(TrialFinished(trial_id=current.id, status=current.status, label=current.label))
            await self._reflect(current)
        self.state.save(self.paths.state)

    def _planning_failed(self, why: str) -> None:
        self.notice(why, "error")
        self.memory.add_decision(f"cycle {self.state.cycle}: planning failure: {why[:200]}")
        self._save_memory()
        self._retry_later(min(600.0, max(self.config.monitor.poll_interval, 5.0) * 2))
        self.state.save(self.paths.state)

    def _retry_later(self, delay: float) -> None:
        """With trials running, plan again when one ends or a command comes (zero LLM on a timer);
        with none running, after ``delay``."""
        if self.state.running:
            self._hold = True
        else:
            self._backoff_until = time.time() + delay

    def _new_trial(self, plan: Plan, cycle: int) -> Trial:
        tid = f"t{self.state.next_trial:04d}"
        self.state.next_trial += 1
        trial = Trial(id=tid, cycle=cycle, parent=plan.parent, hypothesis=plan.hypothesis, task=plan.task,
                      success_criteria=plan.success_criteria, command=plan.command, argv=list(plan.argv),
                      params=dict(plan.params), run_dir=f"runs/{tid}")
        self.ledger.record(trial, "planned")
        self.state.save(self.paths.state)
        return trial

    def _archive_directive(self, text: str) -> None:
        """Only after THINK used it: a crash before this point keeps the directive for the next THINK."""
        archive = self.paths.directive_archive / f"{time.strftime('%Y%m%d-%H%M%S')}-c{self.state.cycle}.md"
        write_atomic(archive, text + "\n")
        with contextlib.suppress(FileNotFoundError):
            current = self.paths.directive.read_text(encoding="utf-8", errors="replace").strip()
            if current == text.strip():
                self.paths.directive.unlink()
        self.notice(f"directive used by THINK of cycle {self.state.cycle}; archived to {archive.name}")

    # launching -------------------------------------------------------------------------

    async def dry_run(self, trial: Trial, argv: list[str], *, final: bool = True) -> RunResult:
        """``final=False`` (an LLM worker's dry-run): a failure is recorded but does not end the trial,
        so the worker can fix the code and dry-run again; EXECUTE ending without a launch records it."""
        self.set_phase(Phase.EXECUTE, f"dry-run of {trial.id}")
        backend = self._default_backend()
        started = time.time()
        try:
            result = await backend.run(argv, timeout=self.config.experiment.dry_run_timeout)
        except BackendError as exc:
            result = RunResult(exit_code=None, stderr=str(exc))
        trial.dry_run = {"argv": argv, "exit_code": result.exit_code, "ok": result.ok,
                         "duration": round(time.time() - started, 3),
                         "output": (result.stdout + result.stderr)[-2000:]}
        if result.ok:
            self.notice(f"{trial.id} dry-run ok in {trial.dry_run['duration']:.1f}s")
            self.ledger.record(trial, "dry_run")
        else:
            why = "timed out" if result.timed_out else f"exit {result.exit_code}"
            trial.label = f"dry-run {why}: {failure_label(result.stdout + result.stderr)}".strip()
            if not final:
                self.notice(f"{trial.id} {trial.label}", "warning")
                self.ledger.record(trial, "dry_run")
                return result
            trial.status = TrialStatus.DRY_RUN_FAILED
            trial.ended = time.time()
            self.ledger.record(trial, "finished")
            self.emit(TrialFinished(trial_id=trial.id, status=trial.status, label=trial.label))
        return result

    async def launch(self, trial: Trial, argv: list[str]) -> Trial | None:
        placement = await self._place(trial)
        if placement is None:
            return None
        backend = self.backends[placement.host]
        trial.host, trial.gpus, trial.argv = placement.host, list(placement.gpus), list(argv)
        trial.command = " ".join(argv) if not trial.command else trial.command
        trial.log_path = f"{trial.run_dir}/train.log"
        trial.status = TrialStatus.RUNNING
        # record the intent first: a controller killed mid-launch finds this entry and the pid file
        self.state.running[trial.id] = {"host": trial.host, "gpus": trial.gpus, "run_dir": trial.run_dir,
                                        "pid": None, "launching": True}
        self.state.save(self.paths.state)
        self._launching.add(trial.id)
        try:
            env = {**placement.env, "TUI_RESEARCHER_TRIAL": trial.id, "TUI_RESEARCHER_RUN_DIR": trial.run_dir}
            info = await backend.launch(argv, run_dir=trial.run_dir, env=env)
        except BackendError as exc:
            self._launching.discard(trial.id)
            self.state.running.pop(trial.id, None)
            trial.status, trial.label, trial.ended = TrialStatus.LAUNCH_FAILED, str(exc)[:300], time.time()
            self.ledger.record(trial, "finished")
            self.emit(TrialFinished(trial_id=trial.id, status=trial.status, label=trial.label))
            self.state.save(self.paths.state)
            return None
        self._launching.discard(trial.id)
        trial.pid, trial.start_time, trial.job_id = info.pid, info.start_time, info.job_id
        trial.started = None if info.job_id else time.time()   # a queued job starts when Slurm says so
        trial.status = TrialStatus.PENDING if info.job_id else TrialStatus.RUNNING
        trial.last_growth = trial.started
        self.state.running[trial.id] = {"host": trial.host, "gpus": trial.gpus, "run_dir": trial.run_dir,
                                        "pid": info.pid, "start_time": info.start_time, "job_id": info.job_id,
                                        "log_path": info.log_path, "log_offset": 0, "started": trial.started,
                                        "submitted": time.time()}
        self.ledger.record(trial, "launched")
        self.state.save(self.paths.state)
        self.emit(TrialLaunched(trial_id=trial.id, host=trial.host, pid=info.pid, log_path=info.log_path,
                                command=trial.command, gpus=tuple(trial.gpus), job_id=info.job_id))
        self.set_phase(Phase.MONITOR)
        return trial

    async def _place(self, trial: Trial) -> Placement | None:
        """Wait for a free place, from fresh samples; never launch on a busy GPU."""
        scheduler = next((b for b in self.backends.values() if getattr(b, "schedules_gpus", False)), None)
        if scheduler is not None:
            return Placement(scheduler.name)   # Slurm picks node and GPUs; max_parallel caps what is submitted
        announced = False
        while True:
            probes = await self._probe_hosts(gpu=self.config.gpu.gpus_per_trial > 0, with_trials=False)
            views = []
            for name, backend in self.backends.items():
                probe = probes.get(name)
                held = {g for p in self.state.running.values() if p.get("host") == name for g in p.get("gpus", [])}
                host_cfg = next((h for h in self.config.execution.hosts if (h.name or h.host) == name), None)
                views.append(HostView(name=name, reachable=bool(probe and probe.reachable),
                                      gpus=probe.gpus if probe else None, held=held,
                                      allowed=host_cfg.gpus if host_cfg else None,
                                      running=sum(1 for p in self.state.running.values() if p.get("host") == name)))
            placement, why = choose(views, self.config.gpu)
            if placement is not None:
                return placement
            if not announced:
                self.set_phase(Phase.WAITING_GPU, f"{trial.id}: {why}")
                self.notice(f"{trial.id} waits: {why}")
                announced = True
            if self._quit is not None:
                return None
            await asyncio.sleep(self.config.monitor.poll_interval)

    def _default_backend(self) -> Backend:
        return next(iter(self.backends.values()))

    # monitoring: zero LLM by construction (no planner here) ---------------------------------

    async def _monitor_loop(self) -> None:
        """Arm the next poll when this one ends, so polls never overlap."""
        while True:
            started = time.monotonic()
            try:
                await self._poll_once()
            except Exception as exc:  # a monitor that dies silently loses trials: say it, keep going
                self.notice(f"monitor poll failed: {type(exc).__name__}: {exc}", "error")
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, self.config.monitor.poll_interval - elapsed))

    async def _probe_hosts(self, *, gpu: bool, with_trials: bool = True) -> dict[str, HostProbe]:
        names = list(self.backends)
        refs: dict[str, list[TrialRef]] = {n: [] for n in names}
        if with_trials:
            for tid, place in self.state.running.items():
                if place.get("host") in refs and tid not in self._launching:
                    refs[place["host"]].append(TrialRef(
                        id=tid, run_dir=place["run_dir"], pid=place.get("pid"), job_id=place.get("job_id", ""),
                        start_time=place.get("start_time", ""), offset=place.get("log_offset", 0)))
        results = await asyncio.gather(*(self.backends[n].probe(refs[n], gpu=gpu) for n in names),
                                       return_exceptions=True)
        out = {}
        for name, result in zip(names, results):
            if isinstance(result, BaseException):
                result = HostProbe(host=name, reachable=False, error=f"{type(result).__name__}: {result}")
            out[name] = result
        return out

    async def _poll_once(self) -> None:
        probes = await self._probe_hosts(gpu=self.config.gpu.auto_detect)
        now = time.time()
        changed = False
        for name, probe in probes.items():
            lines, trials, ended = [], [], []
            for tid, tp in probe.trials.items():
                place = self.state.running.get(tid)
                if place is None or tp.error:
                    continue
                if tp.data:
                    lines.extend((tid, line) for line in tp.data.splitlines())
                if tp.offset != place.get("log_offset", 0):
                    place["log_offset"] = tp.offset
                    place["last_growth"] = now
                    changed = True
                if tp.job_id and not place.get("job_id"):   # a job id the backend had to recover
                    place["job_id"] = tp.job_id
                    changed = True
                if tp.pid and not place.get("pid"):
                    place.update(pid=tp.pid, start_time=tp.start_time)
                    place.pop("launching", None)
                    changed = True
                changed |= self._note_job_state(tid, place, tp, now)
                started = place.get("started")
                trials.append({"trial_id": tid, "alive": tp.alive, "log_bytes": tp.size,
                               "elapsed_s": round(now - started, 1) if started else 0.0,
                               "state": tp.state or ("RUNNING" if tp.alive else ""), "reason": tp.reason,
                               "job_id": place.get("job_id", ""), "node": tp.node})
                if tp.finished or (not tp.launched and not tp.alive):
                    ended.append((tid, tp))
                elif started:
                    changed |= await self._enforce_limits(tid, place, now)
            gpus = tuple(g.to_dict() for g in probe.gpus) if probe.gpus else ()
            sample = MonitorSample(host=name, reachable=probe.reachable, gpus=gpus,
                                   gpu_error=probe.gpu_error or probe.error, trials=tuple(trials), lines=tuple(lines))
            self.emit(sample)
            for tid, tp in ended:
                await self._collect(tid, tp)
                changed = True
        if changed:
            self.state.save(self.paths.state)

    def _note_job_state(self, tid: str, place: dict, tp, now: float) -> bool:
        """A queued job: remember Slurm's reason while it waits, and when it really started running."""
        changed = False
        if tp.pending and place.get("reason") != tp.reason:
            place["reason"] = tp.reason
            self.notice(f"{tid} pending ({tp.reason or 'queued'})")
            changed = True
        if not place.get("started") and (tp.started or (tp.alive and not tp.pending)):
            place["started"] = tp.started or now
            place["last_growth"] = place["started"]
            place.pop("reason", None)
            if tp.node:
                place["node"] = tp.node
            trial = self.ledger.get(tid)
            if trial is not None and place.get("job_id"):
                trial.status, trial.started = TrialStatus.RUNNING, place["started"]
                self.ledger.record(trial, "running")
            changed = True
        return changed

    async def _enforce_limits(self, tid: str, place: dict, now: float) -> bool:
        """Stall and timeout: kill the process group and record why."""
        pending = self._kills.get(tid)
        if pending is not None:
            if now - pending[1] > KILL_GRACE_S:
                await self._signal(tid, "SIGKILL")
            return False
        started = place.get("started") or now
        max_runtime = self.config.experiment.max_runtime
        if max_runtime and now - started > max_runtime:
            await self._kill(tid, TrialStatus.TIMEOUT, f"over experiment.max_runtime ({max_runtime:g}s)")
            return True
        stall = self.config.monitor.stall_timeout
        last = place.get("last_growth") or started
        if stall and now - last > stall:
            await self._kill(tid, TrialStatus.STALLED, f"no log growth for {now - last:.0f}s (monitor.stall_timeout)")
            return True
        return False

    async def _kill(self, tid: str, status: str, label: str) -> None:
        if tid not in self.state.running or tid in self._kills:
            return
        self._kills[tid] = (status, time.time())
        self.state.running[tid]["kill"] = {"status": status, "label": label}
        self.notice(f"stopping {tid}: {label}")
        await self._signal(tid, "SIGTERM")

    async def _signal(self, tid: str, sig: str) -> None:
        place = self.state.running.get(tid, {})
        backend = self.backends.get(place.get("host", ""))
        if backend is None or not (place.get("pid") or place.get("job_id")):
            return
        with contextlib.suppress(BackendError):
            await backend.kill(place.get("pid"), place.get("start_time", ""), sig, job_id=place.get("job_id", ""))

    # collecting and reflecting ----------------------------------------------------------

    async def _collect(self, tid: str, tp) -> None:
        """The trial ended: the controller, not any LLM, decides its status and metric."""
        place = self.state.running[tid]
        trial = self.ledger.get(tid) or Trial(id=tid, cycle=self.state.cycle, run_dir=place["run_dir"])
        backend = self.backends[place["host"]]
        trial.pid = trial.pid or place.get("pid")
        trial.log_offset = place.get("log_offset", 0)
        trial.ended = tp.ended or time.time()
        trial.exit_code = tp.exit_code
        if place.get("started"):
            trial.started = place["started"]
        trial.job_id = trial.job_id or place.get("job_id", "")
        trial.node = trial.node or place.get("node", "")
        trial.duration = round(trial.ended - trial.started, 3) if trial.started else None
        kill = place.get("kill")
        log_text = ""
        with contextlib.suppress(BackendError):
            log_text = await backend.tail(f"{trial.run_dir}/train.log", max_bytes=LOG_READ_BYTES)
        results_json = None
        if self.config.metric.file:   # only the run's own copy: a worker can write elsewhere in the workspace
            with contextlib.suppress(BackendError):
                results_json = await backend.read_file(f"{trial.run_dir}/{self.config.metric.file}")
        result = self.metric_reader.read(log_text, results_json)
        trial.metrics = {k: v for k, v in result.metrics.items() if math.isfinite(v)}
        trial.metric = result.value if result.value is not None and math.isfinite(result.value) else None
        if not tp.launched and tp.exit_code is None:
            trial.status, trial.label = TrialStatus.LAUNCH_FAILED, "the controller stopped before the launch completed"
        elif kill:
            trial.status, trial.label = kill["status"], kill["label"]
        elif tp.status:
            trial.status, trial.label = tp.status, tp.reason or failure_label(log_text)
        elif tp.exit_code is None:
            trial.status, trial.label = TrialStatus.CRASH, f"process vanished without an exit code; {failure_label(log_text)}"
        elif tp.exit_code != 0:
            trial.status = TrialStatus.CRASH
            trial.label = failure_label(log_text) or f"exit code {tp.exit_code}"
        elif result.nonfinite:
            trial.status, trial.label = TrialStatus.NAN, result.nonfinite
        elif result.value is None:
            trial.status, trial.label = TrialStatus.CRASH, f"finished but no {self.config.metric.name} in the log"
        elif result.gate_failures:
            trial.status, trial.label = TrialStatus.GATED, "; ".join(result.gate_failures)
        else:
            best = self.ledger.best(self.config.metric.goal)
            better = self.metric_reader.better(trial.metric, best.metric if best else None)
            trial.status = TrialStatus.KEEP if better else TrialStatus.DISCARD
        if trial.status == TrialStatus.KEEP:
            self.state.best_trial, self.state.best_metric = trial.id, trial.metric
        self.ledger.record(trial, "finished")
        self.state.running.pop(tid, None)
        self._kills.pop(tid, None)
        best = self.ledger.best(self.config.metric.goal)
        self.emit(TrialFinished(trial_id=tid, status=trial.status, metric=trial.metric, label=trial.label,
                                exit_code=trial.exit_code, duration_s=trial.duration,
                                best=best.metric if best else None))
        self._finished.put_nowait(tid)
        self._hold = False
        self._wake.set()

    async def _drain_reflections(self) -> None:
        while not self._finished.empty() and not self.state.paused:
            tid = self._finished.get_nowait()
            trial = self.ledger.get(tid)
            if trial is not None:
                await self._reflect(trial)

    async def _reflect(self, trial: Trial) -> None:
        self.set_phase(Phase.REFLECT, trial.id)
        try:
            reflection = await self.planner.reflect(trial, self._context())
        except ResearcherError as exc:
            self.notice(f"REFLECT failed for {trial.id}: {exc}; result recorded without a decision", "error")
            from .planner import Reflection
            reflection = Reflection(decision=f"{trial.id} {trial.status} (no reflection: {exc})"[:300])
        if trial.status == TrialStatus.KEEP:
            self.state.no_progress = 0
        elif trial.status in TrialStatus.FINISHED:
            self.state.no_progress += 1
        metric = "-" if trial.metric is None else f"{trial.metric:.6g}"
        if reflection.milestone:
            self.memory.add_result(reflection.milestone)
        elif trial.status == TrialStatus.KEEP:
            self.memory.add_result(f"{trial.id}: {self.config.metric.name}={metric}")
        stamp = time.strftime("%m-%d %H:%M")
        self.memory.add_decision(f"[{stamp}] {reflection.decision} -> {reflection.next_action}")
        self._save_memory()
        trial.decision = reflection.decision
        self.ledger.record(trial, "reflected")
        self.state.last_decision = reflection.decision
        if reflection.next_action == "pivot" and not self.state.pivot:
            self.state.pivot = f"no improvement in {self.state.no_progress} trials"
        elif reflection.next_action == "report":
            self._reported = True
        self.emit(Reflected(trial_id=trial.id, decision=reflection.decision, next_action=reflection.next_action,
                            milestone=reflection.milestone))
        self.state.save(self.paths.state)

    def _save_memory(self) -> None:
        text = self.memory.save()
        self.emit(MemoryChanged(text=text))

    # usage (LLM planners report here) ---------------------------------------------------------

    def add_usage(self, *, input_tokens: int = 0, output_tokens: int = 0, cache_read_tokens: int = 0,
                  cache_write_tokens: int = 0, usd: float = 0.0) -> None:
        usage = self.state.usage
        today = time.strftime("%Y-%m-%d")
        if usage.day != today:
            usage.day, usage.usd_today, usage.tokens_today = today, 0.0, 0
        usage.input_tokens += input_tokens
        usage.output_tokens += output_tokens
        usage.cache_read_tokens += cache_read_tokens
        usage.cache_write_tokens += cache_write_tokens
        usage.usd += usd
        usage.usd_today += usd
        tokens = input_tokens + output_tokens + cache_read_tokens + cache_write_tokens
        usage.tokens_today += tokens
        cycle = usage.by_cycle.setdefault(str(self.state.cycle), {"tokens": 0, "usd": 0.0})
        cycle["tokens"] += tokens
        cycle["usd"] = round(cycle["usd"] + usd, 6)
        while len(usage.by_cycle) > CYCLES_KEPT:
            usage.by_cycle.pop(min(usage.by_cycle, key=int))
        self.emit(UsageChanged(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                               cache_read_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_write_tokens,
                               usd=usage.usd, usd_today=usage.usd_today, tokens_today=usage.tokens_today))

    # views for faces -------------------------------------------------------------------------

    def running_trials(self) -> list[Trial]:
        return [t for t in (self.ledger.get(tid) for tid in self.state.running) if t]


class _Runner:
    """EXECUTE's handle on one trial: the mandatory dry-run gate, then at most one launch."""

    def __init__(self, controller: Controller, trial: Trial) -> None:
        self.controller = controller
        self.trial = trial
        self.dry_run_ok: set[tuple[str, ...]] = set()
        self.launched: Trial | None = None

    @property
    def backend(self) -> Backend:
        return self.controller._default_backend()

    async def dry_run(self, argv: list[str], *, final: bool = True) -> RunResult:
        result = await self.controller.dry_run(self.trial, argv, final=final)
        if result.ok:
            self.dry_run_ok.add(tuple(argv))
        return result

    def dry_run_required(self, argv: list[str]) -> str:
        """Why a launch of ``argv`` is refused now, or "" when it may go."""
        if self.launched is not None:
            return f"{self.trial.id} was already launched (pid {self.launched.pid}); one launch per dispatch"
        if not self.controller.config.experiment.mandatory_dry_run:
            return ""
        expected = tuple(dry_run_argv(self.controller.config, list(argv), self.trial.params))
        if expected in self.dry_run_ok or tuple(argv) in self.dry_run_ok:
            return ""
        return ("launch refused: experiment.mandatory_dry_run is on and no dry-run of this command has "
                f"succeeded in this dispatch; run `{' '.join(expected)}` first")

    async def launch(self, argv: list[str]) -> Trial | None:
        refusal = self.dry_run_required(argv)
        if refusal:
            raise ResearcherError(refusal)
        self.launched = await self.controller.launch(self.trial, argv)
        return self.launched
