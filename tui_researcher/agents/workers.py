"""Workers: a model with three to five tools, one task, and a turn cap.

A dispatch is a plain loop (ask, run the tool calls, send the results back) that ends when the
model stops calling tools, when it reaches ``agent.max_steps_per_cycle``, or, for the code
worker, the moment a launch succeeds: no provider request is made while training runs.
Every call and result is an event and goes into the trial's ledger record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Awaitable, Callable, TypeVar

from ..errors import ResearcherError
from ..events import Phase, PhaseChanged, ToolCalled, ToolReturned
from ..money import usd
from ..trial import Trial
from ..workbench import Workbench
from .providers import Conversation, Provider, Reply, ToolResult, ToolSpec, cache_key
from .providers.retry import Retry
from .tools import Toolbox, elapsed, summarize_args
from .usage import Price, TokenUsage, cost, price_for


T = TypeVar("T")


def prompt(name: str) -> str:
    return resources.files("tui_researcher.agents").joinpath("prompts", name).read_text(encoding="utf-8").strip()


@dataclass(frozen=True)
class WorkerSpec:
    name: str
    prompt_file: str
    tools: tuple[str, ...]


WORKERS = {
    "code": WorkerSpec("code", "code_worker.md",
                       ("run_shell", "launch_experiment", "write_file", "read_file", "list_files")),
    "idea": WorkerSpec("idea", "idea_worker.md", ("search_papers", "read_file", "write_file")),
    "writing": WorkerSpec("writing", "writing_worker.md", ("read_file", "write_file", "list_files")),
}


class Agent:
    """The provider plus the accounting every request goes through (usage after each), and what a
    retry shows: a notice with its wait, and the ``backoff`` phase while it waits.

    The daily cap is not checked per request: the controller checks it before a THINK or a
    REFLECT begins, and a phase begun under the cap finishes (a code worker's dispatch is never
    cut between its dry-run and its launch; the overshoot is one phase's requests at most)."""

    def __init__(self, bench: Workbench, provider: Provider, pricing: dict[str, Price]) -> None:
        self.bench = bench
        self.provider = provider
        self.pricing = pricing
        self.price = price_for(provider.model, pricing)
        self.spent = TokenUsage()
        self.spent_usd = 0.0
        self._warned_price = False
        self.project = bench.config.project.name or bench.paths.root.name
        self.phase = PhaseChanged(phase=Phase.THINK, cycle=0)
        """The phase a retry's backoff interrupts, shown again when the wait is over."""
        provider.on_retry = self._retrying

    def enter(self, phase: Phase, cycle: int, detail: str = "") -> None:
        self.phase = PhaseChanged(phase=phase, cycle=cycle, detail=detail)

    def _retrying(self, retry: Retry | None) -> None:
        if retry is None:
            self.bench.emit(PhaseChanged(phase=self.phase.phase, cycle=self.phase.cycle, detail=self.phase.detail))
            return
        wait = f"{retry.wait_s:.1f}s" + (" (retry-after)" if retry.asked else "")
        self.bench.notice(f"{retry.why}; retry {retry.number} of {retry.of} in {wait}", "warning")
        self.bench.emit(PhaseChanged(phase=Phase.BACKOFF, cycle=self.phase.cycle,
                                     detail=f"{self.provider.name} retry {retry.number}/{retry.of} in {wait}"))

    def conversation(self, role: str, system: str, tools: list[ToolSpec], *, rolling: bool = True) -> Conversation:
        """A conversation whose cache key is this project's and ``role``'s, the same every cycle."""
        return self.provider.conversation(system, tools, cache_key=cache_key(self.project, role), rolling=rolling)

    async def ask(self, conv: Conversation, *, max_tokens: int = 4096) -> Reply:
        reply = await conv.send(max_tokens=max_tokens)
        self._account(reply.usage, reply.usd)
        return reply

    async def closing(self, conv: Conversation, answer: Awaitable[T],
                      stop: Callable[[], bool] = lambda: False) -> T:
        """``answer``, then ``conv`` ended: at once on a failure or when ``stop()`` says so (a launch:
        no request while training runs), else its CLI (if one) finishes its turn."""
        try:
            result = await answer
        except BaseException:
            await self.end(conv, stop=True)
            raise
        await self.end(conv, stop=stop())
        return result

    async def end(self, conv: Conversation, *, stop: bool = False) -> None:
        """The conversation is over; what it used since its last reply (a CLI's last turn) is counted."""
        tail = await conv.end(stop=stop)
        if tail.text:
            self.bench.notice(tail.text, "warning")
        if tail.usage.total or tail.usd:
            self._account(tail.usage, tail.usd)

    def report(self, what: str) -> None:
        """One notice with what ``what`` cost since the last report (the controller sums totals and days)."""
        if self.spent.total:
            self.bench.notice(f"{what}: {self.spent.total:,} tokens ({self.spent.input:,} in, "
                                   f"{self.spent.output:,} out, {self.spent.cache_read:,} cache read, "
                                   f"{self.spent.cache_write:,} cache write), {usd(self.spent_usd)}")
        self.spent, self.spent_usd = TokenUsage(), 0.0

    def _account(self, usage: TokenUsage, given_usd: float | None = None) -> None:
        if self.price is None and self.provider.model:   # a CLI's own default, named once it has run
            self.price = price_for(self.provider.model, self.pricing)
        if self.price is None and given_usd is None and not self._warned_price and usage.total:
            self._warned_price = True
            model = repr(self.provider.model) if self.provider.model else "(the CLI's default, unnamed)"
            self.bench.notice(f"no price known for model {model}: its cost counts as $0; "
                                   f"set agent.pricing to enforce agent.max_usd_per_day", "warning")
        usd = cost(usage, self.price) if given_usd is None else given_usd
        self.spent += usage
        self.spent_usd += usd
        self.bench.add_usage(input_tokens=usage.input, output_tokens=usage.output,
                                  cache_read_tokens=usage.cache_read, cache_write_tokens=usage.cache_write, usd=usd)


@dataclass
class Outcome:
    text: str = ""
    steps: int = 0
    launched: Trial | None = None
    capped: bool = False
    calls: list[dict] = field(default_factory=list)


async def run_worker(agent: Agent, spec: WorkerSpec, task: str, toolbox: Toolbox, *,
                     trial: Trial | None = None, system_extra: str = "") -> Outcome:
    """One dispatch; the trial (when there is one) gets every call in its ledger record."""
    bench = agent.bench
    max_steps = max(1, bench.config.agent.max_steps_per_cycle)
    system = prompt(spec.prompt_file) + (f"\n\n{system_extra}" if system_extra else "")
    conv = agent.conversation(f"{spec.name} worker", system, toolbox.specs)
    conv.add_user(task)
    outcome = Outcome()
    await agent.closing(conv, _dispatch(agent, spec, conv, toolbox, trial, outcome, max_steps),
                        stop=lambda: outcome.launched is not None)
    return outcome


async def _dispatch(agent: Agent, spec: WorkerSpec, conv: Conversation, toolbox: Toolbox, trial: Trial | None,
                    outcome: Outcome, max_steps: int) -> None:
    bench = agent.bench
    for step in range(1, max_steps + 1):
        outcome.steps = step
        reply = await agent.ask(conv)
        outcome.text = reply.text or outcome.text
        if not reply.tool_calls:
            return
        results = []
        for call in reply.tool_calls:
            results.append(await _run_call(bench, spec.name, toolbox, call, trial, outcome))
            if toolbox.launched is not None:
                outcome.launched = toolbox.launched
                return              # the launch ends the dispatch: no request while training runs
        left = max_steps - step
        note = ("This was your last step: stop calling tools and say in one line what is done and what is not."
                if left == 1 else "")
        if left:
            conv.add_tool_results(results, note)
    outcome.capped = True


async def _run_call(bench: Workbench, worker: str, toolbox: Toolbox, call: Any, trial: Trial | None,
                    outcome: Outcome) -> ToolResult:
    trial_id = trial.id if trial else ""
    args = summarize_args(call.arguments) if call.arguments is not None else {"raw": call.raw[:200]}
    bench.emit(ToolCalled(call_id=call.id, tool=call.name, args=args, trial_id=trial_id))
    started = time.monotonic()
    try:
        ok, text = await toolbox.call(call.name, call.arguments, call.error)
    except ResearcherError as exc:      # the dispatch ends here (a retired hypothesis): the call still returns
        bench.emit(ToolReturned(call_id=call.id, tool=call.name, ok=False, result=str(exc)[:500],
                                duration_s=elapsed(started), trial_id=trial_id))
        if trial is not None:
            bench.tool_call(trial, {"worker": worker, "tool": call.name, "args": args, "ok": False,
                                    "result": str(exc)[:300], "duration_s": elapsed(started)})
        raise
    duration = elapsed(started)
    bench.emit(ToolReturned(call_id=call.id, tool=call.name, ok=ok, result=text[:500], duration_s=duration,
                                 trial_id=trial_id))
    record = {"worker": worker, "tool": call.name, "args": args, "ok": ok, "result": text[:300],
              "duration_s": duration}
    if ok and call.name == "write_file" and toolbox.last_diff:
        record["diff"], toolbox.last_diff = toolbox.last_diff, ""
    outcome.calls.append(record)
    if trial is not None:
        bench.tool_call(trial, record)
    return ToolResult(call=call, content=text, is_error=not ok)
