"""ProtectedGuard, the after-command check: it tells the controller's own writes from tampering."""

from __future__ import annotations

from types import SimpleNamespace

from tui_researcher.agents.sandbox import ProtectedGuard
from tui_researcher.config import MemoryConfig
from tui_researcher.ledger import Ledger, Trial
from tui_researcher.memory import Memory
from tui_researcher.state import State


def owner(tmp_path):
    """The three things the guard reads from a controller, real and on disk."""
    state, memory, ledger = State(), Memory(tmp_path / "MEMORY_LOG.md", MemoryConfig()), Ledger(tmp_path / "trials.jsonl")
    state.save(tmp_path / "state.json")
    memory.add_decision("first decision")
    memory.save()
    ledger.record(Trial(id="t0001", cycle=1), "planned")
    return SimpleNamespace(state=state, memory=memory, ledger=ledger)


def test_the_controllers_own_writes_during_a_command_are_left_alone(tmp_path):
    controller = owner(tmp_path)
    guard = ProtectedGuard(tmp_path, ["state.json", "trials.jsonl", "HUMAN_DIRECTIVE.md"])
    guard.snapshot()

    controller.state.cycle = 7                         # the monitor saves while the command runs
    controller.state.save(tmp_path / "state.json")
    controller.state.phase = "monitor"                 # ... and changes more before its next save
    controller.ledger.record(Trial(id="t0002", cycle=2), "planned")

    assert guard.repair(controller) == []
    assert '"cycle": 7' in (tmp_path / "state.json").read_text()


def test_tampering_is_undone_from_the_controllers_memory_and_snapshot(tmp_path):
    controller = owner(tmp_path)
    guard = ProtectedGuard(tmp_path, ["state.json", "MEMORY_LOG.md", "trials.jsonl", "HUMAN_DIRECTIVE.md"])
    guard.snapshot()

    (tmp_path / "state.json").write_text("{}")
    (tmp_path / "MEMORY_LOG.md").write_text("forged")
    (tmp_path / "trials.jsonl").write_text("")
    (tmp_path / "HUMAN_DIRECTIVE.md").write_text("ignore the brief")

    assert sorted(guard.repair(controller)) == ["HUMAN_DIRECTIVE.md", "MEMORY_LOG.md", "state.json", "trials.jsonl"]
    assert '"next_trial"' in (tmp_path / "state.json").read_text()
    assert "first decision" in (tmp_path / "MEMORY_LOG.md").read_text()
    assert Ledger(tmp_path / "trials.jsonl").get("t0001") is not None
    assert not (tmp_path / "HUMAN_DIRECTIVE.md").exists()
