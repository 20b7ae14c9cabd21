"""Bringing the hosts up at start: their helpers, the files they must protect, and the project's code.

A host that cannot be reached is a warning, not a stop: the monitor keeps probing it, and its
trials are re-attached when it returns.
"""

from __future__ import annotations

from typing import Iterable

from .backends.base import Backend
from .bus import EventBus
from .errors import BackendError
from .paths import ProjectPaths
from .sandbox import isolation


async def start_hosts(backends: Iterable[Backend], paths: ProjectPaths, bus: EventBus) -> None:
    protected = paths.protected()
    for backend in backends:
        await backend.configure(protected)
        try:
            info = await backend.start()
            bus.notice(f"host {backend.name}: helper ready (python {info.get('python', '?')}, "
                       f"workspace {info.get('root', '?')})")
            found = await isolation(backend)
            if not found.available:   # never silently: say what is unprotected there
                bus.notice(found.warning(backend.name), "warning")
        except BackendError as exc:
            bus.notice(f"host {backend.name} unreachable: {exc}", "warning")
        if backend.seeds_code:
            await seed_code(backend, paths, bus)


async def seed_code(backend: Backend, paths: ProjectPaths, bus: EventBus) -> None:
    """Copy the project's code to a remote workspace where it is missing; never over the host's edits."""
    skip = set(paths.protected()) | {"runs", "directive_archive", "journal"}
    copied = []
    try:
        for path in sorted(paths.workspace.rglob("*")):
            rel = path.relative_to(paths.workspace)
            if (not path.is_file() or rel.parts[0] in skip or str(rel) in skip
                    or any(p.startswith(".") or p == "__pycache__" for p in rel.parts)):
                continue
            if not await backend.exists(str(rel)):
                await backend.put_file(path, str(rel))
                copied.append(str(rel))
    except BackendError as exc:
        bus.notice(f"host {backend.name}: could not copy the project's code: {exc}", "warning")
        return
    if copied:
        bus.notice(f"host {backend.name}: copied {len(copied)} file(s) of code to its workspace "
                   f"({', '.join(copied[:5])}{', ...' if len(copied) > 5 else ''})")
