"""The project's truth on disk, shared by the loop's parts: config, paths, state, ledger and memory.

The parts (monitor, collector, launcher, reflector, command handler) each hold this one object
rather than the controller, so each can be read, and tested, on its own.
"""

from __future__ import annotations

from pathlib import Path

from .config import Config
from .ledger import Ledger
from .memory import Memory
from .paths import ProjectPaths
from .state import State


class Project:
    def __init__(self, project_dir: Path, config: Config) -> None:
        self.config = config
        self.paths = ProjectPaths.of(project_dir, config)
        self.name = config.project.name or self.paths.root.name
        self.ledger = Ledger(self.paths.ledger)
        self.state = State.load(self.paths.state)
        self.memory = Memory.load(self.paths.memory, config.memory)

    def save_state(self) -> None:
        self.state.save(self.paths.state)

    def best_metric(self) -> float | None:
        best = self.ledger.best(self.config.metric.goal)
        return best.metric if best else None
