"""A project made before the store (state.json, trials.jsonl, events.jsonl) moves into it on first start.

Nothing is lost: every ledger line is replayed in order (so launch counts and the audit trail
survive), tool calls and dry-run output go to their own streams, the last events are kept for an
attached app, and the old files stay beside the store, renamed ``*.migrated``.
"""

from __future__ import annotations

import json
import os
from collections import deque

from .fsutil import read_jsonl
from .ledger import Ledger
from .paths import ProjectPaths
from .state import State
from .store import EVENTS_KEPT, Store
from .trial import Trial


def migrate_legacy(paths: ProjectPaths, store: Store) -> str:
    """Import the files of an older version into an empty store; a line saying so, or ""."""
    legacy = [p for p in (paths.ledger, paths.state, paths.events) if p.exists()]
    if not legacy or store.last_trial_id() is not None or store.load_state()[0] is not None:
        return ""
    ledger, torn, damage = Ledger(store), [], []
    with store.transaction():
        trials = _replay_ledger(paths, ledger, torn)
        if paths.state.exists():
            try:
                State.from_dict(json.loads(paths.state.read_text(encoding="utf-8"))).save(store)
            except (OSError, ValueError, TypeError, AttributeError):
                damage.append(f"{paths.state.name} was unreadable: the next trial id and the running trials "
                              f"are rebuilt from the ledger")
        events = _import_events(paths, store)
    if torn:
        damage.append(f"{len(torn)} torn line(s) of {paths.ledger.name} skipped (kept in {paths.ledger.name}.migrated)")
    rotated = paths.events.with_suffix(".jsonl.1")
    for path in legacy + ([rotated] if rotated.exists() else []):
        os.replace(path, path.with_name(path.name + ".migrated"))
    return (f"migrated this project into its store ({paths.store.name}): {trials} trial(s), "
            f"{events} event(s); the old files are kept as *.migrated" + "".join(f"; {d}" for d in damage))


def _replay_ledger(paths: ProjectPaths, ledger: Ledger, torn: list[str]) -> int:
    last: dict[str, dict] = {}
    for record in read_jsonl(paths.ledger, torn):
        event = record.pop("event", "update")
        ledger.record(Trial.from_dict(record), event)
        last[record.get("id", "")] = record
    for tid, record in last.items():
        trial = Trial.from_dict(record)
        for call in record.get("tool_calls") or []:
            ledger.tool_call(trial, call)
        if (record.get("dry_run") or {}).get("output"):
            ledger.dry_run_output(trial, record["dry_run"])
    return len(last)


def _import_events(paths: ProjectPaths, store: Store) -> int:
    lines: deque[str] = deque(maxlen=EVENTS_KEPT)
    for path in (paths.events.with_suffix(".jsonl.1"), paths.events):
        if path.exists():
            with open(path, encoding="utf-8", errors="replace") as f:
                lines.extend(f)
    count = 0
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        store.append_event(record, float(record.get("ts") or 0.0))
        count += 1
    return count
