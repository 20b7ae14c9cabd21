"""The LLM leader: THINK and REFLECT as schema-checked tool calls, EXECUTE through workers.

The leader never sees the whole ledger: its input is the brief, the memory log, the directive and
a compact lineage slice, so its size does not grow with the run. Its answers are tool calls
checked against a schema; an invalid answer (or none) gets exactly one repair request, and a
second is a planning failure (the controller backs off). No action is ever guessed from free
text. The answer tool is offered alone but not forced: the newest Claude models answer a forced
``tool_choice`` with a 400, so the prompt asks for the call and the check enforces it. The
answers' schemas and their checks are one definition (``answers.py``).
"""

from __future__ import annotations

from typing import Any, Callable

from ..backends.base import Backend
from ..errors import ResearcherError
from ..events import Phase
from ..planner import Plan, Reflection, ThinkContext, TrialRunner
from ..trial import Trial, TrialStatus
from ..workbench import Workbench
from .answers import (SUBMIT_PLAN, SUBMIT_REFLECTION, plan_from, reflection_from, validate_plan,
                      validate_reflection, wants_ideas)
from .providers import Conversation, Provider, ToolCall, ToolResult, ToolSpec
from .tools import Toolbox, ToolPolicy
from .usage import Price
from .strategy import Strategy
from .workers import WORKERS, Agent, Outcome, prompt, run_worker

# the leader's input ----------------------------------------------------------------------------

def leader_input(ctx: ThinkContext) -> str:
    """Brief, memory, directive, pivot and a compact lineage: bounded whatever the run's length."""
    return "\n\n".join(leader_parts(ctx))


def leader_parts(ctx: ThinkContext) -> tuple[str, str]:
    """The brief, byte-identical every cycle so the provider caches it, and what changes after it."""
    memory = ctx.memory.replace("# Memory Log\n", "").strip()
    parts = [f"## Memory\n{memory}"]
    if ctx.directive:
        parts.append(f"## Human directive (follow it)\n{ctx.directive.strip()}")
    if ctx.pivot:
        parts.append(f"## Pivot requested\n{ctx.pivot}: change direction, not a small variation of the best")
    parts.append(f"## Trials\n{ctx.lineage}")
    running = ", ".join(f"{t.id} ({t.hypothesis[:60]})" for t in ctx.running) or "none"
    better = "higher" if ctx.goal == "max" else "lower"
    parts.append(f"## Now\ncycle {ctx.cycle}; metric {ctx.metric} ({better} is better); running: {running}; "
                 f"free slots: {ctx.free_slots}")
    return f"## Brief\n{ctx.brief.strip() or '(no brief)'}", "\n\n".join(parts)


def reflect_input(trial: Trial, ctx: ThinkContext, metric: str, no_progress: int, threshold: int) -> str:
    value = "-" if trial.metric is None else f"{trial.metric:.6g}"
    params = " ".join(f"{k}={v}" for k, v in trial.params.items()) or "-"
    dry = trial.dry_run
    lines = [f"## Trial {trial.id}", f"hypothesis: {trial.hypothesis}", f"success criteria: {trial.success_criteria}",
             f"command: {trial.command or '-'}", f"params: {params}",
             f"status: {trial.status}{f' ({trial.label})' if trial.label else ''}",
             f"{metric}: {value}" + (f"; other metrics: {_metrics(trial)}" if len(trial.metrics) > 1 else ""),
             f"duration: {trial.duration if trial.duration is not None else '-'}s"]
    if dry:
        lines.append(f"dry-run: {'ok' if dry.get('ok') else 'failed'} (exit {dry.get('exit_code')})")
    if threshold and no_progress >= threshold:
        lines.append(f"no improvement in the last {no_progress} trials")
    memory = ctx.memory.replace("# Memory Log\n", "").strip()
    return "\n".join(lines) + f"\n\n## Trials\n{ctx.lineage}\n\n## Memory\n{memory}"


def _metrics(trial: Trial) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in list(trial.metrics.items())[:8])


# the planner -----------------------------------------------------------------------------------

class LLMPlanner:
    """THINK, EXECUTE and REFLECT through one provider; replaces the offline planner, nothing else."""

    def __init__(self, bench: Workbench, provider: Provider, pricing: dict[str, Price], policy: ToolPolicy, *,
                 role_providers: dict[str, Provider] | None = None) -> None:
        self.bench = bench
        self.config = bench.config
        self.agent = self.main = Agent(bench, provider, pricing)
        self.role_agents = {role: Agent(bench, p, pricing) for role, p in (role_providers or {}).items()}
        """Specialists with a model of their own: their THINK and their trials' code worker use it."""
        self.policy = policy
        self.name = f"{provider.name}:{provider.model}"
        self._idea_calls: list[dict] = []
        self.strategy = Strategy(bench)

    # THINK -------------------------------------------------------------------------------------

    async def think(self, ctx: ThinkContext) -> Plan | None:
        self._idea_calls = []
        role = self.strategy.role_for(ctx)
        self.agent = self.role_agents.get(role.role if role else "", self.main)
        self.agent.enter(Phase.THINK, ctx.cycle)
        conv = self.agent.conversation(f"leader think{f' {role.role}' if role else ''}", prompt("leader_think.md"),
                                       [SUBMIT_PLAN], rolling=False)
        brief, changing = leader_parts(ctx)
        extra = [t for t in (self.strategy.role_text(role), self.strategy.pool_text()) if t]
        conv.add_user("\n\n".join([changing, *extra]), stable=brief)
        data = await self.agent.closing(conv, self._think(conv))
        plan = plan_from(data)
        if plan.action == "report":
            await self._write_report(None, plan.hypothesis)
        elif plan.action == "experiment":
            plan = self.strategy.select(data, role, ctx)
        return plan

    async def _think(self, conv: Conversation) -> dict[str, Any]:
        known = lambda tid: self.bench.trial(tid) is not None  # noqa: E731
        data, calls = await self._structured(conv, SUBMIT_PLAN, lambda a: validate_plan(a, known_trial=known),
                                             "THINK")
        if wants_ideas(data):
            notes = await self._consult_ideas(data)
            conv.add_tool_results([ToolResult(c, f"Idea worker's notes:\n{notes}" if i == 0 else "ignored: one plan")
                                   for i, c in enumerate(calls)],
                                  "Now submit the plan for this cycle: worker code, or action wait or report.")
            data, _ = await self._structured(
                conv, SUBMIT_PLAN, lambda a: validate_plan(a, known_trial=known, allow_idea=False), "THINK")
        return data

    async def _structured(self, conv: Conversation, spec: ToolSpec, validate: Callable[[dict], list[str]],
                          phase: str) -> tuple[dict[str, Any], list[ToolCall]]:
        """A schema-valid call of ``spec`` (and every call of that reply, the valid one first): one repair
        request, then a planning failure."""
        errors: list[str] = []
        for attempt in (1, 2):
            reply = await self.agent.ask(conv, max_tokens=2048)
            call = next((c for c in reply.tool_calls if c.name == spec.name), None)
            if call is None:
                said = f" (it wrote: {reply.text[:120]!r})" if reply.text else ""
                errors = [f"no {spec.name} call in the reply{said}"]
            elif call.arguments is None:
                errors = [call.error]
            else:
                errors = validate(call.arguments)
                if not errors:
                    return call.arguments, [call, *(c for c in reply.tool_calls if c is not call)]
            why = "; ".join(errors)
            if attempt == 2:
                raise ResearcherError(f"{phase}: invalid answer after one repair request: {why}")
            self.bench.notice(f"{phase}: invalid answer ({why}); asking once for a valid one", "warning")
            repair = f"Your answer was invalid: {why}. Call {spec.name} again with valid arguments."
            if reply.tool_calls:
                conv.add_tool_results([ToolResult(c, f"invalid: {why}", True) for c in reply.tool_calls], repair)
            else:
                conv.add_user(repair)
        raise AssertionError("unreachable")

    async def _consult_ideas(self, data: dict[str, Any]) -> str:
        toolbox = Toolbox(self.bench, self._backend(), self.policy, WORKERS["idea"].tools)
        task = f"{data.get('task') or data['hypothesis']}\n\nWhy the leader asks: {data['hypothesis']}"
        outcome = await run_worker(self.agent, WORKERS["idea"], task, toolbox)
        self._idea_calls = outcome.calls
        notes = (outcome.text or "(the idea worker returned no notes)")[:1500]
        self._remember(f"ideas: {notes.splitlines()[0][:200]}")
        return notes + ("\n(the idea worker reached its turn cap)" if outcome.capped else "")

    # EXECUTE -----------------------------------------------------------------------------------

    async def execute(self, plan: Plan, runner: TrialRunner) -> None:
        trial = runner.trial
        self.agent = self.role_agents.get(trial.role, self.main)
        self.agent.enter(Phase.EXECUTE, trial.cycle)
        for call in self._idea_calls:
            self.bench.tool_call(trial, call)
        self._idea_calls = []
        runner = self.strategy.gate(runner)
        toolbox = Toolbox(self.bench, runner.backend, self.policy, WORKERS["code"].tools, runner=runner)
        try:
            outcome = await run_worker(self.agent, WORKERS["code"], self._code_task(plan, trial), toolbox,
                                       trial=trial, system_extra=self._dry_run_hint())
        finally:
            self.agent.report(f"{trial.id} THINK and EXECUTE used")
        if outcome.launched is None:
            self._no_launch(trial, outcome)

    def _code_task(self, plan: Plan, trial: Trial) -> str:
        metric = self.config.metric
        best = self.bench.best()
        params = " ".join(f"{k}={v}" for k, v in plan.params.items())
        lines = [f"Trial {trial.id}. Task: {plan.task}", f"Hypothesis: {plan.hypothesis}",
                 f"Success: {plan.success_criteria or 'better than the best so far'}"]
        if params:
            lines.append(f"Params: {params}")
        lines.append(f"Metric: {metric.name} ({'higher' if metric.goal == 'max' else 'lower'} is better), read by "
                     f"the controller from the training log (runs/{trial.id}/train.log). Best so far: "
                     + (f"{best.id} {metric.name}={best.metric:.6g} ({best.command})" if best else "none"))
        lines.append(f"\n## Trials\n{self.bench.lineage()}")
        if plan.parent:
            diff = self.bench.diff(plan.parent)
            lines.append(f"\n## The parent trial {plan.parent}'s diff\n" + (diff or "(it changed no file: "
                                                                              "only its command and params)"))
        return "\n".join(lines)

    def _dry_run_hint(self) -> str:
        template = self.config.experiment.dry_run_command
        form = f"`{template}` (filled with the trial's params)" if template else "the command with --dry-run appended"
        return f"The dry-run of a command is {form}."

    def _no_launch(self, trial: Trial, outcome: Outcome) -> None:
        steps = self.config.agent.max_steps_per_cycle
        if outcome.capped:
            why = f"code worker reached the turn cap (agent.max_steps_per_cycle={steps}) without a launch"
        else:
            why = f"code worker ended without a launch: {outcome.text[:200] or 'no reason given'}"
        self.bench.notice(f"{trial.id}: {why}", "warning")
        if not trial.finished and not trial.label:   # a failed dry-run's label says more
            trial.label = why
            self.bench.record(trial, "tool")

    # REFLECT -----------------------------------------------------------------------------------

    async def reflect(self, trial: Trial, ctx: ThinkContext) -> Reflection:
        self.strategy.finished(trial)     # the pool counts the result before any request that may fail
        self.agent = self.main
        self.agent.enter(Phase.REFLECT, ctx.cycle, trial.id)
        conv = self.agent.conversation("leader reflect", prompt("leader_reflect.md"), [SUBMIT_REFLECTION],
                                       rolling=False)
        no_progress = 0 if trial.status == TrialStatus.KEEP else self.bench.no_progress + 1
        conv.add_user(reflect_input(trial, ctx, self.config.metric.name, no_progress,
                                    self.config.agent.no_progress_fallback_threshold))
        answer = self._structured(conv, SUBMIT_REFLECTION, validate_reflection, "REFLECT")
        data, _ = await self.agent.closing(conv, answer)
        reflection = reflection_from(data)
        if reflection.next_action == "report":
            try:
                await self._write_report(trial, reflection.decision)
            except ResearcherError as exc:
                self.bench.notice(f"the report was not written: {exc}", "error")
        self.agent.report(f"{trial.id} REFLECT used")
        return reflection

    async def close(self) -> None:
        """Release the provider's connections (the CLI process ends anyway; tests run many loops)."""
        for agent in (self.main, *self.role_agents.values()):
            await agent.provider.close()

    # reports and memory ---------------------------------------------------------------------------

    async def _write_report(self, trial: Trial | None, why: str) -> None:
        toolbox = Toolbox(self.bench, self._backend(), self.policy, WORKERS["writing"].tools)
        outcome = await run_worker(self.agent, WORKERS["writing"], self._report_task(why), toolbox, trial=trial)
        self.bench.notice(f"writing worker: {(outcome.text or 'done')[:200]}")

    def _report_task(self, why: str) -> str:
        return (f"Write report.md: the research report of this project ({why}).\n\n"
                f"The facts, from the ledger (the same as `tui-researcher report` writes; use these numbers):\n\n"
                f"{self.bench.report_facts()}\n\nMemory:\n{self.bench.memory_text()}")

    def _backend(self) -> Backend:
        return self.bench.host

    def _remember(self, text: str) -> None:
        self.bench.remember(text)
