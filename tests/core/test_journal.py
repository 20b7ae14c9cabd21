"""The research journal after real runs: dashboard, one note per trial, the daily note, links that resolve,
and notes the user wrote or edited left alone."""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import unquote

from tui_researcher.events import Notice

from tests.core.test_notify import start
from tests.helpers import latest_trials, make_project

LINK = re.compile(r"\]\(([^)]+\.md)\)")


def links(note: Path) -> list[Path]:
    return [(note.parent / unquote(target)).resolve() for target in LINK.findall(note.read_text())]


async def run(project: Path, cycles: int) -> list:
    controller, seen, watcher = await start(project, max_cycles=cycles)
    assert await controller.run() == 0
    await watcher
    return seen


def neighbour_project(tmp_path: Path, **obsidian) -> Path:
    """Each new trial refines the best so far: t0002's parent is t0001, t0003's is t0002."""
    return make_project(tmp_path, modes=["ok"], scores=[0.5, 0.7, 0.9, 0.95],
                        extra={"search": {"strategy": "best_neighbour", "exploration": 0.0},
                               **({"obsidian": obsidian} if obsidian else {})})


async def test_the_journal_after_a_run_and_an_edited_note_left_alone(tmp_path: Path):
    project = neighbour_project(tmp_path)
    await run(project, 3)
    journal = project / "workspace" / "journal"
    trials = latest_trials(project)
    assert [trials[t]["parent"] for t in sorted(trials)] == [None, "t0001", "t0002"]
    notes = sorted(p.name for p in (journal / "trials").iterdir())
    assert notes == ["t0001.md", "t0002.md", "t0003.md"]
    t2 = (journal / "trials" / "t0002.md").read_text()
    assert 'status: "keep"' in t2 and "val_acc 0.7" in t2 and "--score 0.7" in t2 and "- score: `0.7`" in t2
    assert "- parent: [t0001](t0001.md)" in t2 and "- children: [t0003](t0003.md)" in t2
    assert trials["t0002"]["decision"] in t2
    dashboard = (journal / "Dashboard.md").read_text()
    assert "[t0003](trials/t0003.md): val_acc = 0.9" in dashboard and "3 trials (3 keep)" in dashboard
    [daily] = list((journal / "daily").iterdir())
    assert daily.name == time.strftime("%Y-%m-%d.md") and daily.read_text().count("\n- ") == 3
    every = [journal / "Dashboard.md", daily, *(journal / "trials").iterdir()]
    assert all(target.is_file() for note in every for target in links(note)) and sum(len(links(n)) for n in every) > 8

    edited = dashboard + "\nmy own line\n"
    (journal / "Dashboard.md").write_text(edited)
    (journal / "trials" / "t0003.md").write_text("mine now\n")
    seen = await run(project, 4)
    assert (journal / "Dashboard.md").read_text() == edited
    assert latest_trials(project)["t0004"]["parent"] == "t0003"
    assert (journal / "trials" / "t0003.md").read_text() == "mine now\n"     # its new child did not relink it
    assert (journal / "trials" / "t0004.md").is_file() and daily.read_text().count("\n- ") == 4
    said = [e.text for e in seen if isinstance(e, Notice) and "left alone" in e.text]
    assert len(said) == 2 and all("was not written by tui-researcher" in text for text in said)


async def test_a_vault_gets_the_notes_and_the_users_own_notes_are_only_appended_when_asked(tmp_path: Path):
    vault = tmp_path / "vault"
    (vault / "Daily").mkdir(parents=True)
    today = vault / "Daily" / time.strftime("%Y-%m-%d.md")
    today.write_text("# my day\n\nmet Bob\n")
    mine = vault / "Research" / "spirals" / "trials" / "t0002.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("a note of my own\n")
    project = neighbour_project(tmp_path, enabled=True, vault_path=str(vault), project_subdir="Research/spirals",
                                dashboard_note="Spirals", daily_dir="Daily", auto_append_daily=True)
    await run(project, 2)
    root = vault / "Research" / "spirals"
    assert (root / "Spirals.md").is_file() and (root / "trials" / "t0001.md").is_file()
    assert mine.read_text() == "a note of my own\n"
    text = today.read_text()
    assert text.startswith("# my day\n\nmet Bob\n") and text.count("\n- ") == 2
    assert all(target.is_file() for target in links(today))
    assert not (project / "workspace" / "journal").exists()


async def test_a_vault_that_is_not_there_is_said_and_the_local_fallback_dir_is_used(tmp_path: Path):
    project = neighbour_project(tmp_path, enabled=True, vault_path=str(tmp_path / "no-vault"),
                                local_fallback_dir="notes")
    seen = await run(project, 1)
    assert (project / "notes" / "trials" / "t0001.md").is_file() and not (tmp_path / "no-vault").exists()
    [said] = [e.text for e in seen if isinstance(e, Notice) and "vault_path" in e.text]
    assert said == f"journal: obsidian.vault_path {tmp_path / 'no-vault'} is not a directory; the notes go to " \
                   f"{project.resolve() / 'notes'}"
