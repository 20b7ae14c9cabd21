"""The loop's own accounting, end to end with real subprocesses: cycles count trials, the directive
is capped, the daily cap ends at midnight, and a crashed script's last line reaches no terminal raw."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tui_researcher import controller as controller_module
from tui_researcher.config import load_config
from tui_researcher.controller import Controller
from tui_researcher.directive import DIRECTIVE_MAX_CHARS
from tui_researcher.errors import ResearcherError
from tui_researcher.events import Notice
from tui_researcher.planner import Plan

from tests.helpers import cli, latest_trials, make_project, read_state, record_events

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""What must never reach a terminal from a log or a model (tab and newline are layout)."""
EVIL = "\x1b]52;c;ZXZpbA==\x07\x1b]0;owned\x07\x1b[2J\x1b[H\x9b2J\x07 boom"


class Failing:
    """THINK fails (a provider fault) ``failures`` times, answers wait ``waits`` times, then the
    offline planner plans."""

    name = "failing"

    def __init__(self, inner, failures: int = 0, waits: int = 0) -> None:
        self.inner, self.failures, self.waits, self.contexts = inner, failures, waits, []

    async def think(self, ctx):
        self.contexts.append(ctx)
        if len(self.contexts) <= self.failures:
            raise ResearcherError("anthropic: server error 529 after 2 retries")
        if len(self.contexts) <= self.failures + self.waits:
            return Plan(hypothesis="nothing to start yet", action="wait")
        return await self.inner.think(ctx)

    async def execute(self, plan, runner):
        await self.inner.execute(plan, runner)

    async def reflect(self, trial, ctx):
        return await self.inner.reflect(trial, ctx)

    async def close(self):
        pass


async def run(controller: Controller, timeout: float = 60) -> list:
    seen, watcher = record_events(controller)
    await asyncio.wait_for(controller.run(), timeout)
    await asyncio.wait_for(watcher, 5)
    return seen


async def test_a_failed_think_does_not_use_up_a_cycle(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(controller_module, "BACKOFF_MIN_S", 0.05)   # the backoff stays; the test need not wait it
    project = make_project(tmp_path, modes=["ok"], scores=[0.5, 0.6, 0.7])
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=2)
    planner = controller.planner = Failing(controller.planner, failures=2)

    seen = await run(controller)

    assert sorted(latest_trials(project)) == ["t0001", "t0002"]          # --max-cycles 2: two trials
    assert [ctx.cycle for ctx in planner.contexts] == [1, 1, 1, 2]        # each failed attempt planned cycle 1
    assert read_state(project)["cycle"] == 2
    assert sum("THINK failed" in e.text for e in seen if isinstance(e, Notice)) == 2
    memory = (project / "workspace" / "MEMORY_LOG.md").read_text()
    assert memory.count("cycle 1: planning failure") == 2


async def test_the_directive_is_capped_with_one_warning_and_archived_whole(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok"])
    directive = project / "workspace" / "HUMAN_DIRECTIVE.md"
    directive.write_text("Try the widest network first. " + "x" * 1_000_000)
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=1)
    planner = controller.planner = Failing(controller.planner, waits=1)  # read by two THINKs: warned once

    seen = await run(controller)

    assert len(planner.contexts) == 2
    for ctx in planner.contexts:
        assert ctx.directive.startswith("Try the widest") and len(ctx.directive) <= DIRECTIVE_MAX_CHARS
    warnings = [e.text for e in seen if isinstance(e, Notice) and "HUMAN_DIRECTIVE.md is" in e.text]
    assert len(warnings) == 1 and f"first {DIRECTIVE_MAX_CHARS:,} characters" in warnings[0]
    assert not directive.exists()                                        # used, so archived: not sent again
    [archived] = (project / "workspace" / "directive_archive").iterdir()
    assert archived.stat().st_size > 1_000_000                           # the whole file, not the cut


def test_the_daily_cap_is_over_at_midnight(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok"], extra={"agent": {"max_usd_per_day": 1.0}})
    controller = Controller(project, load_config(project / "config.yaml"))
    controller.add_usage(input_tokens=10, usd=1.5)
    assert controller._over_budget()
    controller.state.usage.day = "2000-01-01"                            # spent yesterday; no request since
    assert not controller._over_budget()


def test_a_crash_line_with_terminal_escapes_reaches_no_terminal_raw(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok"])
    (project / "workspace" / "job.py").write_text(
        "import sys\nif '--dry-run' in sys.argv: sys.exit(0)\n"
        f"print('step=1 loss=0.5'); print({EVIL!r}, flush=True); sys.exit(3)\n")

    run_out = cli("run", str(project), "--no-ui", "--max-cycles", "1", check=True)
    status = cli("status", str(project), check=True)

    finish = [line for line in run_out.stdout.splitlines() if " FINISH " in line]
    assert finish and "^[]0;owned^G" in finish[0] and "\\x9b2J" in finish[0]
    assert not CONTROL.search(run_out.stdout), [line for line in run_out.stdout.splitlines() if CONTROL.search(line)]
    assert not CONTROL.search(status.stdout)
    label = latest_trials(project)["t0001"]["label"]
    assert label.endswith("boom") and not CONTROL.search(label)
