"""config.yaml -> typed pydantic models, with errors that name the file, the key path and the line.

Every value has a default, so a missing file is fine. Every key of the reference system's
config is accepted; a key we do not act on yet earns a one-line notice, not an error. Keys that
belong to no section, and values of the wrong type, stop the run before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .messages import fail, to_config_error
from .models import (AgentConfig, Config, ExecutionConfig, ExperimentConfig, GpuConfig, HostConfig, MemoryConfig,
                     MetricConfig, MonitorConfig, NotifyConfig, ObsidianConfig, Price, ProjectConfig, SearchConfig, SlurmConfig)
from .yamlread import read_yaml

__all__ = ["AgentConfig", "Config", "ConfigError", "ExecutionConfig", "ExperimentConfig", "GpuConfig", "HostConfig",
           "MemoryConfig", "MetricConfig", "MonitorConfig", "NotifyConfig", "ObsidianConfig", "Price", "ProjectConfig",
           "SearchConfig", "SlurmConfig", "NEEDS_COMMAND", "default_for", "load_config"]

_ANY = object()
"""No value of the key is acted on: any value set in the file earns the notice."""

# Keys accepted for compatibility but not acted on yet: (section, key) -> (why, the value that asks for nothing)
_NOT_YET: dict[tuple[str, str], tuple[str, Any]] = {
    ("monitor", "zero_llm"): ("the monitor never calls an LLM, whatever it says", True),
    ("agent", "cooldown_interval"): ("there is no pause between cycles yet", 0),
    ("experiment", "log_tail_lines"): ("the log tail's length is not configurable yet", _ANY),
}

NEEDS_COMMAND = ("the offline planner has nothing to launch without it: set a template such as "
                 "\"python3 train.py --lr {lr}\" (and search.space), or use an LLM provider (agent.provider)")


def load_config(path: Path | None, *, must_exist: bool = False, provider: str | None = None,
                to_run: bool = False) -> Config:
    """Read and validate ``path``; a missing file gives the defaults unless ``must_exist``.

    ``provider`` overrides agent.provider before validation (``run --provider``). ``to_run`` also
    refuses a config the loop could never act on (the offline planner without search.command),
    which ``status``, ``doctor`` and a missing file's defaults do not need.
    """
    if path is None or not path.exists():
        if must_exist and path is not None:
            raise ConfigError(f"{path}: file not found")
        data, lines = {}, {}
    else:
        data, lines = read_yaml(path)
    if provider is not None and isinstance(data.get("agent") or {}, dict):
        data["agent"] = {**(data.get("agent") or {}), "provider": provider}
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise to_config_error(exc, Config, path or Path("config.yaml"), lines) from None
    if to_run and config.agent.provider == "offline" and not config.search.command.strip():
        line = next((lines[k] for k in (("search", "command"), ("search",), ("agent", "provider")) if k in lines), None)
        missing = "" if path is None or path.exists() else " (there is no such file: `tui-researcher init` writes one)"
        raise fail(path or Path("config.yaml"), ("search", "command"), NEEDS_COMMAND + missing, {}, line=line)
    unset = _unset_secret(config) if to_run else None
    if unset:
        i, name = unset
        raise fail(path or Path("config.yaml"), ("notify", "urls", i), f"uses ${{{name}}}, which is not set in the "
                   f"environment (export it before `run`; the secret stays out of this file)", lines)
    config._notices = _notices(config, path) if path is not None else []
    config._path = path
    return config


def _unset_secret(config: Config) -> tuple[int, str] | None:
    if not config.notify.urls:
        return None
    from ..notify import unset_in     # Apprise's module, only for a config that has URLs

    return unset_in(config.notify.urls)


def _notices(config: Config, path: Path) -> list[str]:
    """One line per reason, naming every key set in the file that asks for something not done yet."""
    by_why: dict[str, list[str]] = {}
    for (section, key), (why, harmless) in _NOT_YET.items():
        part = getattr(config, section)
        if key in part.model_fields_set and getattr(part, key) != harmless:
            by_why.setdefault(why, []).append(f"{section}.{key}")
    return [f"{path.name}: {', '.join(keys)} {'is' if len(keys) == 1 else 'are'} accepted, but {why}"
            for why, keys in by_why.items()]


def default_for(cls: type[BaseModel], name: str) -> Any:
    """The default of one field, for help text and `init`."""
    return cls.model_fields[name].get_default(call_default_factory=True)
