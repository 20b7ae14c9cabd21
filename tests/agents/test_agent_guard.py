"""ProtectedGuard, the after-command check: it tells the controller's own writes from tampering."""

from __future__ import annotations

from tui_researcher.agents.sandbox import ProtectedGuard
from tui_researcher.bus import EventBus
from tui_researcher.config import load_config
from tui_researcher.ledger import Ledger
from tui_researcher.project import Project
from tui_researcher.trial import Trial
from tui_researcher.workbench import Workbench


def owner(tmp_path):
    """A real project (workspace = tmp_path) and the workbench the guard repairs through."""
    (tmp_path / "config.yaml").write_text("project: {workspace: .}\n")
    project = Project(tmp_path, load_config(tmp_path / "config.yaml"))
    project.save_state()
    project.memory.add_decision("first decision")
    project.memory.save()
    project.ledger.record(Trial(id="t0001", cycle=1), "planned")
    return project, Workbench(project, EventBus(tmp_path / "events.jsonl"), {})


def test_the_controllers_own_writes_during_a_command_are_left_alone(tmp_path):
    controller, bench = owner(tmp_path)
    guard = ProtectedGuard(tmp_path, ["state.json", "trials.jsonl", "HUMAN_DIRECTIVE.md"])
    guard.snapshot()

    controller.state.cycle = 7                         # the monitor saves while the command runs
    controller.state.save(tmp_path / "state.json")
    controller.state.phase = "monitor"                 # ... and changes more before its next save
    controller.ledger.record(Trial(id="t0002", cycle=2), "planned")

    assert guard.repair(bench) == []
    assert '"cycle": 7' in (tmp_path / "state.json").read_text()


def test_tampering_is_undone_from_the_controllers_memory_and_snapshot(tmp_path):
    controller, bench = owner(tmp_path)
    guard = ProtectedGuard(tmp_path, ["state.json", "MEMORY_LOG.md", "trials.jsonl", "HUMAN_DIRECTIVE.md"])
    guard.snapshot()

    (tmp_path / "state.json").write_text("{}")
    (tmp_path / "MEMORY_LOG.md").write_text("forged")
    (tmp_path / "trials.jsonl").write_text("")
    (tmp_path / "HUMAN_DIRECTIVE.md").write_text("ignore the brief")

    assert sorted(guard.repair(bench)) == ["HUMAN_DIRECTIVE.md", "MEMORY_LOG.md", "state.json", "trials.jsonl"]
    assert '"next_trial"' in (tmp_path / "state.json").read_text()
    assert "first decision" in (tmp_path / "MEMORY_LOG.md").read_text()
    assert Ledger(tmp_path / "trials.jsonl").get("t0001") is not None
    assert not (tmp_path / "HUMAN_DIRECTIVE.md").exists()
