"""Every file the controller reads or owns, in one place: the tools protect the same list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # `status` finds the files without loading the config's models
    from .config import Config


@dataclass(frozen=True)
class ProjectPaths:
    root: Path
    workspace: Path

    @classmethod
    def of(cls, project_dir: Path, config: "Config") -> "ProjectPaths":
        return cls.at(project_dir, config.project.workspace)

    @classmethod
    def at(cls, project_dir: Path, workspace: str) -> "ProjectPaths":
        root = project_dir.resolve()
        return cls(root=root, workspace=(root / workspace).resolve())

    @property
    def store(self) -> Path: return self.workspace / "researcher.db"
    @property
    def state(self) -> Path: return self.workspace / "state.json"
    """Before the store (migrated on first start); still protected, so no tool can plant one."""
    @property
    def ledger(self) -> Path: return self.workspace / "trials.jsonl"
    @property
    def memory(self) -> Path: return self.workspace / "MEMORY_LOG.md"
    @property
    def directive(self) -> Path: return self.workspace / "HUMAN_DIRECTIVE.md"
    @property
    def directive_archive(self) -> Path: return self.workspace / "directive_archive"
    @property
    def events(self) -> Path: return self.workspace / "events.jsonl"
    @property
    def commands(self) -> Path: return self.workspace / "commands.jsonl"
    @property
    def lock(self) -> Path: return self.workspace / ".lock"

    def protected(self) -> list[str]:
        """Workspace-relative files no tool may write."""
        store = [self.store, self.store.with_name("researcher.db-wal"), self.store.with_name("researcher.db-shm")]
        names = [*store, self.state, self.ledger, self.memory, self.directive, self.events, self.commands, self.lock]
        return [str(p.relative_to(self.workspace)) for p in names]
