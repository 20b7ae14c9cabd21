"""The controller SIGKILLed at 20 random moments of an 8-trial run, and at each named moment between a side
effect and its record: nothing lost, nothing launched twice.

The training appends one line per real start (trial id and its own pid) to a file outside the
controller's reach (writable to it through experiment.writable), so launches are counted by what really
ran, not by what the ledger says.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import cli, kill_group, latest_trials, read_ledger, read_state, start_cli

from tui_researcher.failpoints import ENV as FAILPOINT
from tui_researcher.failpoints import POINTS

JOB = """import argparse, os, sys, time
p = argparse.ArgumentParser(); p.add_argument('--x', type=int); p.add_argument('--dry-run', action='store_true')
a = p.parse_args()
if a.dry_run:
    time.sleep(0.2); sys.exit(0)
with open(os.environ['STARTS'], 'a') as f:
    f.write('%s %d\\n' % (os.environ['TUI_RESEARCHER_TRIAL'], os.getpid()))
time.sleep(0.6)
print('val_acc=%.3f' % (0.5 + a.x / 100))
"""


def make_project(tmp_path: Path, monkeypatch, configs: int = 8) -> tuple[Path, Path]:
    starts = tmp_path / "starts.log"
    monkeypatch.setenv("STARTS", str(starts))
    project = tmp_path / "proj"
    (project / "workspace").mkdir(parents=True)
    (project / "workspace" / "job.py").write_text(JOB)
    (project / "PROJECT_BRIEF.md").write_text("# Faults\nMaximise val_acc.\n")
    (project / "config.yaml").write_text(yaml.safe_dump({
        "metric": {"name": "val_acc", "goal": "max"},
        "search": {"strategy": "grid", "command": f"{sys.executable} job.py --x {{x}}", "space": {"x": list(range(configs))}},
        "gpu": {"gpus_per_trial": 0}, "monitor": {"poll_interval": 0.2},
        "experiment": {"max_parallel": 2, "writable": [str(tmp_path)]}}))   # starts.log: outside the tree
    return project, starts


@pytest.mark.slow
def test_twenty_kills_lose_nothing_and_launch_nothing_twice(tmp_path: Path, monkeypatch):
    project, starts = make_project(tmp_path, monkeypatch)
    rng = random.Random(20261201)
    for kill in range(20):
        proc = start_cli("run", str(project), "--no-ui", "--max-cycles", "8", log=tmp_path / f"run{kill}.log")
        time.sleep(rng.uniform(0.3, 2.0))
        kill_group(proc.pid)                          # SIGKILL: controller, helper and any dry-run; not training
        proc.wait(10)
    finish_and_check(project, starts)


@pytest.mark.slow
def test_a_kill_at_each_named_moment_loses_nothing(tmp_path: Path, monkeypatch):
    """The moments between a side effect and its record, each hit twice (its first and second time in a
    run): after THINK, after a dry-run, with training started but unrecorded, after the launch's record,
    with a trial's end seen but unrecorded, before REFLECT, with memory written but no decision."""
    project, starts = make_project(tmp_path, monkeypatch, configs=24)
    hit = []
    for point in POINTS:
        for nth in (1, 2):
            log = tmp_path / f"run-{point}-{nth}.log"
            proc = start_cli("run", str(project), "--no-ui", "--max-cycles", "24", log=log,
                             env={FAILPOINT: f"{point}@{nth}"})
            code = proc.wait(120)
            hit.append((f"{point}@{nth}", code == -signal.SIGKILL))
            if code != -signal.SIGKILL:       # the run ended first: nothing was left to reach this moment
                assert code == 0, log.read_text()[-3000:]
    assert all(killed for _, killed in hit), f"a run ended before its moment came: {hit}"
    finish_and_check(project, starts, configs=24)


def finish_and_check(project: Path, starts: Path, configs: int = 8) -> None:
    final = cli("run", str(project), "--no-ui", "--max-cycles", str(configs), timeout=180)
    assert final.returncode == 0, final.stdout[-3000:] + final.stderr

    trials = latest_trials(project)
    real = [line.split() for line in starts.read_text().splitlines()]
    started = [tid for tid, _ in real]
    assert len(started) == len(set(started)), f"a trial started twice: {sorted(started)}"          # 0 twice
    done = {tid: t for tid, t in trials.items() if t["status"] in ("keep", "discard")}
    assert sorted(t["params"]["x"] for t in done.values()) == list(range(configs))                     # 0 lost
    assert all(t["status"] in ("keep", "discard", "interrupted") for t in trials.values()), \
        {tid: t["status"] for tid, t in trials.items()}                                             # 0 orphaned
    assert read_state(project)["running"] == {}
    assert set(done) == set(started)                  # everything that really ran was recorded, once
    for tid, pid in real:   # the training sees its namespace's pid; the ledger holds the host's
        # (that it is the training's: tests/core/test_sandbox_attacks.py, from /proc/<pid>/cmdline)
        assert trials[tid]["training_pid"] not in (None, int(pid), trials[tid]["pid"])
    launched = [r["id"] for r in read_ledger(project) if r["event"] == "launched"]
    assert len(launched) == len(set(launched))
    db = sqlite3.connect(project / "workspace" / "researcher.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"                              # 0 torn
    db.close()
