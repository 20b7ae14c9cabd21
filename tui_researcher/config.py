"""config.yaml -> typed dataclasses, with errors that name the file, the key path and the line.

Every value has a default, so a missing file is fine. Every key of the reference system's
config is accepted; a key we do not act on yet earns a one-line notice, not an error. Keys that
belong to no section, and values of the wrong type, stop the run before anything is written.
"""

from __future__ import annotations

import difflib
import shlex
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


@dataclass
class ProjectConfig:
    name: str = ""
    """Shown in the header; defaults to the project directory's name."""
    brief: str = "PROJECT_BRIEF.md"
    workspace: str = "workspace"
    """Where code, logs and the controller's files live (relative to the project)."""


@dataclass
class HostConfig:
    host: str = "localhost"
    port: int | None = None
    user: str | None = None
    workspace: str = ""
    """Remote workspace; empty: ``~/tui-researcher/<project name>``."""
    python: str = "python3"
    gpus: list[int] | None = None
    """GPU indices this project may use on the host; None: all."""
    name: str = ""
    identity_file: str | None = None
    known_hosts: str | None = None
    jump_host: str | None = None


@dataclass
class SlurmConfig:
    partition: str | None = None
    gpus_per_trial: int | None = None
    time_limit: str | None = None
    sbatch_args: list[str] = field(default_factory=list)
    host: str | None = None


@dataclass
class ExecutionConfig:
    mode: str = "local"
    python: str = ""
    """Interpreter for local trials and the local helper; empty: the one running tui-researcher."""
    hosts: list[HostConfig] = field(default_factory=list)
    slurm: SlurmConfig = field(default_factory=SlurmConfig)
    # the reference system's single-host keys
    ssh_host: str | None = None
    remote_workspace: str | None = None
    remote_python: str | None = None
    ssh_args: list[str] | str | None = None


@dataclass
class AgentConfig:
    provider: str = "offline"
    model: str = ""
    base_url: str | None = None
    api_key_env: str | None = None
    auth_token_env: str | None = None
    max_cycles: int = 0
    """0: run until stopped."""
    max_steps_per_cycle: int = 12
    cooldown_interval: float = 0.0
    no_progress_fallback_threshold: int = 5
    max_usd_per_day: float = 0.0
    """0: no daily cap."""
    pricing: dict[str, Any] = field(default_factory=dict)
    request_timeout: float = 120.0
    """Seconds for one provider request; the SDK retries on top (agent.max_retries)."""
    max_retries: int = 2
    """SDK retries of a request on 408/409/429/5xx and timeouts, honouring retry-after."""
    max_tool_output_chars: int = 4000
    tool_timeout: float = 120.0
    """Seconds a run_shell command (and a paper search, capped at 30) may take; the model cannot change it."""
    paper_search_url: str = "https://export.arxiv.org/api/query"
    """The arXiv-compatible query endpoint the idea worker searches."""


@dataclass
class MemoryConfig:
    brief_max_chars: int = 3000
    log_max_chars: int = 2000
    milestone_max_chars: int = 1200
    max_recent_entries: int = 15


@dataclass
class GpuConfig:
    auto_detect: bool = True
    reserve_last: bool = False
    gpus_per_trial: int = 1
    max_memory_used_mb: int = 1024
    max_utilization: int = 10


@dataclass
class MonitorConfig:
    poll_interval: float = 30.0
    stall_timeout: float = 1800.0
    zero_llm: bool = True
    notify_on_complete: bool = False


@dataclass
class ExperimentConfig:
    mandatory_dry_run: bool = True
    dry_run_command: str | None = None
    """Template like ``python train.py --dry-run --lr {lr}``; empty: the command plus ``--dry-run``."""
    dry_run_timeout: float = 300.0
    max_runtime: float = 0.0
    """Seconds before a trial is killed as ``timeout``; 0: no limit."""
    max_parallel: int = 1
    log_tail_lines: int = 50


@dataclass
class ObsidianConfig:
    enabled: bool = False
    vault_path: str | None = None
    project_subdir: str | None = None
    dashboard_note: str | None = None
    daily_dir: str | None = None
    auto_append_daily: bool = False
    local_fallback_dir: str | None = None


@dataclass
class MetricConfig:
    name: str = "val_loss"
    goal: str = "min"
    pattern: str | None = None
    """A regex with one group (or a group named ``value``) for the metric; default: key: value lines."""
    json_key: str | None = None
    file: str | None = None
    """A JSON results file in the trial's run directory (``runs/<id>/``; the trial's cwd is the workspace)."""
    gates: dict[str, Any] = field(default_factory=dict)
    """``{other_metric: ">= 0.96"}``: a trial that misses a gate is ``gated``, never ``keep``."""


@dataclass
class SearchConfig:
    strategy: str = "best_neighbour"
    space: dict[str, list[Any]] = field(default_factory=dict)
    command: str = ""
    """Template: ``python train.py --lr {lr}``; each value becomes one argument, never shell text."""
    baseline: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    exploration: float = 0.2


@dataclass
class Config:
    project: ProjectConfig = field(default_factory=ProjectConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    gpu: GpuConfig = field(default_factory=GpuConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    obsidian: ObsidianConfig = field(default_factory=ObsidianConfig)
    metric: MetricConfig = field(default_factory=MetricConfig)
    search: SearchConfig = field(default_factory=SearchConfig)

    notices: list[str] = field(default_factory=list, repr=False)
    path: Path | None = field(default=None, repr=False)


# Keys accepted for compatibility but not acted on yet: (section, key) -> why
_NOT_YET = {
    ("obsidian", "enabled"): "Obsidian notes are not written yet",
    ("monitor", "notify_on_complete"): "desktop notifications are not sent yet",
}

_CHOICES = {
    ("execution", "mode"): ("local", "ssh", "slurm"),
    ("agent", "provider"): ("offline", "anthropic", "openai"),
    ("metric", "goal"): ("max", "min"),
    ("search", "strategy"): ("grid", "random", "best_neighbour"),
}

_POSITIVE = {
    ("monitor", "poll_interval"), ("experiment", "max_parallel"), ("memory", "log_max_chars"),
    ("memory", "brief_max_chars"), ("memory", "milestone_max_chars"), ("memory", "max_recent_entries"),
    ("agent", "request_timeout"), ("agent", "tool_timeout"), ("agent", "max_tool_output_chars"),
    ("agent", "max_steps_per_cycle"),
}


def load_config(path: Path | None, *, must_exist: bool = False) -> Config:
    """Read and validate ``path``; a missing file gives the defaults unless ``must_exist``."""
    if path is None or not path.exists():
        if must_exist and path is not None:
            raise ConfigError(f"{path}: file not found")
        config = Config()
        config.path = path
        return config
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML: {problem}{where}") from exc
    lines = _key_lines(node)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top, got {_tname(data)}")
    notices: list[str] = []
    config = _build(Config, data, (), path, lines, notices)
    _normalise(config, path, lines)
    config.notices = notices
    config.path = path
    return config


def _key_lines(node: yaml.Node | None, prefix: tuple = ()) -> dict[tuple, int]:
    """Map each key path to its 1-based line, so errors can point at it."""
    out: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = (*prefix, str(key_node.value))
            out[key] = key_node.start_mark.line + 1
            out.update(_key_lines(value_node, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = (*prefix, str(i))
            out[key] = item.start_mark.line + 1
            out.update(_key_lines(item, key))
    return out


def _fail(path: Path, keypath: tuple, message: str, lines: dict[tuple, int]) -> ConfigError:
    line = lines.get(tuple(str(k) for k in keypath))
    where = f" (line {line})" if line else ""
    dotted = ".".join(str(k) for k in keypath) or "(top)"
    return ConfigError(f"{path}: {dotted}: {message}{where}")


def _tname(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "nothing"}.get(type(value), type(value).__name__)


def _build(cls: type, data: Any, keypath: tuple, path: Path, lines: dict, notices: list[str]) -> Any:
    if not isinstance(data, dict):
        raise _fail(path, keypath, f"expected a mapping, got {_tname(data)} {data!r}", lines)
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.name not in ("notices", "path")}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        key_s = str(key)
        if key_s not in known:
            close = difflib.get_close_matches(key_s, list(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(known)}"
            raise _fail(path, (*keypath, key_s), f"unknown key{hint}", lines)
        kwargs[key_s] = _coerce(hints[key_s], value, (*keypath, key_s), path, lines, notices)
        why = _NOT_YET.get((*keypath, key_s)) if len(keypath) == 1 else None
        if why and value:
            notices.append(f"{path.name}: {'.'.join((*keypath, key_s))} is accepted, but {why}")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, keypath: tuple, path: Path, lines: dict, notices: list[str]) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(option, value, keypath, path, lines, notices)
            except ConfigError as exc:
                errors.append(exc)
        wanted = " or ".join(_describe(a) for a in args if a is not type(None))
        if len(errors) == 1:
            raise errors[0]
        raise _fail(path, keypath, f"expected {wanted}, got {_tname(value)} {value!r}", lines)
    if is_dataclass(hint):
        return _build(hint, value if value is not None else {}, keypath, path, lines, notices)
    if origin is list:
        if not isinstance(value, list):
            raise _fail(path, keypath, f"expected a list, got {_tname(value)} {value!r}", lines)
        item = args[0] if args else Any
        return [_coerce(item, v, (*keypath, str(i)), path, lines, notices) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(path, keypath, f"expected a mapping, got {_tname(value)} {value!r}", lines)
        item = args[1] if len(args) == 2 else Any
        return {str(k): _coerce(item, v, (*keypath, str(k)), path, lines, notices) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    raise _fail(path, keypath, f"expected {_describe(hint)}, got {_tname(value)} {value!r}", lines)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is list:
        return "a list"
    if origin is dict or is_dataclass(hint):
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def _normalise(config: Config, path: Path, lines: dict) -> None:
    """Value checks beyond types, and the reference system's single-host keys folded into ``hosts``."""
    for (section, key), choices in _CHOICES.items():
        value = getattr(getattr(config, section), key)
        if value not in choices:
            raise _fail(path, (section, key), f"expected one of {', '.join(choices)}, got {value!r}", lines)
    for section, key in _POSITIVE:
        value = getattr(getattr(config, section), key)
        if value <= 0:
            raise _fail(path, (section, key), f"must be greater than 0, got {value!r}", lines)
    for section, key in (("monitor", "stall_timeout"), ("experiment", "max_runtime"), ("gpu", "gpus_per_trial"),
                         ("agent", "max_cycles"), ("agent", "max_usd_per_day"), ("agent", "max_retries")):
        if getattr(getattr(config, section), key) < 0:
            raise _fail(path, (section, key), "must not be negative", lines)
    if config.metric.pattern:
        import re
        try:
            re.compile(config.metric.pattern)
        except re.error as exc:
            raise _fail(path, ("metric", "pattern"), f"not a valid regular expression: {exc}", lines) from exc
    from .metrics import parse_gate
    for name, gate in config.metric.gates.items():
        try:
            parse_gate(gate)
        except ValueError as exc:
            raise _fail(path, ("metric", "gates", name), str(exc), lines) from exc
    for name, values in config.search.space.items():
        if not values:
            raise _fail(path, ("search", "space", name), "needs at least one value", lines)
    if config.search.command:
        try:
            shlex.split(config.search.command)
        except ValueError as exc:
            raise _fail(path, ("search", "command"), f"cannot be split into arguments: {exc}", lines) from exc
    ex = config.execution
    if ex.ssh_host and not ex.hosts:
        ex.hosts = [_host_from_reference(ex, path, lines)]
    _name_hosts(ex.hosts, path, lines)
    if ex.mode == "ssh" and not ex.hosts:
        raise _fail(path, ("execution", "hosts"), "ssh mode needs at least one host (or ssh_host)", lines)


def _name_hosts(hosts: list[HostConfig], path: Path, lines: dict) -> None:
    """Every host gets a unique name: its address, or address:port where two share an address."""
    addresses = [h.host for h in hosts if not h.name]
    for host in hosts:
        if not host.name:
            host.name = host.host if addresses.count(host.host) == 1 else f"{host.host}:{host.port or 22}"
    names = [h.name for h in hosts]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise _fail(path, ("execution", "hosts", str(i), "name"), f"host name {name!r} is used twice", lines)


def _host_from_reference(ex: ExecutionConfig, path: Path, lines: dict) -> HostConfig:
    """Turn ``ssh_host``/``remote_workspace``/``remote_python``/``ssh_args`` into a HostConfig."""
    host = HostConfig(host=ex.ssh_host or "localhost", workspace=ex.remote_workspace or "",
                      python=ex.remote_python or "python3")
    if "@" in host.host:
        host.user, host.host = host.host.split("@", 1)
    args = ex.ssh_args or []
    if isinstance(args, str):
        args = shlex.split(args)
    it = iter(args)
    for arg in it:
        try:
            if arg == "-p":
                host.port = int(next(it))
            elif arg == "-i":
                host.identity_file = next(it)
            elif arg == "-l":
                host.user = next(it)
            elif arg == "-J":
                host.jump_host = next(it)
            elif arg == "-o":
                _apply_ssh_option(host, next(it))
            elif arg.startswith("-o"):
                _apply_ssh_option(host, arg[2:])
            elif arg.startswith("-p") and arg[2:].isdigit():
                host.port = int(arg[2:])
        except (StopIteration, ValueError) as exc:
            raise _fail(path, ("execution", "ssh_args"), f"cannot read ssh option {arg!r}", lines) from exc
    return host


def _apply_ssh_option(host: HostConfig, option: str) -> None:
    key, _, value = option.replace(" ", "=", 1).partition("=")
    key = key.strip().lower()
    if key == "port":
        host.port = int(value)
    elif key == "identityfile":
        host.identity_file = value
    elif key == "userknownhostsfile":
        host.known_hosts = value
    elif key == "user":
        host.user = value
    elif key == "proxyjump":
        host.jump_host = value


def default_for(cls: type, name: str) -> Any:
    """The default of one field, for help text and `init`."""
    for f in fields(cls):
        if f.name == name:
            if f.default is not MISSING:
                return f.default
            if f.default_factory is not MISSING:  # type: ignore[misc]
                return f.default_factory()  # type: ignore[misc]
    raise KeyError(name)
