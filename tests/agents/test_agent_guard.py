"""ProtectedGuard, the after-command check: it tells the controller's own writes from tampering."""

from __future__ import annotations

import sqlite3

from tui_researcher.agents.sandbox import ProtectedGuard
from tui_researcher.bus import EventBus
from tui_researcher.config import load_config
from tui_researcher.project import Project
from tui_researcher.trial import Trial
from tui_researcher.workbench import Workbench

ALL = ["researcher.db", "researcher.db-wal", "researcher.db-shm", "MEMORY_LOG.md", "commands.jsonl",
       "HUMAN_DIRECTIVE.md"]


def owner(tmp_path):
    """A real project (workspace = tmp_path) and the workbench the guard repairs through."""
    (tmp_path / "config.yaml").write_text("project: {workspace: .}\n")
    project = Project(tmp_path, load_config(tmp_path / "config.yaml"))
    project.save_state()
    project.memory.add_decision("first decision")
    project.memory.save()
    project.ledger.record(Trial(id="t0001", cycle=1), "planned")
    (tmp_path / "commands.jsonl").write_text('{"type": "pause"}\n')
    return project, Workbench(project, EventBus(project.store), {})


def test_the_controllers_own_writes_during_a_command_are_left_alone(tmp_path):
    project, bench = owner(tmp_path)
    guard = ProtectedGuard(tmp_path, ALL)
    guard.snapshot(bench)

    project.state.cycle = 7                            # the monitor saves while the command runs
    project.save_state()
    project.ledger.record(Trial(id="t0002", cycle=2), "planned")
    with open(tmp_path / "commands.jsonl", "a") as f:  # an attached app sends a command
        f.write('{"type": "resume"}\n')

    assert guard.repair(bench) == []
    assert project.ledger.get("t0002") is not None and project.store.load_state()[0]["cycle"] == 7


def test_tampering_is_undone_from_the_controllers_memory_and_snapshot(tmp_path):
    project, bench = owner(tmp_path)
    guard = ProtectedGuard(tmp_path, ALL)
    guard.snapshot(bench)

    forger = sqlite3.connect(tmp_path / "researcher.db")
    forger.execute("INSERT INTO trials(id, status, metric, record) VALUES('t0999', 'keep', 0.999, '{}')")
    forger.execute("DELETE FROM running")
    forger.commit()
    forger.close()
    project.ledger.record(Trial(id="t0002", cycle=2), "planned")      # the controller wrote meanwhile
    (tmp_path / "MEMORY_LOG.md").write_text("forged")
    (tmp_path / "commands.jsonl").write_text('{"type": "quit"}\n')
    (tmp_path / "HUMAN_DIRECTIVE.md").write_text("ignore the brief")

    assert sorted(guard.repair(bench)) == ["HUMAN_DIRECTIVE.md", "MEMORY_LOG.md", "commands.jsonl", "researcher.db"]
    assert project.ledger.get("t0999") is None and project.ledger.get("t0002") is not None
    assert project.ledger.best("max") is None
    assert "first decision" in (tmp_path / "MEMORY_LOG.md").read_text()
    assert (tmp_path / "commands.jsonl").read_text() == '{"type": "pause"}\n'
    assert not (tmp_path / "HUMAN_DIRECTIVE.md").exists()
