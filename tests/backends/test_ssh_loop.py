"""The research loop end to end in ssh mode: the "GPU host" is a real sshd on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import yaml

from tests.helpers import cli, latest_trials, make_project, pid_alive, read_ledger, read_state, start_cli, wait_for


def ssh_config(project: Path, server, remote: Path, **extra) -> None:
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    host = server.host_config(remote)
    cfg["execution"] = {"mode": "ssh", "hosts": [{
        "host": host.host, "port": host.port, "user": host.user, "workspace": str(remote),
        "python": host.python, "identity_file": host.identity_file, "known_hosts": host.known_hosts}]}
    for section, values in extra.items():
        cfg.setdefault(section, {}).update(values)
    (project / "config.yaml").write_text(yaml.safe_dump(cfg))


def test_sample_project_runs_over_ssh_with_code_seeded_on_the_host(sample_project: Path, sshd, tmp_path: Path):
    remote = tmp_path / "remote-workspace"
    ssh_config(sample_project, sshd, remote)
    proc = cli("run", str(sample_project), "--no-ui", "--max-cycles", "3", timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "copied 3 file(s) of code" in proc.stdout   # train.py, eval.py, heldout.json
    trials = {tid: t for tid, t in latest_trials(sample_project).items() if not t["seed_of"]}   # and seed re-runs
    assert len(trials) == 3 and all(isinstance(t["metric"], float) for t in trials.values())
    assert any(t["status"] == "keep" for t in trials.values())
    assert all(t["host"] == "127.0.0.1" for t in trials.values())
    # training ran on the host's side: its logs are in the remote workspace, not the local one
    assert (remote / "runs" / "t0001" / "train.log").read_text().count("val_acc=") >= 10
    assert not (sample_project / "workspace" / "runs").exists()
    # each trial ran in its own tree on the host, made from its base snapshot in one transfer; after it, the
    # code git holds went from the host's tree and this machine's copy (the ``__pycache__`` the training made too)
    last = max(trials)
    assert trials[last]["tree"] == f".tui-researcher/trees/{last}"
    assert not (remote / ".tui-researcher" / "trees" / last).exists()
    assert not (sample_project / "workspace" / ".tui-researcher" / "trees" / last).exists()
    assert (remote / "runs" / last / "code.diff").read_text() == "" == trials[last]["diff"]
    assert trials[last]["base_snapshot"] and trials[last]["snapshot"]
    # the controller's own files stay on the laptop
    assert (sample_project / "workspace" / "researcher.db").exists() and not (remote / "researcher.db").exists()


def test_controller_killed_during_ssh_trial_reattaches_to_the_remote_pid(tmp_path: Path, sshd):
    project = make_project(tmp_path, modes=["sleep"], seconds=3, scores=[0.75])
    remote = tmp_path / "remote"
    ssh_config(project, sshd, remote)
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    cfg["search"]["command"] = f"{sys.executable} job.py --mode {{mode}} --seconds 3 --score {{score}}"
    (project / "config.yaml").write_text(yaml.safe_dump(cfg))
    first = start_cli("run", str(project), "--no-ui", "--max-cycles", "1", log=tmp_path / "first.log")

    def running_pid():
        return read_state(project).get("running", {}).get("t0001", {}).get("pid")

    try:
        pid = wait_for(running_pid, timeout=60, what="the remote pid in the stored state")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        assert pid_alive(pid), "remote training must survive the controller and its connection"
        second = cli("run", str(project), "--no-ui", "--max-cycles", "1", timeout=90)
        assert second.returncode == 0, second.stdout + second.stderr
        shown = latest_trials(project)["t0001"]["training_pid"]
        assert shown and f"REATTACH trial=t0001 host=127.0.0.1 pid={shown}" in second.stdout
        assert [r["event"] for r in read_ledger(project)].count("launched") == 1
        trial = latest_trials(project)["t0001"]
        assert trial["status"] == "keep" and trial["metric"] == 0.75
    finally:
        try:
            os.killpg(first.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
