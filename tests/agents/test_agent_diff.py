"""A worker's edit is recorded as a real unified diff, and the trial's journal note and the report show it."""

from __future__ import annotations

import pytest

from tests.agents.conftest import dry, launch, plan, reflection, run_loop
from tests.helpers import cli, latest_trials

CMD = "python3 train.py --lr 0.1 --hidden 8 --epochs 10"


@pytest.mark.parametrize("provider", ["anthropic"])
async def test_an_edit_of_train_py_is_a_diff_in_the_ledger_the_journal_and_the_report(sample_project, config, fake,
                                                                                     provider):
    train = sample_project / "workspace" / "train.py"
    old = train.read_text()
    first = old.splitlines()[0]
    new = old.replace("A tiny real training", "A tiny, real training", 1)
    fake.script("think", plan(CMD))
    fake.script("code", {"tool": "write_file", "args": {"path": "train.py", "content": new}},
                {"tool": "write_file", "args": {"path": "notes.md", "content": "lr 0.1\n"}}, dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    edit, note = [c for c in trial["tool_calls"] if c["tool"] == "write_file"]
    assert edit["diff"].startswith("--- a/train.py\n+++ b/train.py\n@@ -1,")
    assert f"\n-{first}\n" in edit["diff"] and f"\n+{new.splitlines()[0]}\n" in edit["diff"]
    assert note["diff"] == "--- /dev/null\n+++ b/notes.md\n@@ -0,0 +1 @@\n+lr 0.1\n"
    journal = (sample_project / "workspace" / "journal" / "trials" / "t0001.md").read_text()
    assert "## Code changes" in journal and edit["diff"].rstrip("\n") in journal
    cli("report", str(sample_project), check=True)
    report = (sample_project / "report" / "report.md").read_text()
    assert trial["status"] == "keep" and "```diff\n" + edit["diff"] in report
