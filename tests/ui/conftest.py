"""Fixtures for the app's tests: a recorded loop to replay and a live loop with a slow trial.

Every test gets its own XDG_CONFIG_HOME, so no test reads or writes a person's settings.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml
from tests.helpers import edit_state
from tests.ui.helpers import FROZEN_NOW, JOB, RECORDING

from tui_researcher.config import load_config
from tui_researcher.settings import Settings
from tui_researcher.state import ProjectLock


@pytest.fixture(autouse=True)
def xdg_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture
def recording(tmp_path: Path) -> Iterator[Path]:
    """A copy of the recorded loop, with its controller shown as running: this test holds the project's lock."""
    project = tmp_path / "recording"
    shutil.copytree(RECORDING, project)
    edit_state(project, controller_pid=os.getpid())
    with ProjectLock(project / "workspace" / ".lock"):
        yield project


@pytest.fixture
def dead_recording(tmp_path: Path) -> Path:
    """The recorded loop with no controller: its state names one, but nothing holds the project's lock."""
    project = tmp_path / "recording"
    shutil.copytree(RECORDING, project)
    return project


@pytest.fixture
def replay_app(recording: Path, tmp_path: Path) -> Callable:
    """Build the app on the recording, replayed once (no follow), with a frozen clock."""
    from tui_researcher.ui.app import ResearcherApp
    from tui_researcher.ui.source import FileSource

    def build(theme: str = "researcher-dark", *, follow: bool = False) -> ResearcherApp:
        config = load_config(recording / "config.yaml")
        return ResearcherApp(FileSource(recording, config, follow=follow, poll_s=0.05),
                             settings=Settings(theme=theme), settings_path=tmp_path / "xdg" / "settings.toml",
                             clock=lambda: FROZEN_NOW, animate=False)

    return build


# a live loop whose one trial runs until stopped ----------------------------------------

@pytest.fixture
def slow_project(tmp_path: Path) -> Path:
    """A project whose single planned trial runs for a minute unless stopped."""
    project = tmp_path / "slow"
    (project / "workspace").mkdir(parents=True)
    (project / "workspace" / "job.py").write_text(JOB)
    (project / "PROJECT_BRIEF.md").write_text("# Slow\nMaximise val_acc.\n")
    cfg = {
        "project": {"name": "slow"},
        "metric": {"name": "val_acc", "goal": "max"},
        "search": {"strategy": "grid", "command": f"{sys.executable} job.py --seconds {{seconds}}",
                   "space": {"seconds": [60]}},
        "gpu": {"gpus_per_trial": 0},
        "monitor": {"poll_interval": 0.2, "stall_timeout": 600},
        "experiment": {"max_runtime": 600},
    }
    (project / "config.yaml").write_text(yaml.safe_dump(cfg))
    return project


