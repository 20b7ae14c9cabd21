"""End to end on a real Slurm: the research loop submits each trial as a batch job, keeps at most
``max_parallel`` submitted, and a controller killed with SIGKILL re-attaches to every job."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.helpers import kill_group, latest_trials, read_ledger, read_state, release, start_cli, wait_for
from tests.slurm.projects import (
    assert_six_trials_ran_three_at_a_time_each_on_its_own_gpu,
    run_until_done,
    slurm_project,
)
from tests.slurm_cluster import SlurmCluster
from tui_researcher.backends.slurm import slurm_backend
from tui_researcher.config import load_config
from tui_researcher.controller import Controller


async def test_loop_runs_six_trials_three_at_a_time_each_on_its_own_gpu(cluster: SlurmCluster, tmp_path: Path):
    project = slurm_project(tmp_path, scores=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], mode="sleep", seconds=3,
                            max_parallel=3)
    config = load_config(project / "config.yaml")
    controller = Controller(project, config, backends=[slurm_backend(config, project)], max_cycles=6)

    await run_until_done(controller)

    assert_six_trials_ran_three_at_a_time_each_on_its_own_gpu(project, project / "workspace")


def our_jobs(cluster: SlurmCluster, project: Path) -> dict[str, str]:
    """Job id -> state for every job this project submitted that Slurm still remembers (by run directory)."""
    out = cluster.cmd("squeue", "-t", "all", "-h", "-o", "%i|%T|%Z").stdout
    runs = str(project.resolve() / "workspace" / "runs") + os.sep
    return {job: state for job, state, workdir in (line.split("|", 2) for line in out.splitlines())
            if workdir.startswith(runs)}


def hold_gpus(cluster: SlurmCluster, tmp_path: Path, count: int) -> str:
    """Another user's job holding ``count`` GPUs, so some of ours must wait in the queue."""
    script = tmp_path / "blocker.sh"
    script.write_text("#!/bin/sh\nsleep 600\n")
    job = cluster.cmd("sbatch", "--parsable", f"--gres=gpu:{count}", "--output=/dev/null", str(script)).stdout.strip()
    cluster.wait_job_state(job, {"RUNNING"})
    return job


async def test_controller_killed_while_jobs_pend_and_run_reattaches_every_job_without_resubmitting(
        cluster: SlurmCluster, tmp_path: Path):
    blocker = hold_gpus(cluster, tmp_path, 2)
    project = slurm_project(tmp_path, scores=[0.1, 0.2, 0.3], mode="wait", seconds=0, max_parallel=3)
    first = start_cli("run", str(project), "--no-ui", "--max-cycles", "3", log=tmp_path / "first.log")
    try:
        def two_running_one_pending():
            if first.poll() is not None:
                raise AssertionError(f"the controller exited: {(tmp_path / 'first.log').read_text()[-2000:]}")
            jobs = our_jobs(cluster, project)
            running = read_state(project).get("running", {})
            return (sorted(jobs.values()) == ["PENDING", "RUNNING", "RUNNING"]
                    and sorted(p.get("job_id") for p in running.values()) == sorted(jobs)) and jobs
        before = wait_for(two_running_one_pending, timeout=60, what="2 jobs running and 1 pending")
    finally:
        kill_group(first.pid)                          # SIGKILL, like a laptop lid closing on the controller
        first.wait(10)
    assert first.returncode == -signal.SIGKILL

    second = start_cli("run", str(project), "--no-ui", "--max-cycles", "3", log=tmp_path / "second.log")
    try:
        wait_for(lambda: "re-attached" in (tmp_path / "second.log").read_text(), timeout=30, what="re-attach")
        cluster.cmd("scancel", blocker)
        release(project / "workspace")
        second.wait(120)
    except subprocess.TimeoutExpired:
        kill_group(second.pid)
        raise AssertionError((tmp_path / "second.log").read_text()[-3000:]) from None
    assert second.returncode == 0, (tmp_path / "second.log").read_text()[-3000:]

    trials = latest_trials(project)
    launches = [r["id"] for r in read_ledger(project) if r.get("event") == "launched"]
    assert sorted(launches) == sorted(trials) and len(trials) == 3       # one launch each, none again
    assert our_jobs(cluster, project).keys() == before.keys()            # and no second sbatch
    assert {t["job_id"] for t in trials.values()} == set(before)
    assert all(t["metric"] is not None for t in trials.values()), \
        [(t["id"], t["status"], t["label"]) for t in trials.values()]
    assert (tmp_path / "second.log").read_text().count("re-attached") == 3


def test_gres_follows_gpu_gpus_per_trial_unless_the_slurm_section_sets_its_own(tmp_path: Path):
    project = slurm_project(tmp_path, scores=[0.5], mode="sleep", seconds=0, max_parallel=2)
    config = load_config(project / "config.yaml")

    from_gpu_section = slurm_backend(config, project).directives("runs/t0001")
    config.execution.slurm.gpus_per_trial = 0
    cpu_only = slurm_backend(config, project).directives("runs/t0001")

    assert from_gpu_section == ["--job-name=tuir-proj-t0001", "--output=slurm-%j.out", "--gres=gpu:1", "--time=10"]
    assert cpu_only == ["--job-name=tuir-proj-t0001", "--output=slurm-%j.out", "--time=10"]
