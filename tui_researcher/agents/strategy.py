"""The leader's research strategy: the hypothesis pool it fills and draws from, and the specialist roles.

Why apart from ``leader.py``: the leader asks and checks; this decides which of its proposals
runs (``strategy.selection``), which role thinks this cycle (``agent.specialists``), and keeps a
hypothesis whose implementation fails its dry-run twice from ever reaching a launch.
"""

from __future__ import annotations

from typing import Any

from ..config.models import Specialist
from ..errors import ResearcherError
from ..hypotheses import Choice, Pool
from ..planner import Plan, ThinkContext, TrialRunner
from ..trial import Trial
from ..workbench import Workbench
from .answers import plan_of, proposals_from

ROLE_KEY = "specialist_role"
"""The store's meta key holding the role now thinking; a pivot moves it to the next."""


class Strategy:
    def __init__(self, bench: Workbench) -> None:
        self.bench = bench
        self.config = bench.config
        self.pool: Pool = bench.pool()
        self.pending: Choice | None = None

    # specialists ----------------------------------------------------------------------------------

    def role_for(self, ctx: ThinkContext) -> Specialist | None:
        """The role this THINK plans for: the current one (the next after a pivot), or the first whose
        trial is not running, so parallel slots go to different roles."""
        roles = self.config.agent.specialists
        if not roles:
            return None
        current = int(self.bench.meta(ROLE_KEY) or 0) % len(roles)
        if ctx.pivot:
            current = (current + 1) % len(roles)
            self.bench.set_meta(ROLE_KEY, str(current))
            self.bench.notice(f"pivot: the {roles[current].role} specialist takes over")
        busy = {t.role for t in ctx.running}
        for i in range(len(roles)):
            role = roles[(current + i) % len(roles)]
            if role.role not in busy:
                return role
        return roles[current]

    @staticmethod
    def role_text(role: Specialist | None) -> str:
        if role is None:
            return ""
        return (f"## Your role\nYou are the {role.role} specialist. Focus: {role.focus or role.role}. "
                f"Propose hypotheses within your focus; other specialists cover the rest.")

    # the pool -------------------------------------------------------------------------------------

    def pool_text(self) -> str:
        cfg = self.config.strategy
        return (f"## Hypothesis pool (selection {cfg.selection}; at most {cfg.pool_max}; value = valuation and "
                f"results)\n{self.pool.render()}")

    def select(self, data: dict[str, Any], role: Specialist | None, ctx: ThinkContext) -> Plan:
        """Store the THINK's proposals, then choose the one to run by the configured rule."""
        name = role.role if role else ""
        self.pool.reopen_interrupted(self.bench.trial)
        proposals = proposals_from(data, name)
        ids = self.pool.add(proposals)
        cfg = self.config.strategy
        choice = self.pool.choose(cfg.selection, cfg.ucb_c, roles=(name,) if name else (),
                                  avoid=tuple(t.role for t in ctx.running if t.role))
        if choice is None:      # every proposal retired at once (a pool_max of 1): run the first as asked
            self.pending = None
            return plan_of(proposals[0].text, proposals[0].plan, name)
        self.pending = choice
        h = choice.hypothesis
        parts = ", ".join(f"{k}={v}" for k, v in choice.parts.items() if k in ("prior", "mean", "bonus", "score"))
        self.bench.notice(f"THINK proposed {len(ids)} hypothesis(es) (h{ids[0]}..h{ids[-1]}); chose h{h.id} by "
                          f"{choice.rule}" + (f" ({parts})" if choice.rule == "ucb" else ""))
        return plan_of(h.text, h.plan, h.role)

    def gate(self, runner: TrialRunner) -> TrialRunner:
        """The runner the code worker gets: the chosen hypothesis's dry-run failures are counted."""
        choice, self.pending = self.pending, None
        if choice is None:
            return runner
        self.pool.started(choice, runner.trial.id)
        return PoolRunner(runner, self.pool, choice.hypothesis.id, self.bench)

    def finished(self, trial: Trial) -> None:
        self.pool.finished(trial)


class PoolRunner:
    """A trial runner that retires its hypothesis at the second failed dry-run: no launch follows."""

    def __init__(self, runner: TrialRunner, pool: Pool, hid: int, bench: Workbench) -> None:
        self.runner, self.pool, self.hid, self.bench = runner, pool, hid, bench
        self.retired = ""

    @property
    def trial(self) -> Trial:
        return self.runner.trial

    @property
    def launched(self) -> Trial | None:
        return self.runner.launched

    @property
    def backend(self) -> Any:
        return self.runner.backend

    def dry_run_argv(self, argv: list[str]) -> list[str]:
        return self.runner.dry_run_argv(argv)

    async def dry_run(self, argv: list[str]) -> Any:
        if self.retired:
            raise ResearcherError(self.retired)
        result = await self.runner.dry_run(argv)
        if result is not None and not result.ok and self.pool.dry_run_failed(self.hid):
            self.retired = (f"hypothesis h{self.hid} retired: its dry-run failed twice; no training run "
                            f"(the pool chooses another next cycle)")
            self.bench.notice(f"{self.trial.id}: {self.retired}", "warning")
            raise ResearcherError(self.retired)
        return result

    def refusal(self, argv: list[str]) -> str:
        return self.retired or self.runner.refusal(argv)

    async def launch(self, argv: list[str]) -> Trial | None:
        if self.retired:
            raise ResearcherError(self.retired)
        return await self.runner.launch(argv)
