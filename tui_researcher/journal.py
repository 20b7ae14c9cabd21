"""The research journal: markdown notes, Obsidian-ready, written by the controller from the ledger.

Where: with ``obsidian.enabled`` and a ``vault_path``, in ``<vault>/<project_subdir>`` (default
``tui-researcher/<project>``); otherwise in ``obsidian.local_fallback_dir`` (relative to the
project) or ``workspace/journal/``. What: a dashboard rewritten atomically, one note per trial,
and a daily note with one line per finished trial.

It never touches a note it did not write: a manifest (``workspace/.journal.json``) keeps the hash
of every note as last written; a note that differs (the user edited it) or that was there first is
left alone, said once. A daily note that is the user's own is appended to only with
``obsidian.auto_append_daily``, and then only appended to. Files are written on a worker thread;
the ledger is read on the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import journal_notes as notes
from .events import Event, PlanProposed, Reflected, TrialFinished, TrialLaunched
from .fsutil import write_atomic, write_json_atomic
from .project import Project


@dataclass(frozen=True)
class Places:
    root: Path
    trials: Path
    dashboard: Path
    daily: Path
    manifest: Path

    @classmethod
    def of(cls, project: Project) -> "Places":
        o, paths = project.config.obsidian, project.paths
        vault = Path(os.path.expanduser(o.vault_path)) if o.enabled and o.vault_path else None
        if vault is not None:
            root = vault / (o.project_subdir or f"tui-researcher/{project.name}")
        elif o.local_fallback_dir:
            root = paths.root / os.path.expanduser(o.local_fallback_dir)
        else:
            root = paths.workspace / "journal"
        name = o.dashboard_note or "Dashboard"
        daily = (vault or root) / o.daily_dir if o.daily_dir else root / "daily"
        return cls(root=root, trials=root / "trials", dashboard=root / (name if name.endswith(".md") else f"{name}.md"),
                   daily=daily, manifest=paths.workspace / ".journal.json")

    def trial(self, tid: str) -> Path:
        return self.trials / f"{tid}.md"

    def day(self, ts: float) -> Path:
        return self.daily / f"{time.strftime('%Y-%m-%d', time.localtime(ts))}.md"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Write:
    path: Path
    text: str
    append: bool = False


@dataclass
class Journal:
    project: Project
    places: Places
    notice: Callable[[str, str], None]
    append_foreign_daily: bool = False
    hashes: dict[str, str] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    said: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, project: Project, notice: Callable[[str, str], None]) -> "Journal":
        return cls(project, Places.of(project), notice, append_foreign_daily=project.config.obsidian.auto_append_daily)

    def start(self) -> None:
        try:
            data = json.loads(self.places.manifest.read_text(encoding="utf-8"))
            self.hashes, self.children = dict(data.get("notes", {})), dict(data.get("children", {}))
        except (OSError, ValueError, AttributeError):
            pass

    async def feed(self, event: Event) -> None:
        writes = self._writes_for(event)
        if writes:
            said = await asyncio.to_thread(self._apply, writes)
            for text in said:
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
            kids = self.children.setdefault(trial.parent, [])
            if tid not in kids:
                kids.append(tid)
            parent = self.project.ledger.get(trial.parent)
            if parent is not None and str(self.places.trial(parent.id)) in self.hashes:
                writes.append(self._trial_write(parent, written=tid))
        if isinstance(event, TrialFinished):
            day = self.places.day(trial.ended or time.time())
            writes.append(Write(day, notes.daily_line(trial, self._metric, here=day.parent,
                                                      note=self.places.trial(tid)), append=True))
        if not isinstance(event, PlanProposed):
            writes.append(self._dashboard_write())
        return writes

    @property
    def _metric(self) -> str:
        return self.project.config.metric.name

    def _known(self, tid: str | None) -> Path | None:
        """The note of ``tid`` if the journal wrote it (a link to it resolves)."""
        path = self.places.trial(tid) if tid else None
        return path if path is not None and str(path) in self.hashes else None

    def _trial_write(self, trial, written: str = "") -> Write:
        """``written``: a child whose note goes out in the same batch, so the link to it resolves."""
        here = self.places.trials
        kids = [(c, self.places.trial(c)) for c in self.children.get(trial.id, []) if c == written or self._known(c)]
        text = notes.trial_note(trial, self._metric, here=here, parent=self._known(trial.parent), children=kids,
                                calls=self.project.store.tool_calls(trial.id))
        return Write(self.places.trial(trial.id), text)

    def _dashboard_write(self) -> Write:
        p, ledger, config = self.places, self.project.ledger, self.project.config
        best = ledger.best(config.metric.goal)
        running = [t for t in (ledger.get(tid) for tid in self.project.state.running) if t]
        decided = [t for t in ledger.recent(5, finished=True) if t.decision][::-1]
        today = p.day(time.time())
        text = notes.dashboard(self.project.name, config.metric.name, config.metric.goal, here=p.root, best=best,
                               best_path=self._known(best.id) if best else None,
                               running=[(t, self._known(t.id)) for t in running],
                               decided=[(t, self._known(t.id)) for t in decided], counts=ledger.counts(),
                               usage=self.project.state.usage,
                               daily=today if str(today) in self.hashes or today.exists() else None)
        return Write(p.dashboard, text)

    # on the worker thread -------------------------------------------------------------------------

    def _apply(self, writes: list[Write]) -> list[str]:
        said = []
        for w in writes:
            problem = self._write(w)
            if problem and str(w.path) not in self.said:
                self.said.add(str(w.path))
                said.append(problem)
        write_json_atomic(self.places.manifest, {"notes": self.hashes, "children": self.children})
        return said

    def _write(self, w: Write) -> str | None:
        key = str(w.path)
        try:
            current = w.path.read_text(encoding="utf-8") if w.path.exists() else None
        except (OSError, UnicodeDecodeError) as exc:
            return f"journal: cannot read {w.path}: {exc}; left alone"
        ours = current is None or self.hashes.get(key) == digest(current)
        try:
            if w.append:
                return self._append(w, current, ours)
            if not ours:
                return f"journal: {w.path} was not written by tui-researcher (or was edited since): left alone"
            write_atomic(w.path, w.text)
            self.hashes[key] = digest(w.text)
        except OSError as exc:
            return f"journal: cannot write {w.path}: {exc}"
        return None

    def _append(self, w: Write, current: str | None, ours: bool) -> str | None:
        if not ours and not self.append_foreign_daily:
            return (f"journal: {w.path} is not the journal's own note: left alone "
                    f"(obsidian.auto_append_daily: true appends to it)")
        text = (current if current is not None else f"# {w.path.stem}\n\n") + w.text.rstrip("\n") + "\n"
        write_atomic(w.path, text)
        if ours:
            self.hashes[str(w.path)] = digest(text)
        return None
