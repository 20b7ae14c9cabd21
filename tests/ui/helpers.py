"""Helpers shared by the app's tests (``from tests.ui.helpers import ...``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable

from tests.helpers import pid_alive  # noqa: F401  (re-exported for the UI tests)
from tui_researcher.config import load_config
from tui_researcher.events import Quit
from tui_researcher.trial import RunningTrial, TrialSample

DATA = Path(__file__).resolve().parent / "data"
RECORDING = DATA / "recording"
FROZEN_NOW = 1767225600.0
"""The recording's "now" (see data/make_recording.py): elapsed times and spinners stand still."""


async def settle(pilot) -> None:
    """Wait until a replay has been shown in full: the bridge ended and Markdown is rendered."""
    app = pilot.app
    await wait_until(pilot, lambda: app.source_ended, what="the replay to end")
    from tui_researcher.ui.widgets.memory_log import MemoryPane
    from tui_researcher.ui.widgets.plan import PlanPane

    for pane in (app.dashboard.query_one(PlanPane), app.dashboard.query_one(MemoryPane)):
        await pane.rendered()
    await pilot.pause()


async def wait_until(pilot, predicate: Callable[[], object], *, timeout: float = 20.0, what: str = "condition"):
    """The app keeps running while we wait: pilot.pause, never a blocking sleep."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.02)


JOB = textwrap.dedent('''
    """A trial that prints a line every 0.1 s until it is stopped (or --seconds pass)."""
    import argparse, sys, time
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    if a.dry_run:
        print("dry-run ok"); sys.exit(0)
    end, i = time.time() + a.seconds, 0
    while time.time() < end:
        i += 1
        print(f"step={i} loss={1.0 / i:.4f}", flush=True)
        time.sleep(0.1)
    print("val_acc=0.5", flush=True)
''')


@dataclass
class Live:
    app: object
    pilot: object
    controller: object

    @property
    def trial_id(self) -> str:
        return next(iter(self.controller.state.running))

    @property
    def pid(self) -> int:
        return self.controller.state.running[self.trial_id].pid


async def open_trials_view(pilot, widget_type):
    """Press `t` and wait for the trials view to show ``widget_type`` (its table or its plot); that widget."""
    app = pilot.app
    await pilot.press("t")
    return await wait_until(pilot, lambda: app.screen.query(widget_type).first() if app.screen.query(widget_type)
                            else None, what="the trials view")


@contextlib.asynccontextmanager
async def live_app(project: Path, settings_path: Path, *, size=(140, 40)) -> AsyncIterator[Live]:
    """The app running the real controller (one cycle) in its loop, once the trial is running."""
    from tui_researcher.controller import Controller
    from tui_researcher.ui.app import ResearcherApp
    from tui_researcher.ui.source import LiveSource

    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=1)
    app = ResearcherApp(LiveSource(controller), settings_path=settings_path, animate=False)
    pids: list[int] = []
    try:
        async with app.run_test(size=size) as pilot:
            launched = lambda: app.running and all(p.pid for p in controller.state.running.values())  # noqa: E731
            await wait_until(pilot, launched, what="the trial to launch and the app to show it")
            pids.extend(p.pid for p in controller.state.running.values())
            yield Live(app, pilot, controller)
            if not app.loop_ended:   # let the loop close its host helper before the event loop goes
                controller.send(Quit(leave_training_running=True))
                await wait_until(pilot, lambda: app.loop_ended, what="the loop to stop")
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


# three trials at once: two on GPUs of two hosts, one Slurm job waiting ------------------

PARALLEL_HYPOTHESES = {
    "t0005": "A cosine schedule with 5 warm-up epochs lets the higher peak lr of 0.1 converge.",
    "t0006": "Mixup with alpha 0.2 regularises better than label smoothing at this depth.",
    "t0007": "Twice the width (resnet18 x2) gains more than twice the epochs.",
}


def parallel_events(now: float) -> list:
    """Plans, launches and one reading per host: t0005 on gpu-a GPUs 0,1 for 1:01:40, t0006 on gpu-b GPU 3
    for 0:10:00, t0007 a Slurm job pending for Resources; a few log lines of each running trial."""
    from tui_researcher.events import MonitorSample, PlanProposed, TrialLaunched

    events: list = []
    for k, (tid, hypothesis) in enumerate(PARALLEL_HYPOTHESES.items()):
        events.append(PlanProposed(trial_id=tid, cycle=5 + k, hypothesis=hypothesis, ts=now - 4000 + k))
    events += [
        TrialLaunched(trial_id="t0005", host="gpu-a", pid=501, log_path="runs/t0005/train.log", gpus=(0, 1),
                      ts=now - 3700),
        TrialLaunched(trial_id="t0006", host="gpu-b", pid=602, log_path="runs/t0006/train.log", gpus=(3,),
                      ts=now - 600),
        TrialLaunched(trial_id="t0007", host="slurm", pid=None, log_path="runs/t0007/train.log", job_id="1234",
                      ts=now - 90),
        MonitorSample(host="gpu-a", trials=(TrialSample("t0005", elapsed_s=3690.0, log_bytes=100, state="RUNNING"),),
                      lines=tuple(("t0005", f"t0005 epoch {i}") for i in range(1, 4)), ts=now - 10),
        MonitorSample(host="gpu-b", trials=(TrialSample("t0006", elapsed_s=590.0, log_bytes=100, state="RUNNING"),),
                      lines=tuple(("t0006", f"t0006 step {i}") for i in range(1, 3)), ts=now - 10),
        MonitorSample(host="slurm", trials=(TrialSample("t0007", alive=False, state="PENDING", reason="Resources",
                                                      job_id="1234"),), ts=now - 10),
    ]
    return events


def parallel_running(now: float) -> dict[str, RunningTrial]:
    """state.running as the controller would hold it for ``parallel_events``."""
    return {
        "t0005": RunningTrial(id="t0005", host="gpu-a", run_dir="runs/t0005", gpus=(0, 1), pid=501,
                              started=now - 3700),
        "t0006": RunningTrial(id="t0006", host="gpu-b", run_dir="runs/t0006", gpus=(3,), pid=602, started=now - 600),
        "t0007": RunningTrial(id="t0007", host="slurm", run_dir="runs/t0007", job_id="1234", submitted=now - 90,
                              reason="Resources"),
    }


# a sweep seen at three terminal sizes: 30 trials, one training with its progress, 4 GPUs ---------

SWEEP_VALUES = [0.61] + [round(0.90 + 0.003 * i - (0.004 if i % 3 else 0.0), 4) for i in range(1, 29)] + [None]


def sweep_trials(now: float) -> list:
    """30 trials: one early outlier, a slow climb, the last one running."""
    from tui_researcher.trial import Trial, TrialStatus

    trials, best = [], None
    for i, value in enumerate(SWEEP_VALUES, start=1):
        if value is None:
            status = TrialStatus.RUNNING
        elif i % 7 == 0:
            status, value = TrialStatus.CRASH, None
        elif best is None or value > best:
            status, best = TrialStatus.KEEP, value
        else:
            status = TrialStatus.DISCARD
        trials.append(Trial(id=f"t{i:04d}", cycle=i, hypothesis=f"lr {0.01 * (i % 9 + 1):.2f} with "
                                                                 f"{'mixup' if i % 2 else 'cutout'} and width {i % 4 + 1}",
                            params={"lr": round(0.01 * (i % 9 + 1), 2), "aug": "mixup" if i % 2 else "cutout",
                                    "width": i % 4 + 1},
                            status=status, metric=value, duration=None if value is None and status == "running"
                            else 600.0 + 17 * i, host="gpu-a", started=now - 90000 + 700 * i))
    return trials


def sweep_app(xdg_config, size_note: str = ""):
    """The app on a scripted source: the sweep's ledger, t0030 at epoch 12 of 40 on gpu-a, 4 GPUs read."""
    from tui_researcher.backends.gpu import GpuProcess, GpuReading
    from tui_researcher.events import MonitorSample, PhaseChanged, PlanProposed, TrialLaunched
    from tui_researcher.progress import Progress
    from tui_researcher.settings import Settings
    from tui_researcher.ui.app import ResearcherApp
    from tui_researcher.ui.source import QueueSource, SourceInfo

    now = FROZEN_NOW
    source = QueueSource(SourceInfo(project="cifar-sweep", metric="val_acc", goal="max", hosts=("gpu-a",)))
    source.trials = sweep_trials(now)
    progress = Progress(12, 40, "epoch", 31 * 60.0).to_dict()
    source.state.running = {"t0030": RunningTrial(id="t0030", host="gpu-a", run_dir="runs/t0030", gpus=(2,),
                                                  pid=700, started=now - 830, progress=progress)}
    source.state.phase, source.state.cycle = "monitor", 30
    best = max((t for t in source.trials if t.status == "keep"), key=lambda t: t.metric)
    source.state.best_trial, source.state.best_metric = best.id, best.metric
    apps = {0: (GpuProcess(4121, "python3", 60500.0), GpuProcess(4180, "tensorboard", 300.0)),
            2: (GpuProcess(700, "python", 40100.0),)}
    gpus = tuple(GpuReading(index=i, name="NVIDIA H100 80GB HBM3", utilization=u, memory_used_mb=m,
                            memory_total_mb=81559.0, temperature_c=t, power_w=p, processes=apps.get(i, ()))
                 for i, (u, m, t, p) in enumerate([(97, 61234, 71, 612), (3, 512, 34, 71), (88, 40321, 66, 540),
                                                   (0, 4, 31, 62)]))
    points = tuple((float(e), round(0.5 + 0.035 * e - 0.0006 * e * e, 4), round(2.0 / e, 4)) for e in range(1, 13))
    for event in [
        PhaseChanged(phase="monitor", cycle=30, ts=now - 830),
        PlanProposed(trial_id="t0030", cycle=30, hypothesis=source.trials[-1].hypothesis, ts=now - 840),
        TrialLaunched(trial_id="t0030", host="gpu-a", pid=700, log_path="runs/t0030/train.log", gpus=(2,),
                      ts=now - 830),
        MonitorSample(host="gpu-a", gpus=gpus,
                      trials=(TrialSample("t0030", elapsed_s=830.0, log_bytes=4096, state="RUNNING",
                                          progress=progress, points=points),),
                      lines=tuple(("t0030", f"epoch={e} loss={2.0 / e:.4f} val_acc={v:.4f}")
                                  for e, v, _ in ((int(p[0]), p[1], p[2]) for p in points)), ts=now - 5),
    ]:
        source.push(event)
    source.close()
    return ResearcherApp(source, settings=Settings(), settings_path=xdg_config / "settings.toml",
                         clock=lambda: now, animate=False)
