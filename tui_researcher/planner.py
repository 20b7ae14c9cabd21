"""Plans, reflections, the planner protocol, and the offline planner that needs no key and no network.

The offline planner is a search strategy over ``search.space``: it proposes the next
configuration from the ledger, the controller dry-runs and launches it. LLM leaders replace
``think``/``execute``/``reflect``; the rest of the loop stays as it is.
"""

from __future__ import annotations

import itertools
import random
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Protocol

from .config import Config
from .ledger import Ledger
from .trial import Trial, TrialStatus


@dataclass(slots=True)
class Plan:
    hypothesis: str
    params: dict[str, Any] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    task: str = ""
    success_criteria: str = ""
    worker: str = "code"
    parent: str | None = None
    action: str = "experiment"          # experiment | wait | report

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


@dataclass(slots=True)
class Reflection:
    decision: str
    next_action: str = "iterate"        # iterate | pivot | report
    milestone: str = ""


@dataclass(slots=True)
class ThinkContext:
    cycle: int
    brief: str
    memory: str
    directive: str
    pivot: str
    lineage: str
    running: list[Trial]
    free_slots: int
    goal: str
    metric: str


class TrialRunner(Protocol):
    """What EXECUTE gets for one trial (``execute.Runner``): one gate for the dry-run and the launch.

    ``dry_run`` takes the *launch* command and runs its dry-run form; ``launch`` refuses a command
    whose dry-run has not passed (when experiment.mandatory_dry_run is on), and a second launch.
    """

    trial: Trial
    launched: Trial | None

    @property
    def backend(self) -> Any: ...

    def dry_run_argv(self, argv: list[str]) -> list[str]: ...

    async def dry_run(self, argv: list[str]) -> Any: ...

    def refusal(self, argv: list[str]) -> str: ...

    async def launch(self, argv: list[str]) -> Trial | None: ...


class Planner(Protocol):
    name: str

    async def think(self, ctx: ThinkContext) -> Plan | None: ...

    async def execute(self, plan: Plan, runner: TrialRunner) -> None: ...

    async def reflect(self, trial: Trial, ctx: ThinkContext) -> Reflection: ...

    async def close(self) -> None:
        """Release what the planner holds (an LLM provider's connections)."""


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def render_argv(template: str, params: dict[str, Any]) -> list[str]:
    """Split the template into arguments first, then fill each: a value can never become shell text."""
    def fill(token: str) -> str:
        return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), token)
    return [fill(token) for token in shlex.split(template)]


def dry_run_argv(config: Config, plan_argv: list[str], params: dict[str, Any]) -> list[str]:
    if config.experiment.dry_run_command:
        return render_argv(config.experiment.dry_run_command, params)
    return [*plan_argv, "--dry-run"]


class OfflinePlanner:
    """Grid, random, or best-neighbour search with an exploration bonus, driven by the ledger."""

    name = "offline"

    def __init__(self, config: Config, ledger: Ledger) -> None:
        self.config = config
        self.ledger = ledger
        self.space = config.search.space
        self.keys = list(self.space)

    # THINK ------------------------------------------------------------------

    async def think(self, ctx: ThinkContext) -> Plan | None:
        if not self.config.search.command:
            return None
        forced = self._directive_params(ctx.directive)
        rng = random.Random(self.config.search.seed * 100_003 + ctx.cycle)
        explore = bool(ctx.pivot) or rng.random() < self.config.search.exploration
        tried = {self._key(p) for p in self.ledger.tried_params()}
        best = self.ledger.best(self.config.metric.goal)
        params, why, parent = self._choose(tried, best, forced, explore, rng)
        if params is None:
            return Plan(hypothesis="search space exhausted: every configuration was tried", action="report")
        if ctx.directive:
            why = f"directive: {ctx.directive.strip()[:200]} -> {why}"
        if ctx.pivot:
            why = f"pivot ({ctx.pivot or 'asked'}): {why}"
        metric = self.config.metric
        return Plan(
            hypothesis=why,
            params=params,
            argv=render_argv(self.config.search.command, params),
            task="train with " + " ".join(f"{k}={v}" for k, v in params.items()),
            success_criteria=(f"{metric.name} {'above' if metric.goal == 'max' else 'below'} "
                              f"{best.metric:.6g} ({best.id})" if best else f"a finite {metric.name}"),
            parent=parent,
        )

    def _choose(self, tried, best, forced, explore, rng):
        if not self.keys:
            return None, "", None
        baseline = {k: self.config.search.baseline.get(k, self.space[k][0]) for k in self.keys}
        candidates = self._all(forced)
        untried = [c for c in candidates if self._key(c) not in tried]
        if not untried:
            return None, "", None
        if forced:
            start = {**(best.params if best else baseline), **forced}
            pick = start if self._key(start) not in tried else untried[0]
            return pick, "human directive sets " + ", ".join(f"{k}={v}" for k, v in forced.items()), best.id if best else None
        strategy = self.config.search.strategy
        if self._key(baseline) not in tried:
            return baseline, "baseline configuration first, to have a reference", None
        if strategy == "grid":
            return untried[0], "next point of the grid", None
        if strategy == "random" or best is None or explore:
            pick = rng.choice(untried)
            return pick, "explore: a random untried configuration", best.id if best else None
        neighbours = [n for n in self._neighbours(best.params) if self._key(n) not in tried]
        if not neighbours:
            pick = rng.choice(untried)
            return pick, f"every neighbour of {best.id} was tried: explore elsewhere", best.id
        rng.shuffle(neighbours)
        pick = neighbours[0]
        changed = [k for k in self.keys if pick.get(k) != best.params.get(k)]
        return pick, (f"refine the best ({best.id}): move " +
                      ", ".join(f"{k} {best.params.get(k)} -> {pick[k]}" for k in changed)), best.id

    def _all(self, forced: dict[str, Any]) -> list[dict[str, Any]]:
        axes = [[forced[k]] if k in forced else self.space[k] for k in self.keys]
        return [dict(zip(self.keys, combo)) for combo in itertools.product(*axes)]

    def _neighbours(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for k in self.keys:
            values = self.space[k]
            if params.get(k) not in values:
                continue
            i = values.index(params[k])
            for j in (i - 1, i + 1):
                if 0 <= j < len(values):
                    out.append({**params, k: values[j]})
        return out

    def _directive_params(self, directive: str) -> dict[str, Any]:
        """``lr=0.1`` style settings in a directive pin those parameters (cast like the space's values)."""
        forced: dict[str, Any] = {}
        for key, raw in re.findall(r"\b(\w+)\s*=\s*([^\s,;]+)", directive or ""):
            if key not in self.space:
                continue
            sample = self.space[key][0]
            try:
                forced[key] = type(sample)(raw) if not isinstance(sample, bool) else raw.lower() in ("1", "true", "yes")
            except (TypeError, ValueError):
                forced[key] = raw
        return forced

    def _key(self, params: dict[str, Any]) -> tuple:
        return tuple((k, str(params.get(k))) for k in self.keys)

    # EXECUTE ----------------------------------------------------------------

    async def execute(self, plan: Plan, runner: TrialRunner) -> None:
        """The controller's own dry-run gate, then the launch; a failed dry-run is recorded, not launched."""
        result = await runner.dry_run(plan.argv)
        if result is not None and result.ok:
            await runner.launch(plan.argv)

    async def close(self) -> None:
        """Nothing to release: no network, no process."""

    # REFLECT ----------------------------------------------------------------

    async def reflect(self, trial: Trial, ctx: ThinkContext) -> Reflection:
        metric = self.config.metric.name
        value = "-" if trial.metric is None else f"{trial.metric:.6g}"
        params = " ".join(f"{k}={v}" for k, v in trial.params.items())
        if trial.status == TrialStatus.KEEP:
            decision = f"{trial.id} keep: {metric}={value} is the new best ({params})"
            milestone = f"{trial.id}: {metric}={value} with {params}"
        elif trial.status == TrialStatus.DISCARD:
            decision = f"{trial.id} discard: {metric}={value} did not beat the best ({params})"
            milestone = ""
        else:
            decision = f"{trial.id} {trial.status}: {trial.label or 'no label'} ({params})"
            milestone = ""
        threshold = self.config.agent.no_progress_fallback_threshold
        next_action = "pivot" if threshold and ctx.free_slots >= 0 and _no_progress(self.ledger, threshold) else "iterate"
        return Reflection(decision=decision, next_action=next_action, milestone=milestone)


def _no_progress(ledger: Ledger, threshold: int) -> bool:
    finished = ledger.finished()
    recent = finished[-threshold:]
    return len(recent) >= threshold and all(t.status != TrialStatus.KEEP for t in recent)
