"""Plans, reflections, the planner protocol, and the offline planner that needs no key and no network.

The offline planner is a search strategy over ``search.space``: it proposes the next
configuration from the ledger, the controller dry-runs and launches it. LLM leaders replace
``think``/``execute``/``reflect``; the rest of the loop stays as it is.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Protocol

from .config import Config
from .config.models import PLACEHOLDER, SEED
from .ledger import Ledger, params_key
from .tpe import tpe_choice
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
    role: str = ""
    """The specialist role (agent.specialists) whose hypothesis this is."""

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




def render_argv(template: str, params: dict[str, Any]) -> list[str]:
    """Split the template into arguments first, then fill each: a value can never become shell text."""
    def fill(token: str) -> str:
        return PLACEHOLDER.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), token)
    return [fill(token) for token in shlex.split(template)]


def with_seed(argv: list[str], seed: int | None) -> list[str]:
    """``{seed}`` filled with the trial's seed: 0, or a seed re-run's own."""
    return [PLACEHOLDER.sub(lambda m: str(seed or 0) if m.group(1) == SEED else m.group(0), a) for a in argv]


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
        self.grid_from: dict[tuple, int] = {}
        """Per set of pinned values, how far grid order is known to be tried (the ledger only grows)."""
        self.tpe = None
        """search.strategy tpe: its study (``tpe.TPESearch``), rebuilt from the ledger at the first THINK."""

    # THINK ------------------------------------------------------------------

    async def think(self, ctx: ThinkContext) -> Plan | None:
        if not self.config.search.command:
            return None
        forced = self._directive_params(ctx.directive)
        rng = random.Random(self.config.search.seed * 100_003 + ctx.cycle)
        explore = bool(ctx.pivot) or rng.random() < self.config.search.exploration
        best = self.ledger.best(self.config.metric.goal)
        params, why, parent = self._choose(best, forced, explore, rng)
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

    def _choose(self, best, forced, explore, rng):
        """Which configurations were tried is asked of the ledger's index, for candidates only."""
        if not self.keys:
            return None, "", None
        baseline = {k: self.config.search.baseline.get(k, self.space[k][0]) for k in self.keys}
        start = {**(best.params if best else baseline), **forced}
        neighbours = self._neighbours(best.params) if best else []
        tried = self.ledger.tried(self._norm(c) for c in [baseline, start, *neighbours])
        pool = _Untried(self, forced, rng)
        if pool.exhausted():
            return None, "", None
        if forced:
            pick = start if self._key(start) not in tried else pool.first()
            return pick, "human directive sets " + ", ".join(f"{k}={v}" for k, v in forced.items()), best.id if best else None
        strategy = self.config.search.strategy
        if self._key(baseline) not in tried:
            return baseline, "baseline configuration first, to have a reference", None
        if strategy == "grid":
            return pool.first(), "next point of the grid", None
        if strategy == "tpe":
            return tpe_choice(self, pool, best)
        probe = self._probe_number() if strategy == "best_neighbour" else 0
        if probe:
            return (pool.any(), f"random probe {probe} of {self.config.search.random_probes} before refining the best",
                    best.id if best else None)
        if strategy == "random" or best is None or explore:
            return pool.any(), "explore: a random untried configuration", best.id if best else None
        neighbours = [n for n in neighbours if self._key(n) not in tried]
        if not neighbours:
            return pool.any(), f"every neighbour of {best.id} was tried: explore elsewhere", best.id
        rng.shuffle(neighbours)
        pick = neighbours[0]
        changed = [k for k in self.keys if pick.get(k) != best.params.get(k)]
        return pick, (f"refine the best ({best.id}): move " +
                      ", ".join(f"{k} {best.params.get(k)} -> {pick[k]}" for k in changed)), best.id

    def _probe_number(self) -> int:
        """Which of search.random_probes this trial is (1, 2, ...), or 0 once they are done: a few
        random points after the baseline, so refining does not start from the baseline's corner."""
        counts = self.ledger.counts()
        planned = sum(counts.values()) - counts.get("seed_run", 0) - counts.get("interrupted", 0)
        return planned if 1 <= planned <= self.config.search.random_probes else 0

    def _axes(self, forced: dict[str, Any]) -> list[list[Any]]:
        return [[forced[k]] if k in forced else self.space[k] for k in self.keys]

    def _norm(self, params: dict[str, Any]) -> dict[str, Any]:
        return {k: params.get(k) for k in self.keys}

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

    def _key(self, params: dict[str, Any]) -> str:
        return params_key({k: params.get(k) for k in self.keys})

    # EXECUTE ----------------------------------------------------------------

    async def execute(self, plan: Plan, runner: TrialRunner) -> None:
        """The controller's own dry-run gate, then the launch; a failed dry-run is recorded, not launched.

        With experiment.mandatory_dry_run off the launch goes straight on: the person asked for no dry-run.
        """
        if not self.config.experiment.mandatory_dry_run:
            await runner.launch(plan.argv)
            return
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
        elif trial.status == TrialStatus.DISCARD:
            why = trial.label or "did not beat the best"
            decision = f"{trial.id} discard: {metric}={value}: {why} ({params})"
        else:
            decision = f"{trial.id} {trial.status}: {trial.label or 'no label'} ({params})"
        threshold = self.config.agent.no_progress_fallback_threshold
        next_action = "pivot" if threshold and ctx.free_slots >= 0 and _no_progress(self.ledger, threshold) else "iterate"
        # no milestone: the controller writes the result line from the ledger (facts.py)
        return Reflection(decision=decision, next_action=next_action)


class _Untried:
    """Untried configurations of the space, found without listing every trial.

    A space of up to ``SMALL_SPACE`` points is listed whole (one indexed query for all of it);
    a larger one is sampled at random, or walked in grid order a chunk at a time, so a THINK
    costs the same at the 100th trial and the 100,000th.
    """

    SMALL_SPACE = 5_000
    CHUNK = 500

    def __init__(self, planner: OfflinePlanner, forced: dict[str, Any], rng: random.Random) -> None:
        self.planner, self.rng = planner, rng
        self.axes = planner._axes(forced)
        self.size = math.prod(len(a) for a in self.axes)
        self._listed: list[dict[str, Any]] | None = None
        self._first: dict[str, Any] | None = None
        self._searched = False

    def _untried(self, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
        tried = self.planner.ledger.tried(candidates)
        return [c for c in candidates if self.planner._key(c) not in tried]

    def _list(self) -> list[dict[str, Any]]:
        if self._listed is None:
            self._listed = self._untried([dict(zip(self.planner.keys, c)) for c in itertools.product(*self.axes)])
        return self._listed

    def exhausted(self) -> bool:
        if self.size <= self.SMALL_SPACE:
            return not self._list()
        return len(self.planner.ledger) >= self.size and self.first() is None

    def first(self) -> dict[str, Any] | None:
        """The first untried point in grid order, walking on from where the last walk stopped."""
        if self.size <= self.SMALL_SPACE:
            listed = self._list()
            return listed[0] if listed else None
        if not self._searched:
            self._searched = True
            cursor_key = tuple(len(a) if len(a) > 1 else a[0] for a in self.axes)
            start = self.planner.grid_from.get(cursor_key, 0)
            combos = itertools.islice(itertools.product(*self.axes), start, None)
            while self._first is None and (chunk := list(itertools.islice(combos, self.CHUNK))):
                found = self._untried([dict(zip(self.planner.keys, c)) for c in chunk])
                self._first = found[0] if found else None
                start += 0 if found else len(chunk)
            self.planner.grid_from[cursor_key] = start
        return self._first

    def any(self) -> dict[str, Any] | None:
        if self.size <= self.SMALL_SPACE:
            listed = self._list()
            return self.rng.choice(listed) if listed else None
        for _ in range(8):
            batch = [{k: self.rng.choice(a) for k, a in zip(self.planner.keys, self.axes)} for _ in range(64)]
            found = self._untried(batch)
            if found:
                return found[0]
        return self.first()


def _no_progress(ledger: Ledger, threshold: int) -> bool:
    recent = ledger.recent(threshold, finished=True)
    return len(recent) >= threshold and all(t.status != TrialStatus.KEEP for t in recent)
