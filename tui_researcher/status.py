"""`status` and `export`: read the project's store from another process, while the loop runs.

Both answer from the store's indexes and running aggregates (counts by status, the running set,
the state row), never by loading every trial, and import neither Textual nor an LLM SDK.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from .backends.helper import pid_alive
from .config import Config
from .errors import ResearcherError
from .ledger import Ledger
from .paths import ProjectPaths
from .state import State
from .store import Store, StoreError

CSV_FIELDS = ("id", "cycle", "parent", "status", "metric", "label", "host", "gpus", "job_id", "pid", "started",
              "ended", "duration", "exit_code", "params", "command", "hypothesis", "decision")


def open_store(paths: ProjectPaths) -> Store | None:
    """The store if the project has one; None for a project that never ran (nothing is created)."""
    try:
        return Store.reader(paths.store)
    except StoreError:
        return None


def summary(config: Config, paths: ProjectPaths) -> dict[str, Any]:
    store = open_store(paths)
    state = State.load(store) if store else State()
    counts = store.counts() if store else {}
    ledger = Ledger(store) if store else None
    now = time.time()
    running = []
    for tid, run in state.running.items():
        trial = ledger.get(tid) if ledger else None
        started = run.started or (trial.started if trial else None)
        running.append({"id": tid, "host": run.host, "gpus": list(run.gpus), "pid": run.pid, "job_id": run.job_id,
                        "state": "PENDING" if run.job_id and not started else "RUNNING", "reason": run.reason,
                        "log": run.log_path or run.run_dir, "elapsed_s": round(now - started, 1) if started else None,
                        "hypothesis": trial.hypothesis if trial else ""})
    if store:
        store.close()
    return {
        "project": config.project.name or paths.root.name, "cycle": state.cycle, "phase": str(state.phase),
        "paused": state.paused, "controller": "running" if pid_alive(state.controller_pid) else "not running",
        "metric": config.metric.name, "goal": config.metric.goal,
        "best": {"trial": state.best_trial, "metric": state.best_metric} if state.best_trial else None,
        "running": running, "last_decision": state.last_decision, "trials": sum(counts.values()),
        "by_status": counts, "usd_today": state.usage.usd_today,
    }


def print_summary(s: dict[str, Any], out: TextIO = sys.stdout) -> None:
    print(f"project   {s['project']}  (controller {s['controller']})", file=out)
    print(f"cycle     {s['cycle']}   phase {s['phase']}{'   PAUSED' if s['paused'] else ''}", file=out)
    best = s["best"]
    shown = f"{best['metric']:.6g} ({best['trial']})" if best and best["metric"] is not None else "-"
    print(f"best      {s['metric']} = {shown}   goal {s['goal']}", file=out)
    if not s["running"]:
        print("running   none", file=out)
    for r in s["running"]:
        gpus = f" gpus={','.join(map(str, r['gpus']))}" if r["gpus"] else ""
        elapsed = f"{r['elapsed_s']:.0f}s" if r["elapsed_s"] is not None else "-"
        where = (f"job {r['job_id']} {r['state']}" + (f" ({r['reason']})" if r["reason"] else "")
                 if r["job_id"] else f"pid {r['pid']}")
        print(f"running   {r['id']} on {r['host']}{gpus} {where} elapsed {elapsed} log {r['log']}", file=out)
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
