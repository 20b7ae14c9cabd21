"""`status` and `export`: read the project's store from another process, while the loop runs.

Both answer from the store's indexes and running aggregates (counts by status, the running set,
the state row), never by loading every trial. They import neither Textual, an LLM SDK nor the
config's models: they need four values of config.yaml (``Where``), read as plain YAML; a file that
is not even YAML is reported by the full loader, with its usual one-line error.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .errors import ResearcherError
from .ledger import Ledger
from .paths import ProjectPaths
from .progress import Progress
from .state import ProjectLock, State
from .store import Store, StoreError

CSV_FIELDS = ("id", "cycle", "parent", "status", "metric", "self_reported", "label", "host", "gpus", "job_id", "pid",
              "started", "ended", "duration", "exit_code", "params", "command", "hypothesis", "decision", "role")


def open_store(paths: ProjectPaths) -> Store | None:
    """The store if the project has one; None for a project that never ran (nothing is created)."""
    try:
        return Store.reader(paths.store)
    except StoreError:
        return None


DEFAULT_METRIC = ("val_loss", "min")
"""config.MetricConfig's defaults (a unit test keeps the two equal)."""


@dataclass(frozen=True)
class Where:
    name: str
    metric: str
    goal: str
    paths: ProjectPaths


def where(project: Path, config_path: Path | None) -> Where:
    """The project's name, metric and files, from config.yaml read leniently (defaults where absent)."""
    import yaml

    path = config_path or project / "config.yaml"
    data: Any = {}
    if path.exists():
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = None
    elif config_path is not None:
        data = None
    if not isinstance(data, dict) or not all(isinstance(data.get(k) or {}, dict) for k in ("project", "metric")):
        from .config import load_config   # the full loader says exactly what is wrong, exit 2

        config = load_config(path, must_exist=config_path is not None)
        return Where(config.project.name, config.metric.name, config.metric.goal, ProjectPaths.of(project, config))
    proj, metric = data.get("project") or {}, data.get("metric") or {}
    paths = ProjectPaths.at(project, str(proj.get("workspace") or "workspace"))
    return Where(str(proj.get("name") or ""), str(metric.get("name") or DEFAULT_METRIC[0]),
                 str(metric.get("goal") or DEFAULT_METRIC[1]), paths)


def summary(at: Where) -> dict[str, Any]:
    paths = at.paths
    store = open_store(paths)
    state = State.load(store) if store else State()
    counts = store.counts() if store else {}
    ledger = Ledger(store) if store else None
    now = time.time()
    running = []
    for tid, run in state.running.items():
        trial = ledger.get(tid) if ledger else None
        started = run.started or (trial.started if trial else None)
        running.append({"id": tid, "host": run.host, "gpus": list(run.gpus), "pid": run.training_pid or run.pid,
                        "runner_pid": run.pid, "job_id": run.job_id,
                        "state": "PENDING" if run.job_id and not started else "RUNNING", "reason": run.reason,
                        "log": run.log_path or run.run_dir, "elapsed_s": round(now - started, 1) if started else None,
                        "hypothesis": trial.hypothesis if trial else "", "progress": run.progress})
    best_trial = ledger.get(state.best_trial) if ledger and state.best_trial else None
    if store:
        store.close()
    return {
        "project": at.name or paths.root.name, "cycle": state.cycle, "phase": str(state.phase),
        "paused": state.paused, "controller": "running" if ProjectLock.held(paths.lock) else "not running",
        "metric": at.metric, "goal": at.goal,
        "best": {"trial": state.best_trial, "metric": state.best_metric,
                 "self_reported": bool(best_trial and best_trial.self_reported), **_seeded(best_trial)}
                if state.best_trial else None,
        "running": running, "last_decision": state.last_decision, "trials": sum(counts.values()),
        "by_status": counts, "usd_today": state.usage.usd_today,
    }


def _seeded(trial: Any) -> dict[str, Any]:
    """A seed-checked best's mean, spread and number of seeds (nothing for one measured once)."""
    if trial is None or trial.mean is None or trial.spread is None:
        return {}
    return {"mean": trial.mean, "spread": trial.spread, "seeds": len(trial.seeds) + 1}


def print_summary(s: dict[str, Any], out: TextIO = sys.stdout) -> None:
    print(f"project   {s['project']}  (controller {s['controller']})", file=out)
    print(f"cycle     {s['cycle']}   phase {s['phase']}{'   PAUSED' if s['paused'] else ''}", file=out)
    best = s["best"]
    shown = f"{best['metric']:.6g} ({best['trial']})" if best and best["metric"] is not None else "-"
    if best and best.get("spread") is not None and best.get("mean") is not None:   # seed-checked
        shown = f"{best['mean']:.6g} ± {best['spread']:.3g} over {best['seeds']} seeds ({best['trial']})"
    if best and best.get("self_reported"):
        shown += " self-reported (no evaluator; the worker changed the code that printed it)"
    print(f"best      {s['metric']} = {shown}   goal {s['goal']}", file=out)
    if not s["running"]:
        print("running   none", file=out)
    for r in s["running"]:
        gpus = f" gpus={','.join(map(str, r['gpus']))}" if r["gpus"] else ""
        elapsed = f"{r['elapsed_s']:.0f}s" if r["elapsed_s"] is not None else "-"
        where = (f"job {r['job_id']} {r['state']}" + (f" ({r['reason']})" if r["reason"] else "")
                 if r["job_id"] else f"pid {r['pid']}")
        progress = Progress.from_dict(r.get("progress"))
        shown = f" {progress.text()}" if progress else ""
        print(f"running   {r['id']} on {r['host']}{gpus} {where} elapsed {elapsed}{shown} log {r['log']}", file=out)
    print(f"decision  {s['last_decision'] or '-'}", file=out)
    by_status = ", ".join(f"{n} {status}" for status, n in sorted(s["by_status"].items()))
    print(f"trials    {s['trials']} in the ledger" + (f" ({by_status})" if by_status else ""), file=out)


def export(paths: ProjectPaths, fmt: str, out: TextIO) -> int:
    """Every trial, oldest first, streamed a page at a time; the count written."""
    store = open_store(paths)
    if store is None:
        raise ResearcherError(f"{paths.root}: no trials to export (the project has not run yet)")
    count = 0
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore") if fmt == "csv" else None
    if writer:
        writer.writeheader()
    for record in store.iter_trials():
        if writer:
            row = {**record, "params": json.dumps(record.get("params") or {}, sort_keys=True),
                   "gpus": ",".join(map(str, record.get("gpus") or []))}
            writer.writerow(row)
        else:
            record["tool_calls"] = store.tool_calls(record["id"])
            out.write(json.dumps(record, sort_keys=True) + "\n")
        count += 1
    store.close()
    return count


def write_export(paths: ProjectPaths, fmt: str, target: Path | None) -> str:
    if target is None:
        export(paths, fmt, sys.stdout)
        return ""
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        count = export(paths, fmt, f)
    os.replace(tmp, target)
    return f"exported {count} trial(s) to {target}"
