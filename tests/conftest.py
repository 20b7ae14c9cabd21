"""Shared fixtures: a throwaway copy of the sample project."""

from __future__ import annotations

from pathlib import Path

import pytest
import shutil
import yaml

from tests.helpers import SAMPLE


@pytest.fixture
def sample_project(tmp_path: Path) -> Path:
    """A copy of the spirals sample with a fast poll."""
    project = tmp_path / "spirals"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    cfg["monitor"]["poll_interval"] = 0.2
    (project / "config.yaml").write_text(yaml.safe_dump(cfg))
    return project
