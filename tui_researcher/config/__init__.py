"""config.yaml -> typed pydantic models, with errors that name the file, the key path and the line.

Every value has a default, so a missing file is fine. Every key of the reference system's
config is accepted; a key we do not act on yet earns a one-line notice, not an error. Keys that
belong to no section, and values of the wrong type, stop the run before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .messages import key_lines, to_config_error, type_name
from .models import (AgentConfig, Config, ExecutionConfig, ExperimentConfig, GpuConfig, HostConfig, MemoryConfig,
                     MetricConfig, MonitorConfig, ObsidianConfig, Price, ProjectConfig, SearchConfig, SlurmConfig)

__all__ = ["AgentConfig", "Config", "ConfigError", "ExecutionConfig", "ExperimentConfig", "GpuConfig", "HostConfig",
           "MemoryConfig", "MetricConfig", "MonitorConfig", "ObsidianConfig", "Price", "ProjectConfig",
           "SearchConfig", "SlurmConfig", "default_for", "load_config"]

# Keys accepted for compatibility but not acted on yet: (section, key) -> why
_NOT_YET = {
    ("obsidian", "enabled"): "Obsidian notes are not written yet",
    ("monitor", "notify_on_complete"): "desktop notifications are not sent yet",
}


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader where PyYAML was built with it: the same documents, many times faster."""


def load_config(path: Path | None, *, must_exist: bool = False) -> Config:
    """Read and validate ``path``; a missing file gives the defaults unless ``must_exist``."""
    if path is None or not path.exists():
        if must_exist and path is not None:
            raise ConfigError(f"{path}: file not found")
        config = Config()
        config._path = path
        return config
    data, lines = _read_yaml(path)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise to_config_error(exc, Config, path, lines) from None
    config._notices = [f"{path.name}: {section}.{key} is accepted, but {why}"
                       for (section, key), why in _NOT_YET.items() if getattr(getattr(config, section), key)]
    config._path = path
    return config


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    """The file's mapping (keys as strings, as YAML readers expect) and the line of every key path."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML: {problem}{where}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top, got {type_name(data)}")
    return _string_keys(data), key_lines(node)


def _string_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_string_keys(v) for v in value]
    return value


def default_for(cls: type[BaseModel], name: str) -> Any:
    """The default of one field, for help text and `init`."""
    return cls.model_fields[name].get_default(call_default_factory=True)
