"""The loop: THINK -> EXECUTE -> MONITOR -> REFLECT, as an asyncio state machine.

The controller orchestrates; each phase lives in its own module: ``monitor`` (zero LLM),
``collect`` and ``verdict`` (the result, measured), ``execute`` (dry-run gate, placement,
launch), ``reflect``, ``commands``. Both faces (the Textual app and ``--no-ui``) subscribe to
the same events and send the same commands; the controller never knows which is attached.
A restarted controller re-attaches every trial still running and collects every trial that
ended while no controller ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path
from typing import AsyncIterator

from .backends import make_backends
from .backends.base import Backend
from .bus import EventBus
from .collect import Collector
from .commands import CommandHandler
from .config import Config
from .errors import BackendError, ResearcherError
from .events import Command, Event, Phase, PhaseChanged, PlanProposed, Quit, TrialLaunched
from .directive import DirectiveFile
from .execute import Launcher, Runner
from .hosts import start_hosts
from .memory import load_brief
from .money import cap_reached, spent_today, usd
from .monitor import KILL_GRACE_S, Monitor
from .outreach import Outreach
from .planner import OfflinePlanner, Plan, Planner, ThinkContext
from .project import Project
from .reflect import Reflector
from .state import ProjectLock
from .supervisor import Supervisor
from .seeds import SeedChecker
from .snapshot import SnapshotError
from .textsafe import inert
from .trees import Trees
from .trial import RunningTrial, Trial, TrialStatus
from .workbench import Workbench
from .failpoints import failpoint

BACKOFF_MIN_S = 5.0
"""The shortest wait after a planning failure with no trial running (twice this, or the poll interval)."""
"""HUMAN_DIRECTIVE.md as the leader sees it at most: it is sent with every THINK until one uses it."""


class Controller:
    def __init__(self, project_dir: Path, config: Config, *, planner: Planner | None = None,
                 backends: list[Backend] | None = None, max_cycles: int | None = None) -> None:
        self.project = project = Project(project_dir, config)
        self.config, self.paths, self.project_name = config, project.paths, project.name
        self.ledger, self.state, self.memory = project.ledger, project.state, project.memory
        self.bus = EventBus(project.store)
        self.backends: dict[str, Backend] = {b.name: b for b in (backends or make_backends(config, project_dir))}
        self.max_cycles = config.agent.max_cycles if max_cycles is None else max_cycles
        self.bench = Workbench(project, self.bus, self.backends)
        self._wake = asyncio.Event()
        self._hold = False   # planning waits for an event (a trial ends, a command): never a timer while trials run
        self._quit: Quit | None = None
        self._backoff_until = 0.0
        self._brief_warned = False
        self._snapshots_warned = False
        self.directive = DirectiveFile(self.paths, self.bus)
        self._planning_task: asyncio.Task | None = None
        self.reflector = Reflector(project, self.bus, planner or OfflinePlanner(config, project.ledger),
                                   self.set_phase, self._context, self._cap_reached)
        self.trees = Trees(project)
        self.seeds = SeedChecker(project, self.bus, self._recorded, wake=self._unhold)
        self.collector = Collector(project, self.bus, self.backends, self._recorded, self.trees, self.seeds)
        self.monitor = Monitor(project, self.bus, self.backends, self.collector.collect)
        self.launcher = Launcher(project, self.bus, self.backends, self.monitor, self.set_phase,
                                 lambda: self._quit is not None, self.trees)
        self.commands = CommandHandler(project, self.bus, self.monitor, on_quit=self._on_quit, wake=self._unhold)
        self.supervisor = Supervisor(self.bus.notice)
        self.outreach = Outreach(project, self.bus)   # alerts, notifications, the journal
        self._lock = ProjectLock(self.paths.lock)

    @property
    def planner(self) -> Planner:
        return self.reflector.planner

    @planner.setter
    def planner(self, planner: Planner) -> None:
        self.reflector.planner = planner

    # faces ----------------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue:
        return self.bus.subscribe()

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.bus.unsubscribe(queue)

    def events(self) -> AsyncIterator[Event]:
        return self.bus.events()

    def send(self, command: Command) -> None:
        """Faces call this from the event loop's thread; the loop reacts within one tick."""
        self.commands.send(command)

    def emit(self, event: Event) -> None:
        self.bus.emit(event)

    def notice(self, text: str, level: str = "info") -> None:
        self.bus.notice(text, level)

    def set_phase(self, phase: Phase, detail: str = "") -> None:
        if phase != self.state.phase or detail:
            self.state.phase = phase
            self.emit(PhaseChanged(phase=phase, cycle=self.state.cycle, detail=detail))

    def add_usage(self, **counts: float) -> None:
        self.bench.add_usage(**counts)

    def running_trials(self) -> list[Trial]:
        return [t for t in (self.ledger.get(tid) for tid in self.state.running) if t]

    # lifecycle ------------------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until max cycles, the search is exhausted, or a quit command; return an exit code."""
        self._lock.acquire()
        try:
            self.paths.workspace.mkdir(parents=True, exist_ok=True)
            self.state.controller_pid = os.getpid()
            for text in [*self.config.notices, *self.project.notices]:
                self.notice(text)
            await start_hosts(self.backends.values(), self.paths, self.bus)
            self.outreach.start(self.supervisor)
            self._resume()
            self.supervisor.start("monitor", self.monitor.run)
            self.supervisor.start("commands", self.commands.run)
            self.supervisor.start("watch", self.commands.watch_files)
            planning = self._planning_task = asyncio.create_task(self._planning_loop(), name="planner")
            await asyncio.wait({planning})      # raises only when run() itself is cancelled (a second Ctrl-C)
            if planning.cancelled() and self._quit is None:
                raise asyncio.CancelledError
            if not planning.cancelled() and planning.exception() is not None:
                raise planning.exception()
            await self._finish_quit()
            return 0
        finally:
            if self._planning_task is not None and not self._planning_task.done():
                self._planning_task.cancel()
                await asyncio.wait({self._planning_task}, timeout=5)
            await self._shutdown()

    async def _shutdown(self) -> None:
        await self.outreach.close()
        await self.supervisor.stop()
        self.state.controller_pid = None
        self.project.save_state()
        for backend in self.backends.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(backend.close(), 10)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.planner.close(), 10)
        self.bus.close()
        self.project.close()
        self._lock.release()

    def _resume(self) -> None:
        """Re-attach every trial the state or the ledger says may be running; none is launched again."""
        for tid in self.ledger.with_status(TrialStatus.RUNNING) + self.ledger.with_status(TrialStatus.PENDING):
            trial = None if tid in self.state.running else self.ledger.get(tid)
            if trial is not None and (trial.pid or trial.job_id):   # launched (a queued job is pending)
                self.state.running[tid] = RunningTrial.of(trial)
                self.notice(f"{tid} runs by the ledger but the state had lost it: re-attached from its record",
                            "warning")
        for tid in list(self.state.running):
            trial = self.ledger.get(tid)
            if trial is None:
                self.notice(f"{tid} is in state.json but not in the ledger: dropped", "warning")
                self.state.running.pop(tid)
                continue
            if trial.finished:
                self.state.running.pop(tid)
                continue
            pid = self.state.running[tid].training_pid or trial.shown_pid
            self.emit(TrialLaunched(trial_id=tid, host=trial.host, pid=pid, log_path=trial.log_path,
                                    command=trial.command, gpus=tuple(trial.gpus), reattached=True))
            handle = f"job {trial.job_id}" if trial.job_id else f"pid {pid}"
            self.notice(f"re-attached {tid} on {trial.host} ({handle}); it was not launched again")
        self._interrupted()
        self.seeds.resume()
        for tid in self.ledger.unreflected():   # recorded, but the controller stopped before REFLECT
            if tid not in self.state.running:
                self.reflector.owed(tid)
        self.project.save_state()

    def _interrupted(self) -> None:
        """Trials planned but never launched (the controller stopped during THINK or the dry-run): their
        configuration is offered again, their cycle given back; and no new trial may reuse an old id."""
        for tid in self.ledger.with_status(TrialStatus.PENDING):
            if tid in self.state.running:
                continue
            trial = self.ledger.get(tid)
            trial.status, trial.label, trial.ended = (TrialStatus.INTERRUPTED,
                                                      "the controller stopped before its launch", time.time())
            if not trial.seed_of:      # a seed re-run used no cycle (it is owed again: seeds.resume)
                self.state.cycle = max(0, self.state.cycle - 1)
            self.project.commit(trial, "interrupted")
            self.notice(f"{tid} was planned but never launched (the controller stopped first): recorded "
                        f"interrupted; its configuration may be tried again", "warning")
        last = self.ledger.last_id()
        if last and last[1:].isdigit() and int(last[1:]) >= self.state.next_trial:
            self.notice(f"the state's next trial id was behind the ledger ({last}): continuing after it", "warning")
            self.state.next_trial = int(last[1:]) + 1

    def _on_quit(self, command: Quit) -> None:
        self._quit = command
        if self._planning_task is not None and not self._planning_task.done():
            self._planning_task.cancel()

    async def _finish_quit(self) -> None:
        quit_cmd = self._quit
        running = list(self.state.running)
        if quit_cmd is not None and not quit_cmd.leave_training_running and running:
            for tid in running:
                await self.monitor.kill(tid, TrialStatus.CANCELLED, "stopped at quit")
            await self.monitor.drain(KILL_GRACE_S + 5)
            await self.reflector.drain()
        if self.state.running:
            ids = ", ".join(f"{t} (pid {r.training_pid or r.pid})" for t, r in self.state.running.items())
            self.notice(f"controller stopped; training left running: {ids}. Run the same command again to re-attach.")
        self.set_phase(Phase.STOPPED if quit_cmd else Phase.DONE)

    def _recorded(self, tid: str) -> None:
        """The collector recorded a result: REFLECT owes it a decision, and planning may go on."""
        self.reflector.owed(tid)
        self._unhold()

    def _unhold(self) -> None:
        self._hold = False
        self._wake.set()

    # planning -------------------------------------------------------------------------------------

    def _cycles_left(self) -> bool:
        if self.reflector.reported:
            return False
        return not self.max_cycles or self.state.cycle < self.max_cycles

    async def _planning_loop(self) -> None:
        # checked each turn as well as cancelled: Python 3.11's wait_for can swallow a cancel
        while self._quit is None:
            await self.reflector.drain()
            idle = not self.state.running and not self.reflector.pending and not self.seeds.pending
            if not self._cycles_left() and idle:
                self.set_phase(Phase.DONE, f"{self.state.cycle} cycles")
                return
            if self.state.paused or self._over_budget():
                self.set_phase(Phase.PAUSED)
            elif time.time() < self._backoff_until:
                if self.state.phase != Phase.BACKOFF:
                    self.set_phase(Phase.BACKOFF, f"planning again in {self._backoff_until - time.time():.0f}s")
            elif self._free_slots() > 0 and self.seeds.pending:
                await self.seeds.launch_next(self.launcher)   # a would-be best's re-runs go first
                continue
            elif self._free_slots() > 0 and self._cycles_left() and not self._hold:
                await self._cycle()
                continue
            elif idle:
                self.set_phase(Phase.DONE, f"{self.state.cycle} cycles")
                return
            elif self.state.running:
                self.set_phase(Phase.MONITOR)
            await self._wait_for_wake()

    async def _wait_for_wake(self) -> None:
        self._wake.clear()
        timeout = self.config.monitor.poll_interval
        if self._backoff_until:
            timeout = max(0.05, min(timeout, self._backoff_until - time.time()))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def _free_slots(self) -> int:
        return self.config.experiment.max_parallel - len(self.state.running)

    def _cap_reached(self) -> bool:
        return cap_reached(self.state.usage, self.config.agent.max_usd_per_day)

    def _over_budget(self) -> bool:
        """The daily cap stops new THINKs and REFLECTs (owed ones wait, recorded); a cycle already
        begun finishes its launch, and training goes on."""
        if not self._cap_reached():
            return False
        if self.state.phase != Phase.PAUSED:
            cap, owed = self.config.agent.max_usd_per_day, len(self.reflector.queue)
            self.notice(f"daily spend {usd(spent_today(self.state.usage))} reached agent.max_usd_per_day ({usd(cap)}): "
                        f"THINK and REFLECT wait until tomorrow ({owed} reflection(s) owed); training goes on",
                        "warning")
        return True

    def _context(self) -> ThinkContext:
        brief, warning = load_brief(self.paths.root / self.config.project.brief, self.config.memory.brief_max_chars)
        if warning and not self._brief_warned:
            self.notice(warning, "warning")
            self._brief_warned = True
        directive = self.directive.read()
        return ThinkContext(
            cycle=self.state.cycle, brief=brief, memory=self.memory.render(), directive=directive,
            pivot=self.state.pivot, lineage=self.ledger.lineage(self.config.metric.goal, self.config.metric.name,
                                                                 self.config.memory.lineage_max_chars),
            running=self.running_trials(), free_slots=self._free_slots(),
            goal=self.config.metric.goal, metric=self.config.metric.name)

    async def _cycle(self) -> None:
        """A cycle is a trial attempted: THINK takes the next number and gives it back unless a trial is made."""
        self.state.cycle += 1
        try:
            plan, ctx = await self._think()
        except BaseException:
            self.state.cycle -= 1      # a quit during THINK
            raise
        if plan is None:
            self.state.cycle -= 1
            self.project.save_state()
            return
        if ctx.directive:
            self.directive.archive(ctx.directive, self.state.cycle)
        self.state.pivot = ""
        self._backoff_until = 0.0
        trial = self._new_trial(plan, ctx)
        await self._execute(plan, trial)
        self.project.save_state()

    async def _think(self) -> tuple[Plan | None, ThinkContext]:
        """The plan to run, or None after a planning failure or an answer that launches nothing."""
        self.set_phase(Phase.THINK)
        ctx = self._context()
        try:
            plan = await self.planner.think(ctx)
        except ResearcherError as exc:
            self._planning_failed(f"THINK failed: {exc}")
            return None, ctx
        if plan is None or plan.action != "experiment":
            self._no_experiment(plan)
            return None, ctx
        return plan, ctx

    def _no_experiment(self, plan: Plan | None) -> None:
        if plan is not None and plan.action == "report":
            self.reflector.reported = True  # nothing more to plan: finish what runs, then stop
            self.notice(f"planner reports: {plan.hypothesis}")
            return
        self.notice("planner has nothing to launch now: waiting")
        self._retry_later(self.config.monitor.poll_interval)

    async def _execute(self, plan: Plan, trial: Trial) -> None:
        self.set_phase(Phase.EXECUTE)
        runner = Runner(self.launcher, trial)
        try:
            await self._prepare_tree(trial)
            await self.planner.execute(plan, runner)
        except ResearcherError as exc:
            self.notice(f"EXECUTE failed for {trial.id}: {exc}", "error")
        if runner.launched or trial.id in self.state.running:
            return
        current = self.ledger.get(trial.id) or trial
        if not current.finished:
            editing = self.launcher.default_backend
            with contextlib.suppress(SnapshotError, BackendError):   # what the worker left, for the diff
                await self.trees.write_diff(current, editing, await self.trees.snapshot(current, editing))
            dry_failed = bool(current.dry_run) and not current.dry_run.get("ok")
            self.launcher.finish_unlaunched(
                current, TrialStatus.DRY_RUN_FAILED if dry_failed else TrialStatus.LAUNCH_FAILED,
                current.label or "EXECUTE ended without a launch")
            with contextlib.suppress(SnapshotError, BackendError, OSError):   # its code is in git: the copy goes
                await self.trees.prune(current, (editing,))
        await self.reflector.reflect(current)

    async def _prepare_tree(self, trial: Trial) -> None:
        """The trial's own tree; where git cannot make one, the trial runs in the workspace, said once."""
        try:
            await self.trees.prepare(trial, self.launcher.default_backend)
        except SnapshotError as exc:
            trial.tree = trial.base_snapshot = ""
            if not self._snapshots_warned:
                self._snapshots_warned = True
                self.notice(f"no code snapshots: {exc}; trials run in the workspace itself, sharing it", "warning")
        self.ledger.record(trial, "tree")

    def _planning_failed(self, why: str) -> None:
        """Noticed, remembered, and planning backs off; the cycle is not used up (``_cycle``)."""
        self.notice(why, "error")
        self.memory.add_decision(f"cycle {self.state.cycle}: planning failure: {inert(why[:200])}")
        self.reflector.save_memory()
        self._retry_later(min(600.0, max(self.config.monitor.poll_interval, BACKOFF_MIN_S) * 2))

    def _retry_later(self, delay: float) -> None:
        """With trials running, plan again when one ends or a command comes (zero LLM on a timer);
        with none running, after ``delay``."""
        if self.state.running:
            self._hold = True
        else:
            self._backoff_until = time.time() + delay

    def _new_trial(self, plan: Plan, ctx: ThinkContext) -> Trial:
        tid = f"t{self.state.next_trial:04d}"
        self.state.next_trial += 1
        trial = Trial(id=tid, cycle=ctx.cycle, parent=plan.parent, hypothesis=plan.hypothesis, task=plan.task,
                      success_criteria=plan.success_criteria, command=plan.command, argv=list(plan.argv),
                      params=dict(plan.params), run_dir=f"runs/{tid}", role=plan.role,
                      seed=0 if self.config.experiment.confirm_seeds else None)
        self.project.commit(trial, "planned")     # the trial and the advanced id, together
        failpoint("planned")
        self.emit(PlanProposed(trial_id=trial.id, cycle=trial.cycle, hypothesis=plan.hypothesis, task=plan.task,
                               success_criteria=plan.success_criteria, worker=plan.worker, params=plan.params,
                               command=plan.command, directive=ctx.directive, role=plan.role))
        return trial

    def _default_backend(self) -> Backend:
        return self.launcher.default_backend
