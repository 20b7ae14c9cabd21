"""The --no-ui face: one stable, greppable, timestamped line per event.

Format: ``HH:MM:SS KIND  key=value ...  free text``; KIND is the event's ``kind`` in capitals.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from .controller import Controller
from .events import (
    Event,
    MemoryChanged,
    MonitorSample,
    Notice,
    PhaseChanged,
    PlanProposed,
    Quit,
    Reflected,
    ToolCalled,
    ToolReturned,
    TrialFinished,
    TrialLaunched,
    UsageChanged,
)
from .formats import format_duration
from .progress import Progress
from .money import usd
from .status import open_store
from .textsafe import inert


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def format_event(event: Event, *, verbose: bool = False) -> list[str]:
    """The lines one event prints as (none for events too chatty to print)."""
    stamp = time.strftime("%H:%M:%S", time.localtime(event.ts))
    return [f"{stamp} {kind:<8} {text}" for kind, text in _entries(event, verbose)]


def _entries(event: Event, verbose: bool) -> list[tuple[str, str]]:
    if isinstance(event, PhaseChanged):
        detail = f" ({event.detail})" if event.detail else ""
        return [("PHASE", f"cycle={event.cycle} phase={event.phase.replace(' ', '_')}{detail}")]
    if isinstance(event, PlanProposed):
        params = " ".join(f"{k}={v}" for k, v in event.params.items())
        role = f" role={event.role}" if event.role else ""
        out = [("PLAN", f"trial={event.trial_id} cycle={event.cycle}{role} {params}  {event.hypothesis}")]
        if event.command:
            out.append(("PLAN", f"trial={event.trial_id} command: {event.command}"))
        return out
    if isinstance(event, ToolCalled):
        args = ", ".join(f"{k}={str(v)[:60]!r}" for k, v in event.args.items())
        return [("TOOL", f"call={event.call_id} {event.tool}({args})")]
    if isinstance(event, ToolReturned):
        status = "ok" if event.ok else "error"
        return [("TOOL", f"call={event.call_id} {event.tool} -> {status} {len(event.result)} chars "
                         f"in {event.duration_s:.2f}s")]
    if isinstance(event, TrialLaunched):
        gpus = f" gpus={','.join(map(str, event.gpus))}" if event.gpus else ""
        handle = f"job={event.job_id}" if event.job_id else f"pid={event.pid}"
        verb = "REATTACH" if event.reattached else "LAUNCH"
        return [(verb, f"trial={event.trial_id} host={event.host} {handle}{gpus} log={event.log_path}")]
    if isinstance(event, MonitorSample):
        return _sample_entries(event, verbose)
    if isinstance(event, TrialFinished):
        label = f"  {event.label}" if event.label else ""
        duration = f" duration={event.duration_s:.1f}s" if event.duration_s is not None else ""
        own = " self_reported" if event.self_reported else ""
        return [("FINISH", f"trial={event.trial_id} status={event.status} metric={_fmt(event.metric)}{own} "
                           f"best={_fmt(event.best)}{duration}{label}")]
    if isinstance(event, Reflected):
        return [("REFLECT", f"trial={event.trial_id} next={event.next_action}  {event.decision}")]
    if isinstance(event, MemoryChanged):
        return [("MEMORY", f"chars={len(event.text)}")]
    if isinstance(event, UsageChanged):
        return [("USAGE", f"tokens_today={event.tokens_today} usd_today={usd(event.usd_today)}")]
    if isinstance(event, Notice):
        return [(event.level.upper(), event.text)]
    return []


def _sample_entries(event: MonitorSample, verbose: bool) -> list[tuple[str, str]]:
    out = []
    for t in event.trials:
        job = f" job={t.job_id} state={t.state}" if t.job_id else ""
        reason = f" reason={t.reason}" if t.reason else ""
        where = Progress.from_dict(t.progress)
        progress = f" {where.text()}" if where else ""
        out.append(("MONITOR", f"trial={t.trial_id} host={event.host}{job}{reason} alive={str(t.alive).lower()} "
                               f"elapsed={t.elapsed_s:.0f}s{progress} log_bytes={t.log_bytes}"))
    if not event.reachable:
        out.append(("MONITOR", f"host={event.host} unreachable: {event.gpu_error}"))
    for g in event.gpus if verbose else ():
        out.append(("GPU", f"host={event.host} gpu={g.index} util={_fmt(g.utilization)}% "
                           f"mem={_fmt(g.memory_used_mb)}/{_fmt(g.memory_total_mb)}MB"))
    out.extend(("LOG", f"trial={tid} | {inert(text)}") for tid, text in event.lines)
    return out


async def run_headless(controller: Controller, *, out: TextIO = sys.stdout, verbose: bool = False) -> int:
    """Print events until the loop ends. SIGINT/SIGTERM: the loop stops within a second, leaving
    training running; a second one stops it for certain, whatever the first is waiting for.

    The command is sent before anything is printed: under ``| tee`` a Ctrl-C also kills the pipe's
    reader, and a print to a dead pipe must not keep the loop running.
    """
    loop = asyncio.get_running_loop()
    queue = controller.subscribe()          # before the loop starts: its first notices are printed too
    start = SessionStart.of(controller)
    run_task = asyncio.ensure_future(controller.run())
    stops = _Stops(controller, run_task, out)
    installed = stops.install(loop)

    async def printer() -> None:
        while (event := await queue.get()) is not None:
            for text in format_event(event, verbose=verbose):
                if not _say(out, text):
                    return

    queue_task = asyncio.create_task(printer())
    try:
        code = await run_task
    except asyncio.CancelledError:
        if stops.count < 2:
            raise
        code = 130
    finally:
        await asyncio.wait([queue_task], timeout=2)
        queue_task.cancel()
        controller.unsubscribe(queue)
        for sig in installed:
            loop.remove_signal_handler(sig)
    for text in summary_lines(controller, start):
        _say(out, text)
    return code


@dataclass(frozen=True)
class SessionStart:
    """What the session's summary subtracts: the ledger's counts, LLM usage and the clock at the start."""

    counts: dict[str, int]
    usd: float
    tokens: int
    monotonic: float

    @classmethod
    def of(cls, controller: Controller) -> "SessionStart":
        usage = controller.state.usage
        return cls(dict(controller.ledger.counts()), usage.usd, _tokens(usage), time.monotonic())


def _tokens(usage: Any) -> int:
    return usage.input_tokens + usage.output_tokens + usage.cache_read_tokens + usage.cache_write_tokens


def summary_lines(controller: Controller, start: SessionStart) -> list[str]:
    """The last lines of a --no-ui run: trials this session, the best, wall time and LLM cost.

    The controller has closed its store by now, so the counts are read again through a reader.
    """
    store = open_store(controller.paths)
    try:
        counts = store.counts() if store else dict(start.counts)
    finally:
        if store:
            store.close()
    new = sum(counts.values()) - sum(start.counts.values())
    ended = {s: n - start.counts.get(s, 0) for s, n in counts.items() if n > start.counts.get(s, 0)}
    by_status = " ".join(f"{s}={n}" for s, n in sorted(ended.items()))
    state, metric = controller.state, controller.config.metric.name
    best = (f"best={state.best_trial} {metric}={_fmt(state.best_metric)}" if state.best_trial
            else f"best=- (no {metric} measured yet)")
    usage = state.usage
    cost = f"llm_usd={usd(usage.usd - start.usd)} tokens={_tokens(usage) - start.tokens}"
    stamp = time.strftime("%H:%M:%S")
    texts = [f"trials={new} this session" + (f" ({by_status})" if by_status else "")
             + f"; {sum(counts.values())} in the ledger",
             best, f"elapsed={format_duration(time.monotonic() - start.monotonic)} {cost}"]
    return [f"{stamp} {'SUMMARY':<8} {text}" for text in texts]


class _Stops:
    """SIGINT/SIGTERM: the first sends Quit (training keeps running), a second cancels the loop at once."""

    def __init__(self, controller: Controller, run_task: asyncio.Future, out: TextIO) -> None:
        self.controller, self.run_task, self.out, self.count = controller, run_task, out, 0

    def install(self, loop: asyncio.AbstractEventLoop) -> list[signal.Signals]:
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self.on_signal, sig.name)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):
                pass
        return installed

    def on_signal(self, signame: str) -> None:
        self.count += 1
        stamp = time.strftime("%H:%M:%S")
        if self.count == 1:
            self.controller.send(Quit(leave_training_running=True))
            _say(self.out, f"{stamp} SIGNAL   {signame}: stopping the loop; training keeps running (again to stop at once)")
        else:
            self.run_task.cancel()
            _say(self.out, f"{stamp} SIGNAL   {signame} again: stopping now; training keeps running")


def _say(out: TextIO, text: str) -> bool:
    """Print one line; False when the output is gone (a closed pipe): the loop goes on without it."""
    try:
        print(text, file=out, flush=True)
        return True
    except (OSError, ValueError):
        return False
