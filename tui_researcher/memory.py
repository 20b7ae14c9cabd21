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

from .config import MemoryConfig
from .fsutil import write_atomic

TITLE = "# Memory Log"
RESULTS = "## Key Results"
DECISIONS = "## Recent Decisions"
_COMPACTED = re.compile(r"^_\((\d+) earlier results? compacted; the ledger has them all\)_$")
ELLIPSIS = " …"


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

    @classmethod
    def load(cls, path: Path, cfg: MemoryConfig) -> "Memory":
        memory = cls(path=path, cfg=cfg)
        if path.exists():
            memory._parse(path.read_text(encoding="utf-8"))
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
        if len(text) > limit:
            text = text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS
        return text

    def _enforce(self) -> None:
        while len(self.decisions) > self.cfg.max_recent_entries:
            self.decisions.pop(0)
        while len(self.results) > 1 and len(self._section(self.results, self.compacted)) > self.cfg.milestone_max_chars:
            self.results.pop(0)
            self.compacted += 1
        while len(self.render()) > self.cfg.log_max_chars and len(self.decisions) > 1:
            self.decisions.pop(0)
        while len(self.render()) > self.cfg.log_max_chars and len(self.results) > 1:
            self.results.pop(0)
            self.compacted += 1

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
        text = (f"{TITLE}\n\n{RESULTS}\n{self._section(self.results, self.compacted)}\n\n"
                f"{DECISIONS}\n{self._section(self.decisions)}\n")
        cap = self.cfg.log_max_chars
        if len(text) > cap:   # only with a cap too small for one entry of each: still never exceed
            text = text[: cap - 1] + "\n"
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
        return text
