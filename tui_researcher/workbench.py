"""What a planner may read and do: the narrow interface the LLM agents get instead of the controller.

Reads: the config, the ledger's trials, the memory's text, today's spend. Writes, each recorded:
a notice or tool event, a decision in memory, a trial's tool calls, LLM usage. The repairs of the
sandbox's fallback guard also go through here, so no agent holds the state or memory objects.
"""

from __future__ import annotations

from .backends.base import Backend
from .bus import EventBus
from .config import Config
from .events import Event, MemoryChanged, UsageChanged
from .hypotheses import Pool
from .lineage import add_diff, full_diff
from .paths import ProjectPaths
from .project import Project
from .state import Usage
from .store import Snapshot
from .trial import Trial


class Workbench:
    def __init__(self, project: Project, bus: EventBus, backends: dict[str, Backend]) -> None:
        self._project = project
        self._bus = bus
        self._backends = backends

    # reads ---------------------------------------------------------------------------------------

    @property
    def config(self) -> Config:
        return self._project.config

    @property
    def paths(self) -> ProjectPaths:
        return self._project.paths

    @property
    def host(self) -> Backend:
        """The host for tools outside a trial (ideas, reports): the first, where the workspace lives."""
        return next(iter(self._backends.values()))

    @property
    def usage(self) -> Usage:
        return self._project.state.usage

    @property
    def no_progress(self) -> int:
        return self._project.state.no_progress

    def trial(self, trial_id: str) -> Trial | None:
        return self._project.ledger.get(trial_id)

    def best(self) -> Trial | None:
        return self._project.ledger.best(self.config.metric.goal)

    def recent(self, n: int) -> list[Trial]:
        return self._project.ledger.recent(n)

    def report_facts(self, rows: int = 60) -> str:
        """The facts `tui-researcher report` writes (``report.py``), so the writing worker tells the same story."""
        from .report import gather, markdown

        p = self._project
        facts = gather(p.store, project=p.name, metric=p.config.metric.name, goal=p.config.metric.goal,
                       brief=p.paths.root / p.config.project.brief)
        return markdown(facts, plot=None, rows=rows)
    def pool(self) -> Pool:
        """The hypothesis pool in the project's store (``hypotheses.py``)."""
        cfg = self.config
        return Pool(self._project.store, pool_max=cfg.strategy.pool_max, max_tries=cfg.strategy.max_tries,
                    goal=cfg.metric.goal)

    def meta(self, key: str) -> str | None:
        return self._project.store.meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self._project.store.set_meta(key, value)

    def memory_text(self) -> str:
        return self._project.memory.render()

    # writes --------------------------------------------------------------------------------------

    def notice(self, text: str, level: str = "info") -> None:
        self._bus.notice(text, level)

    def emit(self, event: Event) -> None:
        self._bus.emit(event)

    def record(self, trial: Trial, event: str) -> None:
        self._project.ledger.record(trial, event)

    def tool_call(self, trial: Trial, record: dict) -> None:
        """A stream of its own: the trial's record is not rewritten per call."""
        self._project.ledger.tool_call(trial, record)

    def add_diff(self, trial: Trial, path: str, old: str, new: str) -> None:
        """A file the trial's worker wrote, as a diff: the lineage's "what it changed"."""
        add_diff(self._project.store, trial.id, path, old, new)

    def lineage(self) -> str:
        cfg = self.config
        return self._project.ledger.lineage(cfg.metric.goal, cfg.metric.name, cfg.memory.lineage_max_chars)

    def diff(self, trial_id: str) -> str:
        return full_diff(self._project.store, trial_id)

    def remember(self, decision: str) -> None:
        memory = self._project.memory
        memory.add_decision(decision)
        self._bus.emit(MemoryChanged(text=memory.save()))

    def add_usage(self, **counts: float) -> None:
        state = self._project.state
        state.usage.add(state.cycle, **counts)
        u = state.usage
        self._bus.emit(UsageChanged(input_tokens=u.input_tokens, output_tokens=u.output_tokens,
                                    cache_read_tokens=u.cache_read_tokens, cache_write_tokens=u.cache_write_tokens,
                                    usd=u.usd, usd_today=u.usd_today, tokens_today=u.tokens_today))

    # the sandbox fallback's repairs: rewrite the controller's files from its own memory -------------

    def rewrite_memory(self) -> None:
        self._project.memory.save()

    def store_snapshot(self) -> Snapshot:
        return self._project.store.snapshot()

    def store_restore_if_tampered(self, snap: Snapshot) -> bool:
        store = self._project.store
        if not store.tampered(snap):
            store.forget(snap)
            return False
        store.restore(snap)
        self._project.save_state()      # the state's truth is the controller's memory
        return True
