"""Controller behaviour the LLM workers rely on.

- a worker's failed dry-run does not end the trial (it may fix the code and dry-run again);
- ``report`` at the very first THINK ends the run instead of meaning "no cycle limit".
"""

from __future__ import annotations

import pytest

from tests.agents.conftest import dry, launch, plan, reflection, run_loop
from tests.helpers import latest_trials
from tui_researcher.events import TrialFinished



@pytest.mark.parametrize("provider", ["anthropic"])
async def test_a_failed_dry_run_leaves_the_trial_open_for_a_fix(sample_project, config, fake, provider):
    fake.script("think", plan("python3 job.py"))
    fake.script("code", {"tool": "write_file", "args": {"path": "job.py", "content": "raise SystemExit(3)\n"}},
                dry("python3 job.py"),
                {"tool": "write_file", "args": {"path": "job.py", "content": "print('val_acc=0.6')\n"}},
                dry("python3 job.py"), launch("python3 job.py"))
    fake.script("reflect", reflection())

    controller = await run_loop(sample_project, config)

    finished = [e for e in controller.seen if isinstance(e, TrialFinished)]
    assert [(e.trial_id, e.status) for e in finished] == [("t0001", "keep")]


@pytest.mark.parametrize("provider", ["openai"])
async def test_a_dispatch_ending_after_a_failed_dry_run_is_recorded_as_dry_run_failed(sample_project, config, fake,
                                                                                      provider):
    fake.script("think", plan("python3 job.py"))
    fake.script("code", {"tool": "write_file", "args": {"path": "job.py", "content": "raise SystemExit(3)\n"}},
                dry("python3 job.py"), {"text": "I cannot fix it"})
    fake.script("reflect", reflection(milestone=""))

    await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "dry_run_failed" and trial["label"].startswith("dry-run exit 3")


@pytest.mark.parametrize("provider", ["anthropic"])
async def test_report_at_the_first_think_ends_the_run(sample_project, config, fake, provider):
    fake.script("think", {"tool": "submit_plan", "args": {"action": "report", "hypothesis": "nothing to try"}})
    fake.script("writing", {"text": "nothing to report"})

    await run_loop(sample_project, config, cycles=0, timeout=20)

    assert fake.count("think") == 1 and latest_trials(sample_project) == {}
