"""Backends: where trials run. ``make_backends`` is the one place that turns config into hosts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:   # the config (pydantic) is not loaded by importing a backend's data types
    from ..config import Config
    from .base import Backend


def make_backends(config: "Config", project_dir: Path) -> "list[Backend]":
    """One backend per host; local mode is one host, this machine, working in the project's workspace."""
    mode = config.execution.mode
    workspace = (project_dir / config.project.workspace).resolve()
    name = config.project.name or project_dir.resolve().name
    if mode == "local":
        from .local import LocalBackend
        return [LocalBackend(workspace, python=config.execution.python)]
    if mode == "ssh":
        from .ssh import SSHBackend
        return [SSHBackend(host, project_name=name) for host in config.execution.hosts]
    if mode == "slurm":
        from .slurm import slurm_backend
        return [slurm_backend(config, project_dir)]
    raise ConfigError(f"{config.path}: execution.mode: {mode!r} is not available yet")
