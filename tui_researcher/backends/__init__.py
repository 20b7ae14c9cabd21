"""Backends: where trials run. ``make_backends`` is the one place that turns config into hosts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, ResearcherError

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
        return only_gpus([LocalBackend(workspace, python=config.execution.python)], config.gpu.only)
    if mode == "ssh":
        from .ssh import SSHBackend
        return only_gpus([SSHBackend(host, project_name=name) for host in config.execution.hosts], config.gpu.only)
    if mode == "slurm":
        from .slurm import slurm_backend
        return [slurm_backend(config, project_dir)]
    raise ConfigError(f"{config.path}: execution.mode: {mode!r} is not available yet")


def only_gpus(backends: "list[Backend]", only: list[int] | None) -> "list[Backend]":
    """``run --gpu``: every host keeps only those GPUs, within its own ``gpus`` key where it has one."""
    if only is not None:
        for backend in backends:
            allowed = backend.allowed_gpus
            backend.allowed_gpus = [g for g in only if allowed is None or g in allowed]
    return backends


def parse_gpus(text: str) -> list[int]:
    """``0,1`` -> [0, 1]; anything else is one line naming the option."""
    try:
        gpus = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        gpus = []
    if not gpus or any(g < 0 for g in gpus):
        raise ResearcherError(f"--gpu: expected GPU indices separated by commas, such as 0,1; got {text!r}")
    return list(dict.fromkeys(gpus))
