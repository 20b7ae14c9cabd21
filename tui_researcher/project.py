"""The project's truth on disk, shared by the loop's parts: config, paths, store, state, ledger and memory.

The parts (monitor, collector, launcher, reflector, command handler) each hold this one object
rather than the controller, so each can be read, and tested, on its own.
"""

from __future__ import annotations

from pathlib import Path

from .config import Config
from .ledger import Ledger
from .hypotheses import ensure_schema as ensure_pool
from .lineage import ensure_schema as ensure_lineage
from .memory import Memory
from .migrate import migrate_legacy
from .paths import ProjectPaths
from .state import State
from .store import Store
from .trial import Trial


class Project:
    def __init__(self, project_dir: Path, config: Config) -> None:
        self.config = config
        self.paths = ProjectPaths.of(project_dir, config)
        self.name = config.project.name or self.paths.root.name
        self.store = Store(self.paths.store)
        self.notices: list[str] = [line] if (line := migrate_legacy(self.paths, self.store)) else []
        ensure_lineage(self.store)
        ensure_pool(self.store)
        self.ledger = Ledger(self.store)
        self.state = State.load(self.store)
        self.memory = self._load_memory()

    def _load_memory(self) -> Memory:
        """MEMORY_LOG.md, unless a trial could have rewritten it: while training runs, the controller's rename
        of the file leaves the new one writable to that trial until it is collected. If the controller stopped
        with trials running and the file differs from the copy kept in the store, the kept copy wins."""
        path, cfg = self.paths.memory, self.config.memory
        kept = self.store.meta("memory")
        memory = Memory.load(path, cfg)
        on_disk = path.read_text(encoding="utf-8") if path.exists() else ""
        if kept is not None and self.state.running and on_disk != kept:
            memory = Memory.from_text(path, cfg, kept)
            memory.save()
            self.notices.append(f"{path.name} changed while trials ran with no controller to watch them: "
                                f"restored from the store's copy")
        memory.keep = lambda text: self.store.set_meta("memory", text)
        return memory

    def save_state(self) -> None:
        self.state.save(self.store)

    def commit(self, trial: Trial, event: str) -> None:
        """The trial's record and the state (its running set) together: a crash leaves both or neither."""
        with self.store.transaction():
            self.ledger.record(trial, event)
            self.save_state()

    def close(self) -> None:
        self.store.close()

    def best_metric(self) -> float | None:
        """The best's metric: its mean over seeds where it was seed-checked."""
        best = self.ledger.best(self.config.metric.goal)
        if best is None:
            return None
        return best.mean if best.mean is not None else best.metric
