"""Memory's Key Results are the ledger's: a reflection that claims a better metric is not believed."""

from __future__ import annotations

import pytest

from tests.agents.conftest import dry, launch, plan, reflection, run_loop
from tests.helpers import latest_trials
from tui_researcher.events import Notice


def job(value: float) -> str:
    return f"import sys\nif '--dry-run' in sys.argv: sys.exit(0)\nprint('val_acc={value}')\n"


@pytest.mark.parametrize("provider", ["anthropic"])
async def test_a_reflection_claiming_a_better_metric_than_the_ledger_is_not_stored(sample_project, config, fake,
                                                                                    provider):
    fake.script("think", plan("python3 a.py"), plan("python3 b.py"))
    fake.script("code",
                {"tool": "write_file", "args": {"path": "a.py", "content": job(0.7)}}, dry("python3 a.py"),
                launch("python3 a.py"),
                {"tool": "write_file", "args": {"path": "b.py", "content": job(0.65)}}, dry("python3 b.py"),
                launch("python3 b.py"))
    fake.script("reflect",
                reflection(milestone="a.py reaches val_acc 0.70", decision="t0001 works: val_acc=0.7"),
                reflection(milestone="t0002: val_acc=0.995 (new best)",
                           decision="t0002 reached val_acc=0.995, the new best; widen next"))

    controller = await run_loop(sample_project, config, cycles=2)

    trials = latest_trials(sample_project)
    assert (trials["t0002"]["status"], trials["t0002"]["metric"]) == ("discard", 0.65)
    memory = (sample_project / "workspace" / "MEMORY_LOG.md").read_text()
    assert "0.995" not in memory and "0.995" not in trials["t0002"]["decision"]
    results = memory.split("## Key Results")[1].split("## Recent Decisions")[0]
    assert "- t0001 keep val_acc=0.7:" in results and "lesson: a.py reaches val_acc 0.70" in results
    assert "t0002" not in results                      # its only lesson was a false claim
    assert "t0002 discard val_acc=0.65 (the reflection's decision was dropped" in memory
    warned = [e.text for e in controller.seen if isinstance(e, Notice) and "contradicts" in e.text]
    assert any("t0002: val_acc=0.995 (the ledger has 0.65)" in w for w in warned)
    assert any("t0002: new best (the ledger has discard)" in w for w in warned)
