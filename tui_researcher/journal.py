"""The research journal: markdown notes, Obsidian-ready, written by the controller from the ledger.

Where: with ``obsidian.enabled`` and a ``vault_path``, in ``<vault>/<project_subdir>`` (default
``tui-researcher/<project>``); otherwise in ``obsidian.local_fallback_dir`` (relative to the
project) or ``workspace/journal/``. What: a dashboard rewritten atomically, one note per trial,
and a daily note with one line per finished trial.

It never touches a note it did not write. Each note it writes ends with a seal: a comment holding
the hash of everything above it. A note without a valid seal (the user's own, or one edited since)
is left alone, said once. A daily note that is the user's own is appended to only with
``obsidian.auto_append_daily``, and then only appended to. The notes hold their own state (a trial's
children are read back from its note), so nothing grows on the side as the ledger does. The ledger
is read on the loop; notes are read and written on a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import journal_notes as notes
from .events import Event, PlanProposed, Reflected, TrialFinished, TrialLaunched
from .fsutil import write_atomic
from .project import Project
from .trial import Trial

SEAL = re.compile(r"<!-- written by tui-researcher; edit this note and it is left alone: ([0-9a-f]{16}) -->\n?\Z")
CHILDREN = re.compile(r"^- children: (.*)$", re.M)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def seal(body: str) -> str:
    body = body.rstrip("\n") + "\n\n"
    return f"{body}<!-- written by tui-researcher; edit this note and it is left alone: {digest(body)} -->\n"


def unseal(text: str) -> str | None:
    """The body of a note the journal wrote and nobody changed since; None for any other note."""
    m = SEAL.search(text)
    if m is None or digest(text[:m.start()]) != m.group(1):
        return None
    return text[:m.start()]


def children_in(body: str | None) -> list[str]:
    m = CHILDREN.search(body or "")
    return re.findall(r"\[(t[^\]]+)\]", m.group(1)) if m else []


@dataclass(frozen=True)
class Places:
    root: Path
    trials: Path
    dashboard: Path
    daily: Path

    @classmethod
    def of(cls, project: Project) -> tuple["Places", str]:
        """Where the notes go, and why not the vault when one is set but missing (the fallback is used)."""
        o, paths = project.config.obsidian, project.paths
        vault = Path(os.path.expanduser(o.vault_path)) if o.enabled and o.vault_path else None
        problem = ""
        if vault is not None and not vault.is_dir():
            problem, vault = f"obsidian.vault_path {vault} is not a directory", None
        if vault is not None:
            root = vault / (o.project_subdir or f"tui-researcher/{project.name}")
        elif o.local_fallback_dir:
            root = paths.root / os.path.expanduser(o.local_fallback_dir)
        else:
            root = paths.workspace / "journal"
        name = o.dashboard_note or "Dashboard"
        daily = (vault or root) / o.daily_dir if o.daily_dir else root / "daily"
        places = cls(root=root, trials=root / "trials", daily=daily,
                     dashboard=root / (name if name.endswith(".md") else f"{name}.md"))
        return places, f"journal: {problem}; the notes go to {root}" if problem else ""

    def trial(self, tid: str) -> Path:
        return self.trials / f"{tid}.md"

    def day(self, ts: float) -> Path:
        return self.daily / f"{time.strftime('%Y-%m-%d', time.localtime(ts))}.md"


@dataclass
class Write:
    """One note to write: ``make`` turns its current body (None: no note yet) into the new text."""

    path: Path
    make: Callable[[str | None], str]
    append: str = ""
    """For a daily note: the line to append (to the user's own note too, with auto_append_daily)."""


@dataclass
class Journal:
    project: Project
    places: Places
    notice: Callable[[str, str], None]
    append_foreign_daily: bool = False
    problem: str = ""
    said: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, project: Project, notice: Callable[[str, str], None]) -> "Journal":
        places, problem = Places.of(project)
        return cls(project, places, notice, append_foreign_daily=project.config.obsidian.auto_append_daily,
                   problem=problem)

    def start(self) -> None:
        """Nothing to load (each note carries its own state); a vault that is missing is said once."""
        if self.problem:
            self.notice(self.problem, "warning")

    async def feed(self, event: Event) -> None:
        writes = self._writes_for(event)
        if writes:
            for text in await asyncio.to_thread(self._apply, writes):
                self.notice(text, "warning")

    async def close(self) -> None:
        """Nothing is buffered: each event's notes are written before the next event is read."""

    def _writes_for(self, event: Event) -> list[Write]:
        tid = getattr(event, "trial_id", "")
        if not isinstance(event, (PlanProposed, TrialLaunched, TrialFinished, Reflected)) or not tid:
            return []
        trial = self.project.ledger.get(tid)
        if trial is None:
            return []
        writes = [self._trial_write(trial)]
        if isinstance(event, PlanProposed) and trial.parent:
            parent = self.project.ledger.get(trial.parent)
            if parent is not None:
                writes.append(self._trial_write(parent, child=tid))
        if isinstance(event, TrialFinished):
            day = self.places.day(trial.ended or time.time())
            line = notes.daily_line(trial, self.project.config.metric.name, here=day.parent,
                                    note=self.places.trial(tid))
            writes.append(Write(day, lambda body, d=day, l=line: (body.rstrip("\n") + "\n" if body else f"# {d.stem}\n\n") + l + "\n", append=line))
        if not isinstance(event, PlanProposed):
            writes.append(self._dashboard_write())
        return writes

    def _note(self, tid: str | None) -> Path | None:
        """The note of ``tid`` if it exists (so a link to it resolves); called on the worker thread."""
        path = self.places.trial(tid) if tid else None
        return path if path is not None and path.is_file() else None

    def _trial_write(self, trial: Trial, child: str = "") -> Write:
        calls = self.project.store.tool_calls(trial.id)
        metric, here = self.project.config.metric.name, self.places.trials

        def make(body: str | None) -> str:
            kids = list(dict.fromkeys([*children_in(body), *([child] if child else [])]))
            return notes.trial_note(trial, metric, here=here, parent=self._note(trial.parent),
                                    children=[(c, p) for c in kids if (p := self._note(c))], calls=calls)
        return Write(self.places.trial(trial.id), make)

    def _dashboard_write(self) -> Write:
        p, ledger, config, state = self.places, self.project.ledger, self.project.config, self.project.state
        best = ledger.best(config.metric.goal)
        running = [t for t in (ledger.get(tid) for tid in state.running) if t]
        decided = [t for t in ledger.recent(5, finished=True) if t.decision][::-1]
        counts, usage = ledger.counts(), state.usage

        def make(_: str | None) -> str:
            today = p.day(time.time())
            return notes.dashboard(self.project.name, config.metric.name, config.metric.goal, here=p.root, best=best,
                                   best_path=self._note(best.id) if best else None,
                                   running=[(t, self._note(t.id)) for t in running],
                                   decided=[(t, self._note(t.id)) for t in decided], counts=counts, usage=usage,
                                   daily=today if today.is_file() else None)
        return Write(p.dashboard, make)

    # on the worker thread -------------------------------------------------------------------------

    def _apply(self, writes: list[Write]) -> list[str]:
        said = []
        for w in writes:
            problem = self._write(w)
            if problem and str(w.path) not in self.said:
                self.said.add(str(w.path))
                said.append(problem)
        return said

    def _write(self, w: Write) -> str | None:
        try:
            current = w.path.read_text(encoding="utf-8") if w.path.exists() else None
        except (OSError, UnicodeDecodeError) as exc:
            return f"journal: cannot read {w.path}: {exc}; left alone"
        body = unseal(current) if current is not None else None
        try:
            if current is None or body is not None:
                write_atomic(w.path, seal(w.make(body)))
            elif w.append and self.append_foreign_daily:
                write_atomic(w.path, current.rstrip("\n") + "\n" + w.append + "\n")   # theirs: only ever appended
            elif w.append:
                return (f"journal: {w.path} is not the journal's own note: left alone "
                        f"(obsidian.auto_append_daily: true appends to it)")
            else:
                return f"journal: {w.path} was not written by tui-researcher (or was edited since): left alone"
        except OSError as exc:
            return f"journal: cannot write {w.path}: {exc}"
        return None
