"""``diff`` and ``checkout``: a trial's code from the controller's private git dir, from another process.

Read-only towards the loop: they read the store and the git objects, and write only where asked.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from .errors import ResearcherError
from .paths import ProjectPaths
from .snapshot import CodeStore, SnapshotError
from .status import open_store


def _snapshot(paths: ProjectPaths, trial_id: str) -> tuple[str, str]:
    """(the trial's snapshot, its base), from the ledger."""
    store = open_store(paths)
    data = store.trial(trial_id) if store is not None else None
    if store is not None:
        store.close()
    if data is None:
        raise ResearcherError(f"{trial_id}: no such trial in {paths.store}")
    if not data.get("snapshot"):
        raise ResearcherError(f"{trial_id}: has no code snapshot (it never reached its launch, or it ran "
                              f"before snapshots)")
    return data["snapshot"], data.get("base_snapshot") or ""


async def _diff(paths: ProjectPaths, first: str, second: str | None) -> str:
    code = CodeStore(paths.workspace)
    snap, base = _snapshot(paths, first)
    if second is None:
        return await code.diff(base, snap) if base else ""
    return await code.diff(snap, _snapshot(paths, second)[0])


def diff_text(paths: ProjectPaths, first: str, second: str | None) -> str:
    """``first``'s diff against its base, or the diff from ``first``'s code to ``second``'s."""
    try:
        return asyncio.run(_diff(paths, first, second))
    except SnapshotError as exc:
        raise ResearcherError(str(exc)) from None


def checkout(paths: ProjectPaths, trial_id: str, target: Path) -> int:
    """Write the trial's code into ``target`` (new or empty: never over existing files)."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ResearcherError(f"{target}: exists and is not empty; give a new directory")
    snap, _ = _snapshot(paths, trial_id)
    try:
        asyncio.run(CodeStore(paths.workspace).checkout(snap, target.resolve()))
    except SnapshotError as exc:
        raise ResearcherError(str(exc)) from None
    return sum(1 for p in target.rglob("*") if p.is_file())
