"""The sections of config.yaml as pydantic models: types, defaults and per-value checks in one place.

Models are strict (``'15'`` is not an integer) and forbid unknown keys, so a typo stops the run.
Checks raise ``PydanticCustomError("config", message)`` with the finished wording; a check on a whole
section may name the key it is about with ``at`` in the context (``messages.py`` appends it to the path).
"""

from __future__ import annotations

import math
import re
import shlex
from pathlib import Path
from typing import Annotated, Any, Callable

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, PrivateAttr, field_validator,
                      model_validator)

from .messages import config_error, type_name
from .reference import name_hosts, reference_host


def _one_of(*choices: str) -> Any:
    """A string from a fixed set; a Literal would word its error differently from the rest."""
    def check(value: str) -> str:
        if value not in choices:
            raise config_error(f"expected one of {', '.join(choices)}, got {value!r}")
        return value
    return Annotated[str, AfterValidator(check)]


def _checked(check: Callable[[Any], str | None]) -> Callable[[Any], Any]:
    """An AfterValidator from a function that returns a complaint, or None when the value is fine."""
    def validate(value: Any) -> Any:
        problem = check(value)
        if problem:
            raise config_error(problem)
        return value
    return validate


def _gate_problem(gate: Any) -> str | None:
    from ..metrics import parse_gate      # metrics imports this package; import at use
    try:
        _, threshold = parse_gate(gate)
    except ValueError as exc:
        return str(exc)
    return None if math.isfinite(threshold) else f"must be a finite number, got {gate!r}"


def _non_finite(values: Any) -> str | None:
    """A complaint about the first NaN or infinity among free-form values (YAML's .nan, .inf)."""
    for value in values:
        if isinstance(value, float) and not math.isfinite(value):
            return f"values must be finite numbers, got {value!r}"
    return None


def _values_problem(values: list[Any]) -> str | None:
    return _non_finite(values) if values else "needs at least one value"


PLACEHOLDER = re.compile(r"\{(\w+)\}")
"""``{name}`` in a command template, filled from a search.space key (``planner.render_argv``)."""


def unfilled(template: str | None, names: Any) -> list[str]:
    """The placeholders of ``template`` that no name in ``names`` fills."""
    return [p for p in dict.fromkeys(PLACEHOLDER.findall(template or "")) if p not in names]


Mode = _one_of("local", "ssh", "slurm")
Provider = _one_of("offline", "anthropic", "openai")
Goal = _one_of("max", "min")
Prune = _one_of("none", "median")
Strategy = _one_of("grid", "random", "best_neighbour")
Gate = Annotated[Any, AfterValidator(_checked(_gate_problem))]
Values = Annotated[list[Any], AfterValidator(_checked(_values_problem))]


class Section(BaseModel):
    """A config section: strict types, no unknown keys, and an empty (``null``) section means defaults."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _null_is_empty(cls, data: Any) -> Any:
        return {} if data is None else data


def _usd(value: Any) -> float:
    """A plain check, so a wrong type and a negative price get the same one message."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise config_error(f"expected a non-negative number, got {value!r}")
    return float(value)


USD = Annotated[float, PlainValidator(_usd)]


class Price(BaseModel):
    """USD per million tokens; ``agent.pricing`` entries are validated into these, once, at load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: USD = Field(description="USD per million tokens")
    output: USD = Field(description="USD per million tokens")
    cache_read: USD
    cache_write: USD

    @model_validator(mode="before")
    @classmethod
    def _cache_prices_default_to_input(cls, data: Any) -> Any:
        """An omitted (or null) cache price is the input price: no cache rate, cached tokens cost as input."""
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if v is not None}
        if "input" in data:
            data.setdefault("cache_read", data["input"])
            data.setdefault("cache_write", data["input"])
        return data


class ProjectConfig(Section):
    name: str = ""
    """Shown in the header; defaults to the project directory's name."""
    brief: str = "PROJECT_BRIEF.md"
    workspace: str = "workspace"
    """Where code, logs and the controller's files live (relative to the project)."""


class HostConfig(Section):
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


class SlurmConfig(Section):
    partition: str | None = None
    gpus_per_trial: int | None = None
    time_limit: str | None = None
    sbatch_args: list[str] = Field(default_factory=list)
    host: str | None = None


class ExecutionConfig(Section):
    mode: Mode = "local"
    python: str = ""
    """Interpreter for local trials and the local helper; empty: the one running tui-researcher."""
    hosts: list[HostConfig] = Field(default_factory=list)
    slurm: SlurmConfig = Field(default_factory=SlurmConfig)
    # the reference system's single-host keys, folded into ``hosts``
    ssh_host: str | None = None
    remote_workspace: str | None = None
    remote_python: str | None = None
    ssh_args: list[str] | str | None = None

    @field_validator("ssh_args", mode="plain")
    @classmethod
    def _list_or_string(cls, value: Any) -> list[str] | str | None:
        """A plain check, so a bad value gets one message rather than one per member of the union."""
        if value is None or isinstance(value, str) or (isinstance(value, list)
                                                       and all(isinstance(v, str) for v in value)):
            return value
        raise config_error(f"expected a list or a string, got {type_name(value)} {value!r}")

    @model_validator(mode="after")
    def _hosts(self) -> "ExecutionConfig":
        if self.ssh_host and not self.hosts:
            self.hosts = [HostConfig(**reference_host(self.ssh_host, self.remote_workspace, self.remote_python,
                                                      self.ssh_args))]
        name_hosts(self.hosts)
        if self.mode == "ssh" and not self.hosts:
            raise config_error("ssh mode needs at least one host (or ssh_host)", "hosts")
        return self


class AgentConfig(Section):
    provider: Provider = "offline"
    model: str = ""
    base_url: str | None = None
    api_key_env: str | None = None
    auth_token_env: str | None = None
    max_cycles: int = Field(0, ge=0)
    """0 (or -1, the reference system's spelling): run until stopped."""
    max_steps_per_cycle: int = Field(12, gt=0)
    cooldown_interval: float = 0.0
    no_progress_fallback_threshold: int = 5
    max_usd_per_day: float = Field(0.0, ge=0)
    """0: no daily cap."""
    pricing: dict[str, Price] = Field(default_factory=dict)
    """Model-name prefix -> price; overrides the built-in table in ``agents/usage.py``."""
    request_timeout: float = Field(120.0, gt=0)
    """Seconds for one provider request; the SDK retries on top (agent.max_retries)."""
    max_retries: int = Field(2, ge=0)
    """SDK retries of a request on 408/409/429/5xx and timeouts, honouring retry-after."""
    max_tool_output_chars: int = Field(4000, gt=0)
    tool_timeout: float = Field(120.0, gt=0)
    """Seconds a run_shell command (and a paper search, capped at 30) may take; the model cannot change it."""
    paper_search_url: str = "https://export.arxiv.org/api/query"
    """The arXiv-compatible query endpoint the idea worker searches."""

    @field_validator("max_cycles", mode="before")
    @classmethod
    def _minus_one_is_forever(cls, value: Any) -> Any:
        """The reference system's config.yaml says ``-1`` for "run forever"; here that is 0."""
        return 0 if type(value) is int and value == -1 else value


class MemoryConfig(Section):
    brief_max_chars: int = Field(3000, gt=0)
    log_max_chars: int = Field(2000, gt=0)
    milestone_max_chars: int = Field(1200, gt=0)
    max_recent_entries: int = Field(15, gt=0)


class GpuConfig(Section):
    auto_detect: bool = True
    reserve_last: bool = False
    gpus_per_trial: int = Field(1, ge=0)
    max_memory_used_mb: int = 1024
    max_utilization: int = 10


class MonitorConfig(Section):
    poll_interval: float = Field(30.0, gt=0)
    stall_timeout: float = Field(1800.0, ge=0)
    zero_llm: bool = True
    notify_on_complete: bool = False
    progress: str | None = None
    """A regex for the trial's progress, named groups ``current`` and ``total``; default: epoch, step, tqdm."""
    prune: Prune = "none"
    """``median``: stop a trial whose best metric so far is worse than finished trials' median at that point."""
    prune_warmup: float = Field(1.0, ge=0)
    """Progress (epochs or steps, as the log counts) before a trial may be pruned."""
    prune_min_trials: int = Field(3, ge=1)
    """Finished trials with a curve needed before any trial is pruned."""

    @field_validator("progress")
    @classmethod
    def _progress_regex(cls, value: str | None) -> str | None:
        try:
            pattern = re.compile(value or "")
        except re.error as exc:
            raise config_error(f"not a valid regular expression: {exc}") from exc
        if value and "current" not in pattern.groupindex and pattern.groups < 1:
            raise config_error("needs a group for the progress: (?P<current>\\d+), and (?P<total>\\d+) if the log says it")
        return value


class ExperimentConfig(Section):
    mandatory_dry_run: bool = True
    dry_run_command: str | None = None
    """Template like ``python train.py --dry-run --lr {lr}``; empty: the command plus ``--dry-run``."""
    dry_run_timeout: float = 300.0
    max_runtime: float = Field(0.0, ge=0)
    """Seconds before a trial is killed as ``timeout``; 0: no limit."""
    max_parallel: int = Field(1, gt=0)
    log_tail_lines: int = 50


class ObsidianConfig(Section):
    enabled: bool = False
    vault_path: str | None = None
    project_subdir: str | None = None
    dashboard_note: str | None = None
    daily_dir: str | None = None
    auto_append_daily: bool = False
    local_fallback_dir: str | None = None


class MetricConfig(Section):
    name: str = "val_loss"
    goal: Goal = "min"
    pattern: str | None = None
    """A regex with one group (or a group named ``value``) for the metric; default: key: value lines."""
    json_key: str | None = None
    file: str | None = None
    """A JSON results file in the trial's run directory (``runs/<id>/``; the trial's cwd is the workspace)."""
    gates: dict[str, Gate] = Field(default_factory=dict)
    """``{other_metric: ">= 0.96"}``: a trial that misses a gate is ``gated``, never ``keep``."""

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise config_error("must not be empty: the name the controller reads from the log, e.g. val_loss")
        return value

    @field_validator("pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        try:
            re.compile(value or "")
        except re.error as exc:
            raise config_error(f"not a valid regular expression: {exc}") from exc
        return value


class SearchConfig(Section):
    strategy: Strategy = "best_neighbour"
    space: dict[str, Values] = Field(default_factory=dict)
    command: str = ""
    """Template: ``python train.py --lr {lr}``; each value becomes one argument, never shell text."""
    baseline: dict[str, Any] = Field(default_factory=dict)
    seed: int = 0
    exploration: float = 0.2

    @field_validator("command")
    @classmethod
    def _splits(cls, value: str) -> str:
        try:
            shlex.split(value)
        except ValueError as exc:
            raise config_error(f"cannot be split into arguments: {exc}") from exc
        return value

    @field_validator("baseline")
    @classmethod
    def _finite_baseline(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = _non_finite(value.values())
        if problem:
            raise config_error(problem)
        return value

    @model_validator(mode="after")
    def _placeholders_filled(self) -> "SearchConfig":
        """A ``{name}`` nothing fills would reach the training script as the literal text."""
        missing = unfilled(self.command, self.space)
        if missing:
            keys = ", ".join(self.space) or "none"
            raise config_error(f"{{{missing[0]}}} is filled by no search.space key (keys: {keys})", "command")
        return self


class Config(Section):
    project: ProjectConfig = Field(default_factory=ProjectConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    gpu: GpuConfig = Field(default_factory=GpuConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    experiment: ExperimentConfig = Field(default_factory=ExperimentConfig)
    obsidian: ObsidianConfig = Field(default_factory=ObsidianConfig)
    metric: MetricConfig = Field(default_factory=MetricConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)

    # Not keys of the file: set by load_config, so ``notices:`` or ``path:`` in the YAML is still unknown.
    _notices: list[str] = PrivateAttr(default_factory=list)
    _path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _dry_run_placeholders_filled(self) -> "Config":
        """The offline planner fills experiment.dry_run_command from search.space, as it fills search.command."""
        missing = unfilled(self.experiment.dry_run_command, self.search.space)
        if self.agent.provider == "offline" and missing:
            keys = ", ".join(self.search.space) or "none"
            raise config_error(f"{{{missing[0]}}} is filled by no search.space key (keys: {keys})",
                               "experiment", "dry_run_command")
        return self

    @property
    def notices(self) -> list[str]:
        """One line for each key that is accepted but not acted on yet."""
        return self._notices

    @property
    def path(self) -> Path | None:
        return self._path

