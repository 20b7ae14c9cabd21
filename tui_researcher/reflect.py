"""REFLECT: the planner's decision on a recorded trial, written to memory, the ledger and the state.

A trial reaches here only after the collector recorded its result, so a planner that fails (an
outage, a bad answer) costs a decision, never a result. The daily spending cap defers a REFLECT,
never drops it: the trial stays owed (unreflected in the store, so a restart owes it too) and is
reflected when the budget allows, the next day.
"""

from __future__ import annotations

import time
from typing import Callable

from .bus import EventBus
from .errors import ResearcherError
from .events import MemoryChanged, Phase, Reflected
from .facts import contradictions, fact_line, headline
from .planner import Planner, Reflection, ThinkContext
from .project import Project
from .textsafe import inert
from .trial import Trial, TrialStatus
from .failpoints import failpoint


class Reflector:
    def __init__(self, project: Project, bus: EventBus, planner: Planner,
                 set_phase: Callable[[Phase, str], None], context: Callable[[], ThinkContext],
                 cap_reached: Callable[[], bool] = lambda: False) -> None:
        self.project = project
        self.bus = bus
        self.planner = planner
        self.set_phase = set_phase
        self.context = context
        self.cap_reached = cap_reached
        self.queue: dict[str, None] = {}
        """Trials recorded but not reflected yet, oldest first (a dict: owed twice is owed once)."""
        self.reported = False
        self._deferred: set[str] = set()

    def owed(self, tid: str) -> None:
        self.queue[tid] = None

    @property
    def pending(self) -> bool:
        return bool(self.queue)

    async def drain(self) -> None:
        """Reflect every recorded trial, unless planning is paused or the day's budget is spent: then
        they wait, recorded, and the cap's wait is said once per trial."""
        while self.queue and not self.project.state.paused:
            if self.cap_reached():
                for tid in list(self.queue):
                    self._defer(tid)
                return
            tid = next(iter(self.queue))
            trial = self.project.ledger.get(tid)
            self.queue.pop(tid)
            if trial is not None:
                await self.reflect(trial)

    def _defer(self, tid: str) -> None:
        """Owed still, said once: the cap must not turn a result into "no reflection"."""
        self.owed(tid)
        if tid not in self._deferred:
            self._deferred.add(tid)
            self.bus.notice(f"REFLECT of {tid} deferred: agent.max_usd_per_day is reached; it runs when the "
                            f"budget allows", "warning")

    async def reflect(self, trial: Trial) -> None:
        if self.cap_reached():
            self._defer(trial.id)
            return
        self._deferred.discard(trial.id)
        state = self.project.state
        self.set_phase(Phase.REFLECT, trial.id)
        try:
            reflection = await self.planner.reflect(trial, self.context())
        except ResearcherError as exc:
            self.bus.notice(f"REFLECT failed for {trial.id}: {exc}; result recorded without a decision", "error")
            reflection = Reflection(decision=f"{trial.id} {trial.status} (no reflection: {exc})"[:300])
        reflection.decision, reflection.milestone = inert(reflection.decision), inert(reflection.milestone)
        self._check(trial, reflection)
        if trial.status == TrialStatus.KEEP:
            state.no_progress = 0
        elif trial.finished:
            state.no_progress += 1
        self._remember(trial, reflection)
        failpoint("reflect")
        trial.decision = reflection.decision
        self.project.ledger.record(trial, "reflected")
        state.last_decision = reflection.decision
        if reflection.next_action == "pivot" and not state.pivot:
            state.pivot = f"no improvement in {state.no_progress} trials"
        elif reflection.next_action == "report":
            self.reported = True
        self.bus.emit(Reflected(trial_id=trial.id, decision=reflection.decision,
                                next_action=reflection.next_action, milestone=reflection.milestone))
        self.project.save_state()

    def _check(self, trial: Trial, reflection: Reflection) -> None:
        """A statement the ledger contradicts is not kept: neither as a decision nor as a lesson."""
        metric, ledger = self.project.config.metric.name, self.project.ledger
        fact = headline(trial, metric)
        for name in ("decision", "milestone"):
            text = getattr(reflection, name)
            wrong = contradictions(text, metric, trial, ledger.get)
            if not wrong:
                continue
            said = "; ".join(str(c) for c in wrong[:3])
            self.bus.notice(f"REFLECT of {trial.id} stated what the ledger contradicts ({said}): its {name} "
                            f"is not stored", "warning")
            setattr(reflection, name, f"{fact} (the reflection's {name} was dropped: it contradicted the "
                                      f"ledger)" if name == "decision" else "")

    def _remember(self, trial: Trial, reflection: Reflection) -> None:
        """The Key Results line is the ledger's; the reflection adds its lesson after it."""
        memory = self.project.memory
        if reflection.milestone or trial.status == TrialStatus.KEEP:
            parent = self.project.ledger.get(trial.parent) if trial.parent else None
            line = fact_line(trial, self.project.config.metric.name, parent)
            memory.add_result(f"{line}\nlesson: {reflection.milestone}" if reflection.milestone else line)
        memory.add_decision(f"[{time.strftime('%m-%d %H:%M')}] {reflection.decision} -> {reflection.next_action}")
        self.save_memory()

    def save_memory(self) -> None:
        self.bus.emit(MemoryChanged(text=self.project.memory.save()))
