"""experiment.confirm_seeds: a would-be best is re-run with more seeds and kept only if its mean wins."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from tests.helpers import cli, latest_trials

# val_acc by configuration and seed: x=1 and x=3 are lucky at seed 0, x=2 is the truly better one
NOISY = """import argparse, os, sys
VALUES = {1: [0.93, 0.78, 0.78], 2: [0.90, 0.95, 0.97], 3: [0.99, 0.85, 0.88]}
p = argparse.ArgumentParser(); p.add_argument('--x', type=int); p.add_argument('--seed', type=int)
p.add_argument('--dry-run', action='store_true')
a = p.parse_args()
assert os.environ['SEED'] == str(a.seed), 'SEED and {seed} differ'
if not a.dry_run:
    print(f'val_acc={VALUES[a.x][a.seed]}')
"""


def noisy_project(root: Path) -> Path:
    project = root / "proj"
    (project / "workspace").mkdir(parents=True)
    (project / "workspace" / "noisy.py").write_text(NOISY)
    (project / "PROJECT_BRIEF.md").write_text("# Brief\nMaximise val_acc.\n")
    (project / "config.yaml").write_text(yaml.safe_dump({
        "metric": {"name": "val_acc", "goal": "max"},
        "search": {"strategy": "grid", "command": f"{sys.executable} noisy.py --x {{x}} --seed {{seed}}",
                   "space": {"x": [1, 2, 3]}},
        "experiment": {"confirm_seeds": 2},
        "gpu": {"gpus_per_trial": 0}, "monitor": {"poll_interval": 0.2}}))
    return project


def test_confirm_seeds_on_a_noisy_objective_keeps_the_config_whose_mean_is_best(tmp_path):
    project = noisy_project(tmp_path)

    done = cli("run", str(project), "--no-ui", "--max-cycles", "3", timeout=120)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    t = latest_trials(project)
    parents = {t[i]["params"]["x"]: t[i] for i in t if not t[i]["seed_of"]}
    assert sorted(parents) == [1, 2, 3] and len(t) == 9                   # 3 configurations, 2 re-runs each
    for x, trial in parents.items():
        runs = [t[c] for c in trial["seeds"]]
        assert [r["seed"] for r in runs] == [1, 2] and all(r["status"] == "seed_run" for r in runs)
        assert all(r["params"] == trial["params"] and r["cycle"] == trial["cycle"] for r in runs)
    assert parents[1]["status"] == "keep"                                 # the first: nothing to beat yet
    assert parents[2]["status"] == "keep" and abs(parents[2]["mean"] - 0.94) < 1e-9
    assert parents[3]["status"] == "discard"                              # 0.99 once, 0.907 on average
    assert "does not beat" in parents[3]["label"] and "by more than the spread" in parents[3]["label"]
    status = cli("status", str(project))
    best = parents[2]["id"]
    assert f"best      val_acc = 0.94 ± 0.0361 over 3 seeds ({best})" in status.stdout, status.stdout
    memory = (project / "workspace" / "MEMORY_LOG.md").read_text()
    assert f"{best} keep val_acc=0.9 (mean 0.94 ± 0.0360555 over 3 seeds)" in memory


SLOW_SEED = """import argparse, os, sys, time
p = argparse.ArgumentParser(); p.add_argument('--x', type=int); p.add_argument('--seed', type=int)
p.add_argument('--dry-run', action='store_true')
a = p.parse_args()
if a.dry_run:
    sys.exit(0)
if a.seed == 1 and os.path.exists(os.path.join(os.environ['TUI_RESEARCHER_RUN_DIR'], '..', '..', 'hold')):
    time.sleep(2)
print(f'val_acc={[0.7, 0.72, 0.74][a.seed]}')
"""


def test_seed_reruns_owed_by_a_killed_controller_run_once_after_its_restart(tmp_path):
    from tests.helpers import kill_group, read_ledger, start_cli, wait_for

    project = noisy_project(tmp_path)
    (project / "workspace" / "noisy.py").write_text(SLOW_SEED)
    (project / "workspace" / "hold").write_text("")
    first = start_cli("run", str(project), "--no-ui", "--max-cycles", "1", log=tmp_path / "first.log")
    try:
        wait_for(lambda: latest_trials(project).get("t0002", {}).get("status") == "running",
                 what="the first seed re-run to be running")
        kill_group(first.pid)                          # the controller dies; the re-run goes on
        first.wait(10)
    finally:
        kill_group(first.pid)

    second = cli("run", str(project), "--no-ui", "--max-cycles", "1", timeout=60)

    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    t = latest_trials(project)
    assert sorted(t) == ["t0001", "t0002", "t0003"] and t["t0001"]["seeds"] == ["t0002", "t0003"]
    assert [t[i]["seed"] for i in ("t0002", "t0003")] == [1, 2]
    assert t["t0001"]["status"] == "keep" and abs(t["t0001"]["mean"] - 0.72) < 1e-9
    launches = [r["id"] for r in read_ledger(project) if r["event"] == "launched"]
    assert sorted(launches) == ["t0001", "t0002", "t0003"]                # none launched twice
