"""`tui-researcher report`: the research report from the ledger alone, no LLM, with its plot.

The facts (the brief's question, the best configuration and its code changes, every trial, the
failures grouped by label, cost and time) are gathered once (``gather``) and written as markdown
(``markdown``); the LLM's writing worker is given the same facts, so its prose cannot disagree
with the table. The plot is ``svgplot``'s SVG, written next to the report.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ResearcherError
from .formats import format_duration, format_tokens
from .journal_notes import cell, code_changes, metric_text, params_text
from .fsutil import write_atomic
from .money import usd
from .state import State
from .store import Store, StoreError
from .svgplot import Point, metric_svg
from .trial import Trial, better

PLOT = "metric.svg"
QUESTION_CHARS = 1500


@dataclass
class Facts:
    project: str
    metric: str
    goal: str
    question: str = ""
    trials: list[Trial] = field(default_factory=list)
    best: Trial | None = None
    best_calls: list[dict] = field(default_factory=list)
    state: State = field(default_factory=State)

    def points(self) -> list[Point]:
        return [Point(t.id, i, t.metric, str(t.status)) for i, t in enumerate(self.trials, 1)
                if t.finished and t.metric is not None]

    def failures(self) -> dict[str, list[Trial]]:
        """Trials that did not give a usable result, grouped by their label (the why)."""
        groups: dict[str, list[Trial]] = defaultdict(list)
        for t in self.trials:
            if t.finished and str(t.status) not in ("keep", "discard"):
                groups[f"{t.status}: {t.label}" if t.label else str(t.status)].append(t)
        return dict(sorted(groups.items(), key=lambda kv: -len(kv[1])))


def question(brief: Path) -> str:
    try:
        text = brief.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return text if len(text) <= QUESTION_CHARS else text[:QUESTION_CHARS].rsplit(" ", 1)[0] + " …"


def gather(store: Store, *, project: str, metric: str, goal: str, brief: Path) -> Facts:
    facts = Facts(project, metric, goal, question(brief), state=State.load(store))
    facts.trials = [Trial.from_dict(r) for r in store.iter_trials()]
    best = store.best(goal)
    if best:
        facts.best = Trial.from_dict(best)
        facts.best_calls = store.tool_calls(facts.best.id)
    return facts


def markdown(f: Facts, plot: str | None = PLOT, rows: int | None = None) -> str:
    """The report; ``rows`` keeps the trials table to the last few (an LLM's prompt), the rest stays whole."""
    out = [f"# {f.project}: research report", "",
           f"_Written by tui-researcher from the ledger on {time.strftime('%Y-%m-%d %H:%M')}, without an LLM._", ""]
    if f.question:
        out += ["## The question", "", *(f"> {line}" if line else ">" for line in f.question.splitlines()), ""]
    out += _best(f)
    if plot:
        out += [f"## {f.metric} over trials", "", f"![{f.metric} over trials]({plot})", ""]
    out += _table(f, rows) + _failures(f) + _cost(f)
    return "\n".join(out)


def _best(f: Facts) -> list[str]:
    out = [f"## Best configuration ({f.metric}, goal {f.goal})", ""]
    b = f.best
    if b is None:
        return [*out, "No trial was kept yet.", ""]
    out += [f"**{b.id}**: {f.metric} = {metric_text(b.metric)}, after {len(f.trials)} trial(s).", "",
            f"> {cell(b.hypothesis)}", "", "```text", b.command or "-", "```", ""]
    out += [f"- {k}: `{v}`" for k, v in b.params.items()] + ([""] if b.params else [])
    lineage, seen, parent = [], {t.id: t for t in f.trials}, b.parent
    while parent and parent in seen and len(lineage) < 20:
        lineage.append(parent)
        parent = seen[parent].parent
    if lineage:
        out += [f"Lineage: {' ← '.join([b.id, *lineage])}", ""]
    return out + (code_changes(f.best_calls) or ["No code change was recorded for it (its command and parameters "
                                                  "are the whole configuration).", ""])


def _table(f: Facts, rows: int | None) -> list[str]:
    hidden = max(0, len(f.trials) - rows) if rows is not None else 0
    out = ["## All trials", "", *([f"({hidden} earlier trials not shown)", ""] if hidden else []), f"| trial | status | {cell(f.metric)} | best so far | parameters | duration | label |",
           "|---|---|---|---|---|---|---|"]
    best = None
    for i, t in enumerate(f.trials):
        if str(t.status) == "keep" and better(t.metric, best, f.goal):
            best = t.metric
        if i < hidden:
            continue
        duration = format_duration(t.duration) if t.duration is not None else "-"
        out.append(f"| {t.id} | {t.status} | {metric_text(t.metric)} | {metric_text(best)} | "
                   f"{cell(params_text(t.params))} | {duration} | {cell(t.label)[:100]} |")
    return [*out, ""]


def _failures(f: Facts) -> list[str]:
    groups = f.failures()
    out = ["## What was tried and failed", ""]
    if not groups:
        return [*out, "No trial failed.", ""]
    for label, trials in groups.items():
        ids = ", ".join(t.id for t in trials[:12]) + (f" and {len(trials) - 12} more" if len(trials) > 12 else "")
        out.append(f"- **{cell(label)[:160]}** ({len(trials)}): {ids}")
    return [*out, ""]


def _cost(f: Facts) -> list[str]:
    u = f.state.usage
    started = [t.started for t in f.trials if t.started]
    ended = [t.ended for t in f.trials if t.ended]
    training = sum(t.duration or 0.0 for t in f.trials)
    span = format_duration(max(ended) - min(started)) if started and ended else "-"
    tokens = u.input_tokens + u.output_tokens + u.cache_read_tokens + u.cache_write_tokens
    counts: dict[str, int] = defaultdict(int)
    for t in f.trials:
        counts[str(t.status)] += 1
    return ["## Cost and time", "",
            f"- trials: {len(f.trials)} ({', '.join(f'{n} {s}' for s, n in sorted(counts.items())) or 'none'})",
            f"- LLM spend: {usd(u.usd)} ({format_tokens(tokens)} tokens)",
            f"- training time: {format_duration(training)} in all; first start to last end: {span}", ""]


def write_report(store_path: Path, out_dir: Path, **where: object) -> tuple[Path, Path]:
    """report.md and its plot in ``out_dir``, each written atomically; their paths."""
    try:
        store = Store.reader(store_path)
    except StoreError as exc:
        raise ResearcherError(f"{store_path.parent.parent}: no trials to report (the project has not run yet)") from exc
    try:
        facts = gather(store, **where)   # type: ignore[arg-type]
    finally:
        store.close()
    md, svg = out_dir / "report.md", out_dir / PLOT
    write_atomic(svg, metric_svg(facts.points(), facts.metric, facts.goal, f"{facts.project}: {facts.metric}"))
    write_atomic(md, markdown(facts))
    return md, svg

