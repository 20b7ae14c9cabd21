"""The journal's notes as markdown: a trial, the dashboard, a daily line. Pure text from ledger records.

Links are relative markdown links (``[t0003](../trials/t0003.md)``), which both Obsidian and GitHub
follow, so the journal reads the same in a vault, in a repository or in a plain folder.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import quote

from .formats import format_duration
from .money import usd
from .trial import Trial

MARK = "written by tui-researcher"


def link(text: str, from_dir: Path, target: Path) -> str:
    rel = os.path.relpath(target, from_dir).replace(os.sep, "/")
    return f"[{text}]({quote(rel, safe='/.-_')})"


def when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def metric_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def params_text(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "-"


def cell(text: object) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def trial_note(trial: Trial, metric: str, *, here: Path, parent: Path | None, children: list[tuple[str, Path]],
               calls: list[dict]) -> str:
    front = {"trial": trial.id, "status": str(trial.status), "metric": trial.metric, "cycle": trial.cycle,
             "parent": trial.parent or None, "tags": ["tui-researcher"]}
    lines = ["---", *(f"{k}: {json.dumps(v)}" for k, v in front.items()), "---",
             f"# {trial.id} · {trial.status} · {metric} {metric_text(trial.metric)}", "",
             f"> {cell(trial.hypothesis) or 'no hypothesis recorded'}", "",
             "| | |", "|---|---|",
             f"| status | {cell(trial.status)} |", f"| label | {cell(trial.label) or '-'} |",
             f"| {cell(metric)} | {metric_text(trial.metric)} |",
             f"| other metrics | {cell(params_text(trial.metrics))} |",
             f"| host | {cell(trial.host) or '-'}{' (GPUs ' + ','.join(map(str, trial.gpus)) + ')' if trial.gpus else ''} |",
             f"| started | {when(trial.started)} |",
             f"| duration | {format_duration(trial.duration) if trial.duration is not None else '-'} |",
             f"| exit code | {'-' if trial.exit_code is None else trial.exit_code} |", ""]
    lines += ["## Command", "", "```text", trial.command or "-", "```", "", "## Parameters", ""]
    lines += [f"- {k}: `{v}`" for k, v in trial.params.items()] or ["-"]
    lines += ["", *code_changes(calls)]
    if trial.decision:
        lines += ["## Decision", "", trial.decision, ""]
    lines += ["## Lineage", "", f"- parent: {ref(trial.parent, here, parent) if trial.parent else '-'}",
              f"- children: {', '.join(link(c, here, p) for c, p in children) or '-'}", ""]
    return "\n".join(lines)


def code_changes(calls: list[dict]) -> list[str]:
    """The files the worker wrote, each with its diff as recorded when it was written."""
    writes = [c for c in calls if c.get("tool") == "write_file" and c.get("ok")]
    if not writes:
        return []
    lines = ["## Code changes", ""]
    for call in writes:
        args = call.get("args") or {}
        lines += [f"- `{args.get('path', '?')}`: {cell(call.get('result', ''))}"]
        if call.get("diff"):
            fence = "````" if "```" in call["diff"] else "```"
            lines += ["", f"{fence}diff", call["diff"].rstrip("\n"), fence, ""]
    return [*lines, ""]


def ref(tid: str, here: Path, note: Path | None) -> str:
    """A link where the note exists, the bare id where it does not (a link never dangles)."""
    return link(tid, here, note) if note is not None else tid


def dashboard(name: str, metric: str, goal: str, *, here: Path, best: Trial | None, best_path: Path | None,
              running: list[tuple[Trial, Path | None]], decided: list[tuple[Trial, Path | None]], counts: dict[str, int],
              usage: object, daily: Path | None) -> str:
    best_line = "no kept trial yet"
    if best is not None:
        best_line = (f"{ref(best.id, here, best_path)}: {metric} = {metric_text(best.metric)} "
                     f"({cell(params_text(best.params))})")
    lines = [f"# {name}: research dashboard", "",
             f"_Rewritten on every change ({MARK}, {when(time.time())}); edit it and it is left alone._", "",
             f"## Best so far ({metric}, goal {goal})", "", best_line, "", "## Running", ""]
    lines += [f"- {ref(t.id, here, p)} on {t.host or '?'} since {when(t.started)}: {cell(t.hypothesis)}"
              for t, p in running] or ["none"]
    lines += ["", "## Last decisions", ""]
    lines += [f"- {ref(t.id, here, p)} ({t.status}, {metric_text(t.metric)}): {cell(t.decision)}"
              for t, p in decided] or ["none yet"]
    by_status = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    lines += ["", "## Trials and cost", "", f"- {sum(counts.values())} trials" + (f" ({by_status})" if by_status else ""),
              f"- LLM spend: {usd(getattr(usage, 'usd', 0.0))} in all, {usd(getattr(usage, 'usd_today', 0.0))} today"]
    if daily is not None:
        lines += [f"- today's note: {link(daily.stem, here, daily)}"]
    return "\n".join([*lines, ""])


def daily_line(trial: Trial, metric: str, *, here: Path, note: Path) -> str:
    return (f"- {time.strftime('%H:%M', time.localtime(trial.ended or time.time()))} {link(trial.id, here, note)} "
            f"{trial.status} {metric} {metric_text(trial.metric)}: {cell(trial.hypothesis)[:120]}"
            + (f" ({cell(trial.label)[:80]})" if trial.label else ""))
