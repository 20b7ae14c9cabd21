"""A controller killed at any moment loses no trial and launches none twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path

from tests.helpers import (cli, edit_state, kill_group, latest_trials, make_project, pid_alive, read_ledger,
                           read_state, start_cli, wait_for)


def _state(project: Path) -> dict:
    return read_state(project)


def _running_pid(project: Path) -> int | None:
    running = _state(project).get("running", {})
    place = running.get("t0001") or {}
    return place.get("pid")


def test_restart_reattaches_to_running_trial(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=4, scores=[0.8])
    first = start_cli("run", str(project), "--no-ui", "--max-cycles", "1", log=tmp_path / "first.log")
    try:
        pid = wait_for(lambda: _running_pid(project), what="the trial's pid in the stored state")
        os.killpg(first.pid, signal.SIGKILL)          # like a crash of the laptop-side controller
        first.wait(10)
        assert pid_alive(pid), "training must survive the controller"

        second = cli("run", str(project), "--no-ui", "--max-cycles", "1", timeout=60)
        assert second.returncode == 0, second.stdout + second.stderr
        shown = latest_trials(project)["t0001"]["training_pid"]       # the training's pid, not its runner's
        assert shown and shown != pid and f"REATTACH trial=t0001 host=local pid={shown}" in second.stdout
        assert "LAUNCH " not in second.stdout
        launches = [r for r in read_ledger(project) if r["event"] == "launched"]
        assert len(launches) == 1 and latest_trials(project)["t0001"]["pid"] == pid
        trial = latest_trials(project)["t0001"]
        assert trial["status"] == "keep" and trial["metric"] == 0.8 and trial["exit_code"] == 0
        assert _state(project)["running"] == {}
    finally:
        kill_group(first.pid)


def test_a_lost_state_is_rebuilt_from_the_ledger_and_its_running_trial_collected_once(tmp_path: Path):
    """A state lost to a crash (a torn state.json of the previous version migrates to none): the running trial
    is found from its ledger record and collected once, and new trials continue the ids, never reuse t0001."""
    project = make_project(tmp_path, modes=["sleep"], seconds=2.0, scores=[0.8, 0.6])
    first = start_cli("run", str(project), "--no-ui", "--max-cycles", "1", log=tmp_path / "first.log")
    try:
        wait_for(lambda: _running_pid(project), what="the trial's pid in the stored state")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        db = sqlite3.connect(project / "workspace" / "researcher.db")
        with db:
            db.execute("DELETE FROM state")
            db.execute("DELETE FROM running")
        db.close()

        second = cli("run", str(project), "--no-ui", "--max-cycles", "2", timeout=90)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "t0001 runs by the ledger but the state had lost it" in second.stdout
        trials = latest_trials(project)
        assert trials["t0001"]["status"] == "keep" and trials["t0001"]["metric"] == 0.8
        assert "t0002" in trials and trials["t0002"]["params"]["score"] == 0.6
        assert [r["id"] for r in read_ledger(project) if r["event"] == "launched"].count("t0001") == 1
        assert _state(project)["running"] == {}
    finally:
        kill_group(first.pid)


def test_trial_that_ended_while_no_controller_ran_is_collected(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=1.0, scores=[0.7])
    first = start_cli("run", str(project), "--no-ui", "--max-cycles", "1", log=tmp_path / "first.log")
    try:
        pid = wait_for(lambda: _running_pid(project), what="the trial's pid in the stored state")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        exit_file = project / "workspace" / "runs" / "t0001" / "exit.json"
        wait_for(exit_file.exists, what="the training to end on its own")
        wait_for(lambda: not pid_alive(pid), what="the training process to exit after its sidecar")

        second = cli("run", str(project), "--no-ui", "--max-cycles", "1", timeout=60)
        assert second.returncode == 0, second.stdout + second.stderr
        trial = latest_trials(project)["t0001"]
        assert trial["status"] == "keep" and trial["metric"] == 0.7
        assert [r["event"] for r in read_ledger(project)].count("launched") == 1
    finally:
        kill_group(first.pid)


def test_sigint_stops_headless_loop_quickly_and_leaves_training_running(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=30)
    log = tmp_path / "run.log"
    proc = start_cli("run", str(project), "--no-ui", "--max-cycles", "1", log=log)
    pid = None
    try:
        pid = wait_for(lambda: _running_pid(project), what="the trial's pid in the stored state")
        wait_for(lambda: "MONITOR" in log.read_text(), what="a monitor sample")
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(5)    # the issue asks for "within a second"; 5 s bounds a loaded CI machine
        out = log.read_text()
        assert proc.returncode == 0, out
        assert "training keeps running" in out and "training left running: t0001" in out
        assert pid_alive(pid)
        assert _state(project)["running"]["t0001"]["pid"] == pid
    finally:
        kill_group(proc.pid)
        if pid:
            kill_group(pid)


def test_result_recorded_while_paused_is_reflected_after_restart(tmp_path: Path):
    """Pause, let the trial finish, quit: the next controller writes the REFLECT the first one owed."""
    from tui_researcher.events import Pause, command_to_dict

    project = make_project(tmp_path, modes=["sleep"], seconds=1.0, scores=[0.6])
    proc = start_cli("run", str(project), "--no-ui", "--max-cycles", "1", log=tmp_path / "first.log")
    try:
        wait_for(lambda: _running_pid(project), what="the trial's pid in the stored state")
        with open(project / "workspace" / "commands.jsonl", "a") as f:
            f.write(json.dumps(command_to_dict(Pause())) + "\n")
        wait_for(lambda: _state(project).get("paused"), what="the pause to apply")
        wait_for(lambda: latest_trials(project).get("t0001", {}).get("status") == "keep", what="the result")
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(10)
        assert "reflected" not in [r["event"] for r in read_ledger(project)]
        edit_state(project, paused=False)   # as `p` in the app would, before the next start
        second = cli("run", str(project), "--no-ui", "--max-cycles", "1", timeout=60)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "REFLECT  trial=t0001" in second.stdout
        assert "t0001 keep" in (project / "workspace" / "MEMORY_LOG.md").read_text()
    finally:
        kill_group(proc.pid)
