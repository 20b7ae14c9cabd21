"""A controller killed between THINK and launch leaves no orphan; Ctrl-C stops it even under `| tee`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import REPO, cli, kill_group, latest_trials, pid_alive, read_ledger, read_state, start_cli, wait_for

SLOW_DRY_RUN = """import argparse, os, sys, time
p = argparse.ArgumentParser(); p.add_argument('--x', type=int); p.add_argument('--dry-run', action='store_true')
p.add_argument('--seconds', type=float, default=0)
a = p.parse_args()
if a.dry_run:
    if os.path.exists('slow'):
        open('in-dry-run', 'w').close(); time.sleep(60)
    sys.exit(0)
time.sleep(a.seconds)
print(f'val_acc={0.5 + a.x / 10}')
"""


def project_with_slow_dry_run(root: Path, seconds: float = 0.0) -> Path:
    project = root / "proj"
    (project / "workspace").mkdir(parents=True)
    (project / "workspace" / "job.py").write_text(SLOW_DRY_RUN)
    (project / "workspace" / "slow").write_text("")
    (project / "PROJECT_BRIEF.md").write_text("# Brief\nMaximise val_acc.\n")
    (project / "config.yaml").write_text(yaml.safe_dump({
        "metric": {"name": "val_acc", "goal": "max"},
        "search": {"strategy": "grid", "command": f"{sys.executable} job.py --x {{x}} --seconds {seconds}",
                   "space": {"x": [1, 2]}},
        "gpu": {"gpus_per_trial": 0}, "monitor": {"poll_interval": 0.2}}))
    return project


def test_a_trial_killed_during_its_dry_run_is_recorded_interrupted_and_its_configuration_tried_again(tmp_path):
    project = project_with_slow_dry_run(tmp_path)
    first = start_cli("run", str(project), "--no-ui", "--max-cycles", "1", log=tmp_path / "first.log")
    try:
        tree = project / "workspace" / ".tui-researcher" / "trees" / "t0001"     # the dry-run runs in its trial's tree
        wait_for(lambda: (tree / "in-dry-run").exists(), what="the dry-run to be under way")
        kill_group(first.pid)                       # SIGKILL, the dry-run with it
        first.wait(10)
    finally:
        kill_group(first.pid)
    (project / "workspace" / "slow").unlink()

    second = cli("run", str(project), "--no-ui", "--max-cycles", "1", timeout=60)

    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    assert "t0001 was planned but never launched" in second.stdout
    trials = latest_trials(project)
    assert trials["t0001"]["status"] == "interrupted"
    assert trials["t0002"]["params"] == trials["t0001"]["params"] and trials["t0002"]["status"] == "keep"
    assert [r["event"] for r in read_ledger(project) if r["id"] == "t0002"].count("launched") == 1
    assert read_state(project)["cycle"] == 1 and "REFLECT  trial=t0001" not in second.stdout


def test_ctrl_c_stops_the_loop_when_its_output_pipe_is_gone(tmp_path):
    """`run --no-ui | tee log`: Ctrl-C kills tee too; the loop must still stop and leave training running."""
    project = project_with_slow_dry_run(tmp_path, seconds=60)
    (project / "workspace" / "slow").unlink()
    proc = subprocess.Popen([sys.executable, "-m", "tui_researcher.cli", "run", str(project), "--no-ui",
                             "--max-cycles", "1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO,
                            start_new_session=True)
    try:
        for line in proc.stdout:
            if b"LAUNCH " in line:
                break
        pid = wait_for(lambda: read_state(project).get("running", {}).get("t0001", {}).get("pid"),
                       what="the trial's pid")
        proc.stdout.close()                          # the pipe's reader is gone
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0
        assert pid_alive(pid) and "t0001" in read_state(project)["running"]
    finally:
        kill_group(proc.pid)
        pid = read_state(project).get("running", {}).get("t0001", {}).get("pid")
        if pid:
            kill_group(pid)


async def test_a_second_signal_stops_a_loop_whose_first_stop_hangs(tmp_path):
    from tui_researcher.config import load_config
    from tui_researcher.controller import Controller
    from tui_researcher.headless import run_headless

    project = project_with_slow_dry_run(tmp_path)
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=1)
    hung = asyncio.Event()

    async def hang() -> None:                        # a stop that never finishes (a host that never answers)
        hung.set()
        await asyncio.Event().wait()

    controller._finish_quit = hang
    out = open(os.devnull, "w")
    task = asyncio.create_task(run_headless(controller, out=out))
    await asyncio.sleep(0.5)
    os.kill(os.getpid(), signal.SIGINT)
    await asyncio.wait_for(hung.wait(), 30)
    os.kill(os.getpid(), signal.SIGINT)
    assert await asyncio.wait_for(task, 30) == 130
    assert not controller.paths.lock.exists() or _lock_free(controller.paths.lock)


def _lock_free(path: Path) -> bool:
    import fcntl

    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False


def test_the_pid_shown_is_the_trainings_and_killing_it_cancels_the_trial(tmp_path):
    project = project_with_slow_dry_run(tmp_path, seconds=60)
    (project / "workspace" / "slow").unlink()
    log = tmp_path / "run.log"
    proc = start_cli("run", str(project), "--no-ui", "--max-cycles", "1", log=log)
    try:
        shown = wait_for(lambda: _launch_pid(log), what="the LAUNCH line")
        run = read_state(project)["running"]["t0001"]
        assert shown == run["training_pid"] != run["pid"]
        os.kill(shown, signal.SIGTERM)                # what a user does with the pid they were shown
        assert proc.wait(60) == 0
        trial = latest_trials(project)["t0001"]
        assert trial["status"] == "cancelled" and "SIGTERM from outside" in trial["label"]
        assert not pid_alive(run["pid"])
    finally:
        kill_group(proc.pid)


def _launch_pid(log: Path) -> int | None:
    for line in log.read_text().splitlines():
        if " LAUNCH " in f" {line}" and "pid=" in line:
            return int(line.split("pid=")[1].split()[0])
    return None
