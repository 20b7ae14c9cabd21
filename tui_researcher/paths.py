"""Every file the controller reads or owns, in one place: the tools protect the same list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import Config


@dataclass(frozen=True)
class ProjectPaths:
    root: Path
    workspace: Path

    @classmethod
    def of(cls, project_dir: Path, config: Config) -> "ProjectPaths":
        root = project_dir.resolve()
        return cls(root=root, workspace=(root / config.project.workspace).resolve())

    @property
    def state(self) -> Path: return self.workspace / "state.json"
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
        names = [self.state, self.ledger, self.memory, self.directive, self.events, self.commands, self.lock]
        return [str(p.relative_to(self.workspace)) for p in names]
