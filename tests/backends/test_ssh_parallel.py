"""Many hosts at once over SSH: trials spread on free GPUs, and a restart re-attaches them all."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import yaml

from tests.helpers import cli, latest_trials, make_project, pid_alive, read_ledger, read_state, start_cli, wait_for


def two_host_project(tmp_path: Path, server, *, seconds: float, scores: list, max_parallel: int) -> Path:
    project = make_project(tmp_path, modes=["sleep"], seconds=seconds, scores=scores,
                           extra={"experiment": {"max_parallel": max_parallel}, "gpu": {"gpus_per_trial": 1}})
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    hosts = []
    for name in ("gpu-a", "gpu-b"):
        host = server.host_config(tmp_path / f"remote-{name}")
        hosts.append({"name": name, "host": host.host, "port": host.port, "user": host.user,
                      "workspace": host.workspace, "python": host.python, "identity_file": host.identity_file,
                      "known_hosts": host.known_hosts})
    cfg["execution"] = {"mode": "ssh", "hosts": hosts}
    (project / "config.yaml").write_text(yaml.safe_dump(cfg))
    return project


def test_trials_spread_over_two_ssh_hosts_on_free_gpus_only(tmp_path: Path, sshd):
    project = two_host_project(tmp_path, sshd, seconds=1.5, scores=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], max_parallel=4)
    proc = cli("run", str(project), "--no-ui", "--max-cycles", "6", timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    trials = list(latest_trials(project).values())
    assert len(trials) == 6 and all(t["metric"] is not None for t in trials), [(t["id"], t["status"]) for t in trials]
    assert {t["host"] for t in trials} == {"gpu-a", "gpu-b"}
    assert all(t["gpus"] and t["gpus"][0] != 0 for t in trials), "GPU 0 is busy with another user's job"
    for i, a in enumerate(trials):
        for b in trials[i + 1:]:
            if a["started"] < b["ended"] and b["started"] < a["ended"]:
                assert (a["host"], a["gpus"]) != (b["host"], b["gpus"]), (a["id"], b["id"])


def test_restart_reattaches_every_trial_on_two_hosts(tmp_path: Path, sshd):
    project = two_host_project(tmp_path, sshd, seconds=4, scores=[0.1, 0.2, 0.3], max_parallel=3)
    first = start_cli("run", str(project), "--no-ui", "--max-cycles", "3", log=tmp_path / "first.log")

    def running():
        state = read_state(project)
        if not state:
            return None
        placed = {tid: p for tid, p in state["running"].items() if p.get("pid")}
        return placed if len(placed) == 3 else None

    try:
        placed = wait_for(running, timeout=60, what="three trials running")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        assert {p["host"] for p in placed.values()} == {"gpu-a", "gpu-b"}
        assert all(pid_alive(p["pid"]) for p in placed.values())
        second = cli("run", str(project), "--no-ui", "--max-cycles", "3", timeout=120)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr
        for tid, p in placed.items():
            assert f"REATTACH trial={tid} host={p['host']} pid={p['training_pid']}" in second.stdout
        assert "LAUNCH " not in second.stdout
        events = read_ledger(project)
        for tid in placed:
            assert [r["event"] for r in events if r["id"] == tid].count("launched") == 1
        trials = latest_trials(project)
        assert all(trials[tid]["metric"] is not None for tid in placed)
    finally:
        try:
            os.killpg(first.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
