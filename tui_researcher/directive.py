"""HUMAN_DIRECTIVE.md: read with a cap (a 10 MB directive must not become a 10 MB request each cycle),
archived only after a THINK used it, so a crash before that keeps it for the next THINK.
"""

from __future__ import annotations

import contextlib
import os
import time

from .bus import EventBus
from .fsutil import write_atomic
from .paths import ProjectPaths

DIRECTIVE_MAX_CHARS = 4000


class DirectiveFile:
    def __init__(self, paths: ProjectPaths, bus: EventBus) -> None:
        self.paths = paths
        self.bus = bus
        self._warned: tuple[int, int] | None = None

    def read(self) -> str:
        """The directive, cut at ``DIRECTIVE_MAX_CHARS`` (read no further), with one warning per file."""
        path = self.paths.directive
        try:
            with path.open(encoding="utf-8", errors="replace") as f:
                text = f.read(DIRECTIVE_MAX_CHARS + 1)
            stat = path.stat()
        except FileNotFoundError:
            return ""
        except OSError as exc:     # a directive nobody can read must not stop planning
            self.bus.notice(f"{path.name} cannot be read ({exc}): planning without it", "warning")
            return ""
        if len(text) > DIRECTIVE_MAX_CHARS:
            text = text[:DIRECTIVE_MAX_CHARS]
            if self._warned != (stat.st_size, stat.st_mtime_ns):
                self._warned = (stat.st_size, stat.st_mtime_ns)
                self.bus.notice(f"{path.name} is {stat.st_size:,} bytes; only the first {DIRECTIVE_MAX_CHARS:,} "
                                f"characters reach the leader", "warning")
        return text.strip()

    def archive(self, text: str, cycle: int) -> None:
        """Unchanged since THINK read it, the file itself moves to the archive (whole, however long);
        changed, it stays for the next THINK."""
        archive = self.paths.directive_archive / f"{time.strftime('%Y%m%d-%H%M%S')}-c{cycle}.md"
        if self.read() == text:
            archive.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.paths.directive, archive)
        if not archive.exists():
            write_atomic(archive, text + "\n")
        self.bus.notice(f"directive used by THINK of cycle {cycle}; archived to {archive.name}")
