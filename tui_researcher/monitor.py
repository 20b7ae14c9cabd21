"""MONITOR: zero LLM by construction. This module imports no planner, agent or provider (a test
reads the import graph to prove it); it only probes hosts, tails logs, reads GPUs and enforces
the runtime and stall limits. A trial that ends is handed to the collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Awaitable, Callable

from .backends.base import Backend, HostProbe, TrialProbe, TrialRef
from .bus import EventBus
from .errors import BackendError
from .events import MonitorSample
from .live import LiveReading, LiveTrials
from .project import Project
from .trial import KillOrder, RunningTrial, TrialSample, TrialStatus

KILL_GRACE_S = 10.0

Ended = Callable[[str, TrialProbe], Awaitable[None]]


class Monitor:
    def __init__(self, project: Project, bus: EventBus, backends: dict[str, Backend], on_ended: Ended) -> None:
        self.project = project
        self.config = project.config
        self.bus = bus
        self.backends = backends
        self.on_ended = on_ended
        self.launching: set[str] = set()
        """Launches in flight in this process: not the monitor's to probe yet."""
        self._kill_sent: dict[str, float] = {}
        self.live = LiveTrials(project)
        """Progress, live curve and the early stops (nan, pruned) read from each trial's new lines."""

    @property
    def running(self) -> dict[str, RunningTrial]:
        return self.project.state.running

    async def run(self) -> None:
        """Arm the next poll when this one ends, so polls never overlap."""
        while True:
            started = time.monotonic()
            try:
                await self.poll_once()
            except Exception as exc:  # a monitor that dies silently loses trials: say it, keep going
                self.bus.notice(f"monitor poll failed: {type(exc).__name__}: {exc}", "error")
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, self.config.monitor.poll_interval - elapsed))

    async def probe_hosts(self, *, gpu: bool, with_trials: bool = True) -> dict[str, HostProbe]:
        names = list(self.backends)
        refs: dict[str, list[TrialRef]] = {n: [] for n in names}
        if with_trials:
            for tid, run in self.running.items():
                if run.host in refs and tid not in self.launching:
                    refs[run.host].append(TrialRef(id=tid, run_dir=run.run_dir, pid=run.pid, job_id=run.job_id,
                                                   start_time=run.start_time, offset=run.log_offset,
                                                   training_pid=run.training_pid))
        results = await asyncio.gather(*(self.backends[n].probe(refs[n], gpu=gpu) for n in names),
                                       return_exceptions=True)
        out = {}
        for name, result in zip(names, results):
            if isinstance(result, BaseException):
                result = HostProbe(host=name, reachable=False, error=f"{type(result).__name__}: {result}")
            out[name] = result
        return out

    async def poll_once(self) -> None:
        probes = await self.probe_hosts(gpu=self.config.gpu.auto_detect)
        now = time.time()
        changed = False
        for name, probe in probes.items():
            lines: list[tuple[str, str]] = []
            samples: list[TrialSample] = []
            ended: list[tuple[str, TrialProbe]] = []
            for tid, tp in probe.trials.items():
                run = self.running.get(tid)
                if run is None or tp.error:
                    continue
                if tp.data:
                    lines.extend((tid, line) for line in tp.data.splitlines())
                changed |= self._absorb(run, tp, now)
                live = self.live.read(run, tp.data, now)
                changed |= self._note_progress(run, live)
                samples.append(self._sample(run, tp, now, live))
                if tp.finished or (not tp.launched and not tp.alive):
                    ended.append((tid, tp))
                elif run.started:
                    changed |= await self._enforce_limits(run, now, live)
            self.bus.emit(MonitorSample(host=name, reachable=probe.reachable, gpus=tuple(probe.gpus or ()),
                                        gpu_error=probe.gpu_error or probe.error, trials=tuple(samples),
                                        lines=tuple(lines)))
            for tid, tp in ended:
                await self.on_ended(tid, tp)
                self._kill_sent.pop(tid, None)
                self.live.ended(tid)
                changed = True
        if changed:
            self.project.save_state()

    def _absorb(self, run: RunningTrial, tp: TrialProbe, now: float) -> bool:
        """What the probe taught about the trial: log growth, a recovered job id or pid, the job's state."""
        changed = False
        if tp.offset != run.log_offset:
            run.log_offset, run.last_growth = tp.offset, now
            changed = True
        if tp.job_id and not run.job_id:   # a job id the backend had to recover
            run.job_id = tp.job_id
            changed = True
        if tp.pid and not run.pid:
            run.pid, run.start_time, run.launching = tp.pid, tp.start_time, False
            changed = True
        if tp.training_pid and not run.training_pid:
            run.training_pid = tp.training_pid
            changed = True
        return self._note_job_state(run, tp, now) or changed

    @staticmethod
    def _sample(run: RunningTrial, tp: TrialProbe, now: float, live: LiveReading) -> TrialSample:
        return TrialSample(trial_id=run.id, alive=tp.alive, log_bytes=tp.size,
                           elapsed_s=round(now - run.started, 1) if run.started else 0.0,
                           state=tp.state or ("RUNNING" if tp.alive else ""), reason=tp.reason,
                           job_id=run.job_id, node=tp.node, progress=run.progress, points=live.points)

    @staticmethod
    def _note_progress(run: RunningTrial, live: LiveReading) -> bool:
        """The progress ``status`` reads from the state: saved when the count or its total moves."""
        if live.progress is None:
            return False
        before = run.progress or {}
        run.progress = live.progress.to_dict()
        return (before.get("current"), before.get("total")) != (live.progress.current, live.progress.total)

    def _note_job_state(self, run: RunningTrial, tp: TrialProbe, now: float) -> bool:
        """A queued job: remember Slurm's reason while it waits, and when it really started running."""
        changed = False
        if tp.pending and run.reason != tp.reason:
            run.reason = tp.reason
            self.bus.notice(f"{run.id} pending ({tp.reason or 'queued'})")
            changed = True
        if not run.started and (tp.started or (tp.alive and not tp.pending)):
            run.started = tp.started or now
            run.last_growth, run.reason = run.started, ""
            run.node = tp.node or run.node
            trial = self.project.ledger.get(run.id)
            if trial is not None and run.job_id:
                trial.status, trial.started = TrialStatus.RUNNING, run.started
                self.project.ledger.record(trial, "running")
            changed = True
        return changed

    async def _enforce_limits(self, run: RunningTrial, now: float, live: LiveReading) -> bool:
        """Stall, timeout, a non-finite loss, a pruned curve: kill the process group and record why."""
        sent = self._kill_sent.get(run.id)
        if sent is not None:
            if now - sent > KILL_GRACE_S:
                await self.signal(run.id, "SIGKILL")
            return False
        if live.stop is not None:
            await self.kill(run.id, live.stop.status, live.stop.label)
            return True
        started = run.started or now
        max_runtime = self.config.experiment.max_runtime
        if max_runtime and now - started > max_runtime:
            await self.kill(run.id, TrialStatus.TIMEOUT, f"over experiment.max_runtime ({max_runtime:g}s)")
            return True
        stall = self.config.monitor.stall_timeout
        last = run.last_growth or started
        if stall and now - last > stall:
            await self.kill(run.id, TrialStatus.STALLED, f"no log growth for {now - last:.0f}s (monitor.stall_timeout)")
            return True
        return False

    async def kill(self, tid: str, status: TrialStatus, label: str) -> None:
        run = self.running.get(tid)
        if run is None or tid in self._kill_sent:
            return
        self._kill_sent[tid] = time.time()
        run.kill = KillOrder(status, label)
        self.bus.notice(f"stopping {tid}: {label}")
        await self.signal(tid, "SIGTERM")

    async def signal(self, tid: str, sig: str) -> None:
        run = self.running.get(tid)
        backend = self.backends.get(run.host) if run else None
        if run is None or backend is None or not (run.pid or run.job_id):
            return
        with contextlib.suppress(BackendError):
            await backend.kill(run.pid, run.start_time, sig, job_id=run.job_id)

    async def drain(self, grace: float) -> None:
        """Poll until every trial has ended or ``grace`` seconds pass (stop at quit)."""
        deadline = time.monotonic() + grace
        while self.running and time.monotonic() < deadline:
            await self.poll_once()
            await asyncio.sleep(0.2)
