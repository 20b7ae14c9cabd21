"""Slurm projects for end-to-end tests: a job that names its GPU, and what a good parallel run looks like."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from tests.helpers import latest_trials, make_project, max_concurrency
from tui_researcher.controller import Controller
from tui_researcher.events import Phase, PhaseChanged

def slurm_project(tmp_path: Path, *, scores: list[float], mode: str, seconds: float, max_parallel: int) -> Path:
    """A project in slurm mode; ``gpu.gpus_per_trial: 1`` (the default) becomes ``--gres=gpu:1``."""
    project = make_project(tmp_path, modes=[mode], seconds=seconds, scores=scores, extra={
        "execution": {"mode": "slurm", "slurm": {"time_limit": "10"}},
        "experiment": {"max_parallel": max_parallel},
        "gpu": {"gpus_per_trial": 1},
        "monitor": {"poll_interval": 0.5},
    })
    return project


def gpu_of(workspace: Path, trial: dict) -> str:
    log = (workspace / trial["run_dir"] / "train.log").read_text()
    return log.split("gpus=", 1)[1].split()[0]


def assert_six_trials_ran_three_at_a_time_each_on_its_own_gpu(project: Path, workspace: Path) -> None:
    """The ledger's start (job began running) and end times, and the GPU each job's log names."""
    trials = list(latest_trials(project).values())
    assert len(trials) == 6
    assert all(t["metric"] is not None and t["status"] in ("keep", "discard") for t in trials), \
        [(t["id"], t["status"], t["label"]) for t in trials]
    assert len({t["job_id"] for t in trials}) == 6 and all(t["job_id"] for t in trials)
    assert all(t["started"] and t["ended"] > t["started"] for t in trials)
    assert 2 <= max_concurrency(trials) <= 3
    for i, a in enumerate(trials):
        for b in trials[i + 1:]:
            if a["started"] < b["ended"] and b["started"] < a["ended"]:
                assert gpu_of(workspace, a) != gpu_of(workspace, b), f"{a['id']} and {b['id']} shared a GPU"


async def run_until_done(controller: Controller, timeout: float = 90.0) -> list:
    """Run the loop to its end and return its events; fail at once if it waits for a GPU itself:
    in slurm mode the controller places nothing, Slurm does the GPU scheduling."""
    queue = controller.subscribe()
    task = asyncio.create_task(controller.run())
    events = []
    try:
        async with asyncio.timeout(timeout):
            while (event := await queue.get()) is not None:
                events.append(event)
                if isinstance(event, PhaseChanged) and event.phase == Phase.WAITING_GPU:
                    raise AssertionError(f"the controller waits for a GPU in slurm mode: {event.detail}")
        await task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    return events
