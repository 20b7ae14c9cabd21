"""Each trial runs in its own tree from its parent's code; keep makes its snapshot the next base.

Driven by the code worker through the real SDKs against the fake provider: the worker's edits
land in its trial's tree, never in the workspace or another trial's tree.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.agents.conftest import dry, launch, plan, reflection, run_loop
from tests.helpers import latest_trials

JOB = "python3 job.py"


def job(value: float, mark: str) -> str:
    return (f"import sys\n# {mark}\nif '--dry-run' in sys.argv: sys.exit(0)\n"
            f"print('val_acc=' + open('value.txt').read().strip())\n")


def edit(value: float, mark: str) -> list[dict]:
    """The worker's turn: write job.py and value.txt, dry-run, launch."""
    return [{"tool": "write_file", "args": {"path": "job.py", "content": job(value, mark)}},
            {"tool": "write_file", "args": {"path": "value.txt", "content": f"{value}\n"}},
            dry(JOB), launch(JOB)]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui_researcher.cli", *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("provider", ["anthropic"])
async def test_keep_then_discard_then_keep_diffs_each_against_the_right_parent(sample_project, config, fake,
                                                                               provider, tmp_path):
    fake.script("think", *[plan(JOB)] * 4)
    fake.script("code", *edit(0.7, "A"), *edit(0.6, "B"), *edit(0.8, "C"),
                dry(JOB), launch(JOB))                       # t0004 edits nothing: it runs its base as it is
    fake.script("reflect", *[reflection(milestone="")] * 4)

    await run_loop(sample_project, config, cycles=4)

    t = latest_trials(sample_project)
    assert [(t[i]["status"], t[i]["metric"]) for i in ("t0001", "t0002", "t0003", "t0004")] == [
        ("keep", 0.7), ("discard", 0.6), ("keep", 0.8), ("discard", 0.8)]
    workspace_code = t["t0001"]["base_snapshot"]
    assert t["t0002"]["base_snapshot"] == t["t0003"]["base_snapshot"] == t["t0001"]["snapshot"]
    assert t["t0004"]["base_snapshot"] == t["t0003"]["snapshot"]       # the last keep is the base
    assert len({workspace_code, *(t[i]["snapshot"] for i in t)}) == 5
    assert "+# A" in t["t0001"]["diff"] and "+++ b/job.py" in t["t0001"]["diff"]
    assert "-# A" in t["t0002"]["diff"] and "+# B" in t["t0002"]["diff"]
    assert "-# A" in t["t0003"]["diff"] and "+# C" in t["t0003"]["diff"] and "B" not in t["t0003"]["diff"]
    assert t["t0004"]["diff"] == "" and t["t0004"]["files_changed"] == []
    assert sorted(t["t0003"]["files_changed"]) == ["job.py", "value.txt"]
    workspace = sample_project / "workspace"
    assert not (workspace / "job.py").exists()                             # the user's tree is untouched
    assert (workspace / "runs" / "t0003" / "code.diff").read_text() == t["t0003"]["diff"]

    shown = cli("diff", str(sample_project), "t0003")
    assert shown.returncode == 0 and shown.stdout == t["t0003"]["diff"]
    between = cli("diff", str(sample_project), "t0002", "t0003")
    assert between.returncode == 0 and "-# B" in between.stdout and "+# C" in between.stdout
    out = tmp_path / "t0002-code"
    done = cli("checkout", str(sample_project), "t0002", str(out))
    assert done.returncode == 0, done.stderr
    assert "# B" in (out / "job.py").read_text() and (out / "value.txt").read_text() == "0.6\n"
    assert (out / "train.py").read_text() == (workspace / "train.py").read_text()
    refused = cli("checkout", str(sample_project), "t0002", str(out))       # never over existing files
    assert refused.returncode == 2 and "not empty" in refused.stderr
    same = cli("diff", str(sample_project), "t0004")                        # no change: said, on stderr
    assert same.returncode == 0 and same.stdout == "" and "no code change: t0004's code" in same.stderr
    missing = cli("diff", str(sample_project), "t0999")
    assert missing.returncode == 2 and "t0999" in missing.stderr


PARALLEL_JOB = """import os, sys, time
if '--dry-run' in sys.argv: sys.exit(0)
run = os.environ['TUI_RESEARCHER_RUN_DIR']
open(os.path.join(run, 'started'), 'w').close()
other = os.path.join(run, '..', sys.argv[1], 'started')
deadline = time.time() + 30
while not os.path.exists(other) and time.time() < deadline:   # both run at once, each in its own tree
    time.sleep(0.05)
print('val_acc=' + open('value.txt').read().strip())
"""


@pytest.mark.parametrize("provider", ["openai"])
async def test_parallel_trials_editing_the_same_file_run_in_different_trees(sample_project, config, fake, provider):
    config.experiment.max_parallel = 2
    fake.script("think", plan("python3 job.py t0002"), plan("python3 job.py t0001"))
    steps = []
    for value, other in ((0.5, "t0002"), (0.9, "t0001")):
        steps += [{"tool": "write_file", "args": {"path": "job.py", "content": PARALLEL_JOB}},
                  {"tool": "write_file", "args": {"path": "value.txt", "content": f"{value}\n"}},
                  dry(f"python3 job.py {other}"), launch(f"python3 job.py {other}")]
    fake.script("code", *steps)
    fake.script("reflect", *[reflection(milestone="")] * 2)

    await run_loop(sample_project, config, cycles=2)

    t = latest_trials(sample_project)
    assert (t["t0001"]["metric"], t["t0002"]["metric"]) == (0.5, 0.9)
    assert t["t0001"]["ended"] > t["t0002"]["started"]                  # they overlapped
    assert t["t0001"]["tree"] == ".tui-researcher/trees/t0001" and t["t0002"]["tree"] == ".tui-researcher/trees/t0002"
    assert "+0.5" in t["t0001"]["diff"] and "+0.9" in t["t0002"]["diff"] and "0.5" not in t["t0002"]["diff"]
    assert t["t0001"]["base_snapshot"] == t["t0002"]["base_snapshot"]    # neither was kept when t0002 began
