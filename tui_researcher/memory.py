"""Two-tier memory whose size does not grow with the run: a frozen brief and a capped rolling log.

MEMORY_LOG.md holds ``## Key Results`` (compacted past ``milestone_max_chars``) and
``## Recent Decisions`` (the last ``max_recent_entries``). The whole file never exceeds
``log_max_chars``, whatever is added. Entries may span lines: continuation lines are indented
two spaces, so a rewrite parses back exactly what it wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .config import MemoryConfig
from .fsutil import write_atomic

TITLE = "# Memory Log"
RESULTS = "## Key Results"
DECISIONS = "## Recent Decisions"
_COMPACTED = re.compile(r"^_\((\d+) earlier results? compacted; the ledger has them all\)_$")
ELLIPSIS = " …"


def _shorten(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` chars, marked as cut; at a word boundary where one is near."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(ELLIPSIS))
    cut = text[:keep]
    space = cut.rfind(" ")
    if space > keep // 2:
        cut = cut[:space]
    return (cut.rstrip() + ELLIPSIS).strip() if keep else ELLIPSIS.strip()[:limit]


def load_brief(path: Path, max_chars: int) -> tuple[str, str]:
    """The brief as the leader sees it, and a warning when it was cut (never cut silently)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "", f"{path.name} not found: the planner works without a brief"
    if len(text) <= max_chars:
        return text, ""
    return text[:max_chars], (f"{path.name} is {len(text):,} chars; only the first {max_chars:,} "
                              f"reach the leader (memory.brief_max_chars)")


@dataclass
class Memory:
    path: Path
    cfg: MemoryConfig = field(default_factory=MemoryConfig)
    results: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    compacted: int = 0
    keep: Callable[[str], None] | None = field(default=None, repr=False, compare=False)
    """Where each saved text is also kept (the store): the file may be rewritten by a trial's sandbox gap."""

    @classmethod
    def load(cls, path: Path, cfg: MemoryConfig) -> "Memory":
        return cls.from_text(path, cfg, path.read_text(encoding="utf-8") if path.exists() else "")

    @classmethod
    def from_text(cls, path: Path, cfg: MemoryConfig, text: str) -> "Memory":
        memory = cls(path=path, cfg=cfg)
        if text:
            memory._parse(text)
        return memory

    # entries --------------------------------------------------------------

    def add_result(self, text: str) -> None:
        self.results.append(self._clip(text))
        self._enforce()

    def add_decision(self, text: str) -> None:
        self.decisions.append(self._clip(text))
        self._enforce()

    @property
    def entry_max_chars(self) -> int:
        """One entry may take at most a sixth of the file, so one long entry cannot evict the rest."""
        return max(40, self.cfg.log_max_chars // 6)

    def _clip(self, text: str) -> str:
        lines = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]
        text = "\n".join(lines) or "(empty)"
        limit = self.entry_max_chars
        return _shorten(text, limit)

    def _enforce(self) -> None:
        """Keep the file whole under its cap: evict the oldest decisions, compact the oldest results,
        and, past that, shorten the newest decision rather than lose it (it is always the last kept)."""
        while len(self.decisions) > self.cfg.max_recent_entries:
            self.decisions.pop(0)
        while len(self.results) > 1 and len(self._section(self.results, self.compacted)) > self.cfg.milestone_max_chars:
            self.results.pop(0)
            self.compacted += 1
        cap = self.cfg.log_max_chars
        while len(self.render()) > cap and len(self.decisions) > 1:
            self.decisions.pop(0)
        while len(self.render()) > cap and self.results:
            self.results.pop(0)
            self.compacted += 1
        over = len(self.render()) - cap
        if over > 0 and self.decisions:
            newest = self.decisions[-1]
            self.decisions[-1] = _shorten(newest, max(1, len(newest) - over))

    # text -----------------------------------------------------------------

    @staticmethod
    def _entry(text: str) -> str:
        first, *rest = text.split("\n")
        return "\n".join([f"- {first}", *(f"  {line}" for line in rest)])

    def _section(self, entries: list[str], compacted: int = 0) -> str:
        lines = []
        if compacted:
            lines.append(f"_({compacted} earlier result{'s' if compacted != 1 else ''} compacted; the ledger has them all)_")
        lines.extend(self._entry(e) for e in entries)
        return "\n".join(lines)

    def render(self) -> str:
        """The whole file: sections are never cut mid-entry (``_enforce`` keeps it under the cap). Only a
        cap too small for the headings, the compaction note and one word of a decision drops the note."""
        head, tail = f"{TITLE}\n\n{RESULTS}\n", f"\n\n{DECISIONS}\n{self._section(self.decisions)}\n"
        text = head + self._section(self.results, self.compacted) + tail
        if len(text) > self.cfg.log_max_chars and not self.results:
            text = head + tail
        return text

    def _parse(self, text: str) -> None:
        section: list[str] | None = None
        for raw in text.splitlines():
            line = raw.rstrip()
            if line.startswith("## "):
                name = line.strip().lower()
                section = self.results if "result" in name else self.decisions if "decision" in name else None
                continue
            if section is None or not line.strip():
                continue
            m = _COMPACTED.match(line.strip())
            if m and section is self.results:
                self.compacted = int(m.group(1))
            elif line.startswith("- "):
                section.append(line[2:])
            elif line.startswith("  ") and section:
                section[-1] += "\n" + line[2:]
            else:
                section.append(line.strip())
        self._enforce()

    def save(self) -> str:
        text = self.render()
        write_atomic(self.path, text)
        if self.keep is not None:
            self.keep(text)
        return text
