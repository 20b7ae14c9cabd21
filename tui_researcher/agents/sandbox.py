"""The after-command check of the controller's files that closes the namespace sandbox's two gaps.

Every command of the worker's side runs in the one sandbox (``tui_researcher/sandbox.py``): the
controller's files are bound read-only there. Two gaps remain, and ``ProtectedGuard`` closes them
after each ``run_shell``: a file the controller replaces by rename while the command runs
(MEMORY_LOG.md) loses its mount in the sandbox, so it is compared with the controller's memory
and rewritten from it when they differ; and where namespaces are not available (macOS, a
container without them), every protected file is checked after the command and repaired.
The store (SQLite) is written in place, so its mounts hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..sandbox import SANDBOX_EXIT

if TYPE_CHECKING:
    from ..workbench import Workbench

__all__ = ["SANDBOX_EXIT", "ProtectedGuard"]


@dataclass
class _Seen:
    exists: bool
    data: bytes = b""


@dataclass
class ProtectedGuard:
    """Snapshot protected files before a command, repair after: every protected file without the
    sandbox, only the sandbox's gap (files absent now) and MEMORY_LOG.md (replaced by rename) with it.

    - the store (researcher.db and its WAL files) is never compared byte for byte: the controller
      writes it while the command runs. Its copy is taken before the command; if another process
      wrote it meanwhile (SQLite's data_version) or broke it, the copy is put back and the
      controller's own writes since are replayed (``Store.snapshot``).
    - MEMORY_LOG.md is rewritten from the controller's memory: it holds its truth.
    - commands.jsonl keeps what was appended (other processes append to it) but any change to
      earlier bytes is undone.
    - every other protected file (directive, lock, ...) is put back as it was.

    Limits, which is why the namespace sandbox comes first: a forged *appended* command survives,
    the controller may act on it before the repair, and a trial's log under runs/ is not checked.
    """

    workspace: Path
    names: list[str]
    seen: dict[str, _Seen] = field(default_factory=dict)
    store_mark: Any = None

    APPEND_ONLY = ("commands.jsonl",)
    FROM_MEMORY = ("MEMORY_LOG.md",)
    STORE = ("researcher.db", "researcher.db-wal", "researcher.db-shm")

    def snapshot(self, bench: Workbench | None = None) -> None:
        self.seen = {name: self._read(name) for name in self.names
                     if not name.endswith("/") and name not in self.STORE}
        if bench is not None and any(name in self.STORE for name in self.names):
            self.store_mark = bench.store_snapshot()

    def _read(self, name: str) -> _Seen:
        try:
            return _Seen(True, (self.workspace / name).read_bytes())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return _Seen(False)

    def repair(self, bench: Workbench) -> list[str]:
        """Undo what the command did to protected files; the names it touched."""
        touched = []
        if self.store_mark is not None:
            if bench.store_restore_if_tampered(self.store_mark):
                touched.append(self.STORE[0])
            self.store_mark = None
        for name, before in self.seen.items():
            now = self._read(name)
            if now == before or self._written_by_controller(name, before, now, bench):
                continue
            touched.append(name)
            path = self.workspace / name
            if name == "MEMORY_LOG.md":
                bench.rewrite_memory()
            elif before.exists:
                _write(path, before.data)
            else:
                path.unlink(missing_ok=True)
        return touched

    def _written_by_controller(self, name: str, before: _Seen, now: _Seen, bench: Workbench) -> bool:
        if name == "MEMORY_LOG.md":
            return now.exists and now.data == bench.memory_text().encode()
        if name in self.APPEND_ONLY:
            return now.exists and now.data.startswith(before.data)
        return False


def _write(path: Path, data: bytes) -> None:
    from ..fsutil import write_atomic

    write_atomic(path, data.decode("utf-8", "replace"))
