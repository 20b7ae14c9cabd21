"""The first minutes with the tool: init, the first run, a directive, --help, and how a --no-ui run ends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tui_researcher.cli import SUBCOMMANDS, build_parser
from tests.helpers import cli, latest_trials, make_project, read_ledger


def test_init_without_a_sample_makes_a_project_whose_first_run_keeps_a_trial(tmp_path: Path):
    project = tmp_path / "fresh"
    made = cli("init", str(project), check=True)
    assert "workspace/train.py" in made.stdout and "config.yaml" in made.stdout   # what to edit next
    assert (project / "workspace" / "train.py").is_file()
    proc = cli("run", str(project), "--no-ui", "--max-cycles", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [trial] = latest_trials(project).values()
    assert trial["status"] == "keep" and isinstance(trial["metric"], float), trial
    assert "dry-run ok" in proc.stdout


def test_a_no_ui_run_ends_with_a_summary(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok", "crash"], scores=[0.75])
    proc = cli("run", str(project), "--no-ui", "--max-cycles", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = [line.split("SUMMARY", 1)[1].strip() for line in proc.stdout.splitlines() if " SUMMARY " in line]
    assert len(summary) == 3, proc.stdout
    assert summary[0] == "trials=2 this session (crash=1 keep=1); 2 in the ledger"
    assert summary[1] == "best=t0001 val_acc=0.75"
    assert re.fullmatch(r"elapsed=\S+ llm_usd=\$0\.00 tokens=0", summary[2]), summary[2]
    again = cli("run", str(project), "--no-ui", "--max-cycles", "2")     # the search is exhausted: nothing new
    assert " SUMMARY  trials=0 this session; 2 in the ledger" in again.stdout, again.stdout


def test_without_a_mandatory_dry_run_the_offline_planner_launches_directly(tmp_path: Path):
    """mode baddry fails its dry-run: the trial is kept only because no dry-run ran."""
    project = make_project(tmp_path, modes=["baddry"], extra={"experiment": {"mandatory_dry_run": False}})
    proc = cli("run", str(project), "--no-ui", "--max-cycles", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [trial] = latest_trials(project).values()
    assert trial["status"] == "keep", trial
    assert "dry_run" not in {row["event"] for row in read_ledger(project)}
    assert "dry-run" not in proc.stdout


def test_a_directive_to_a_directory_that_is_no_project_is_refused(tmp_path: Path):
    stray = tmp_path / "downloads"
    stray.mkdir()
    proc = cli("directive", str(stray), "try", "lr=0.1")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "not a tui-researcher project" in proc.stderr, proc.stderr
    assert list(stray.iterdir()) == []


def test_a_directive_to_a_project_is_written(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok"])
    cli("directive", str(project), "try", "lr=0.1", check=True)
    assert (project / "workspace" / "HUMAN_DIRECTIVE.md").read_text() == "try lr=0.1\n"


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_a_description(command: str):
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    assert sub.description and len(sub.description) > 40, command
