"""The sections of config.yaml as pydantic models: types, defaults and per-value checks in one place.

Models are strict (``'15'`` is not an integer) and forbid unknown keys, so a typo stops the run.
Checks raise ``PydanticCustomError("config", message)`` with the finished wording; a check on a whole
section may name the key it is about with ``at`` in the context (``messages.py`` appends it to the path).
"""

from __future__ import annotations

import importlib.util
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


SEED = "seed"
"""The placeholder every command may hold: the trial's seed (0, or a seed re-run's)."""


def unfilled(template: str | None, names: Any) -> list[str]:
    """The placeholders of ``template`` that no name in ``names`` fills."""
    return [p for p in dict.fromkeys(PLACEHOLDER.findall(template or "")) if p not in names]


EVALUATE_FIELDS = ("run_dir", "trial", "workspace")
"""The placeholders of ``metric.evaluate``: the run directory and workspace as absolute host paths."""

Mode = _one_of("local", "ssh", "slurm")
Provider = _one_of("offline", "anthropic", "openai", "claude_cli", "codex_cli")
Goal = _one_of("max", "min")
Prune = _one_of("none", "median")
Strategy = _one_of("grid", "random", "best_neighbour", "tpe")
Selection = _one_of("ucb", "fifo")
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


class Specialist(Section):
    """A role of its own in the loop: its focus text reaches the leader's THINK for that role's trials."""

    role: str = Field(min_length=1)
    focus: str = ""
    model: str | None = None
    """This role's own model (same provider); empty: agent.model."""


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
    tool_network: bool = False
    """Whether run_shell commands reach the network (they run in a network namespace of their own otherwise)."""
    tool_memory_mb: int = Field(8192, gt=0)
    """Address-space limit of a run_shell command."""
    tool_max_processes: int = Field(256, gt=0)
    """How many more processes a run_shell command may start."""
    tool_readable: list[str] = Field(default_factory=list)
    """Paths outside the workspace run_shell may read (a dataset to inspect): it sees only the system's
    directories, the workspace and the tools on PATH otherwise (``~`` is the host's home)."""
    cli_path: str = ""
    """claude_cli / codex_cli: the CLI's executable ("": ``claude`` or ``codex`` on PATH)."""
    cli_args: list[str] = Field(default_factory=list)
    """claude_cli / codex_cli: extra arguments for every run of the CLI."""
    cli_timeout: float = Field(600.0, gt=0)
    """claude_cli / codex_cli: seconds the CLI may go without a tool call or an answer before it is stopped."""
    specialists: list[Specialist] = Field(default_factory=list)
    """Roles (architecture, optimisation, data, ...) that share the ledger and the hypothesis pool."""

    @field_validator("specialists")
    @classmethod
    def _roles_differ(cls, value: list[Specialist]) -> list[Specialist]:
        roles = [s.role for s in value]
        twice = sorted({r for r in roles if roles.count(r) > 1})
        if twice:
            raise config_error(f"role {twice[0]!r} appears twice: each specialist needs its own role")
        return value

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
    lineage_max_chars: int = Field(3000, gt=0)
    """The lineage (best chain, last trials, failures by label) as the leader and the workers see it at most."""


class GpuConfig(Section):
    auto_detect: bool = True
    reserve_last: bool = False
    gpus_per_trial: int = Field(1, ge=0)
    only: list[Annotated[int, Field(ge=0)]] | None = None
    """GPU indices trials may use on every local and SSH host (``run --gpu 0,1``); None: all."""
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
    confirm_seeds: int = Field(0, ge=0)
    """A would-be best is re-run with this many more seeds (``{seed}``, ``SEED``) and kept only if its
    mean beats the best's by more than the spread; 0: kept on one run."""
    writable: list[str] = Field(default_factory=lambda: list(DEFAULT_WRITABLE))
    """Paths outside the trial's tree that training and dry-runs may write (``~`` is the host's home)."""
    network: bool = True
    """Whether training, dry-runs and the evaluator reach the network (multi-node jobs, downloads)."""


DEFAULT_WRITABLE = ("~/.cache/huggingface", "~/.cache/torch", "/dev/shm")


class ObsidianConfig(Section):
    enabled: bool = False
    vault_path: str | None = None
    project_subdir: str | None = None
    dashboard_note: str | None = None
    daily_dir: str | None = None
    auto_append_daily: bool = False
    local_fallback_dir: str | None = None


class NotifyConfig(Section):
    urls: list[str] = Field(default_factory=list)
    """Apprise URLs (ntfy://, slack://, discord://, tgram://, mailto://, json://...). ``${VAR}`` is read from
    the environment when sent, so a token stays out of this file."""
    apprise_config: str | None = None
    """An Apprise config file (YAML or text) with more URLs, e.g. ``~/.config/apprise/apprise.yml``."""
    crash_streak: int = Field(3, ge=1)
    """Failed trials in a row that earn a message."""
    host_down_after: float = Field(300.0, gt=0)
    """Seconds a host stays unreachable before a message."""

    @field_validator("urls")
    @classmethod
    def _understood(cls, urls: list[str]) -> list[str]:
        from ..notify import url_problem     # Apprise is imported only when URLs are given
        for i, url in enumerate(urls):
            problem = url_problem(url)
            if problem:
                raise config_error(problem, i)
        return urls


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
    evaluate: str | None = None
    """Template like ``python3 eval.py --run-dir {run_dir}``: run sandboxed after a trial exits 0; its output
    (parsed by the rules above) is the trial's metric. Placeholders: {run_dir}, {trial}, {workspace}."""
    evaluate_timeout: float = Field(600.0, gt=0)
    protected: list[str] = Field(default_factory=list)
    """Workspace-relative paths or globs (held-out data) read-only to every command of the worker's side."""

    @field_validator("evaluate")
    @classmethod
    def _evaluate(cls, value: str | None) -> str | None:
        try:
            words = shlex.split(value or "")
        except ValueError as exc:
            raise config_error(f"cannot be split into arguments: {exc}") from exc
        if value is not None and not words:
            raise config_error("must name a command, e.g. python3 eval.py --run-dir {run_dir}")
        missing = unfilled(value, EVALUATE_FIELDS)
        if missing:
            raise config_error(f"{{{missing[0]}}} is not a placeholder here (use {', '.join(EVALUATE_FIELDS)})")
        return value

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
    random_probes: int = Field(3, ge=0)
    """best_neighbour: this many random configurations after the baseline, before refining the best."""

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

    @field_validator("strategy")
    @classmethod
    def _tpe_installed(cls, value: str) -> str:
        if value == "tpe" and importlib.util.find_spec("optuna") is None:
            raise config_error("tpe needs Optuna, an optional extra: pip install 'tui-researcher[optuna]' "
                               "(or choose best_neighbour, which needs nothing)")
        return value

    @model_validator(mode="after")
    def _placeholders_filled(self) -> "SearchConfig":
        """A ``{name}`` nothing fills would reach the training script as the literal text."""
        missing = unfilled(self.command, [*self.space, SEED])
        if missing:
            keys = ", ".join(self.space) or "none"
            raise config_error(f"{{{missing[0]}}} is filled by no search.space key (keys: {keys})", "command")
        return self


class StrategyConfig(Section):
    """The LLM leader's hypothesis pool (``hypotheses.py``)."""

    selection: Selection = "ucb"
    ucb_c: float = Field(0.5, ge=0)
    """Weight of the exploration bonus in the upper-confidence score."""
    pool_max: int = Field(20, gt=0)
    max_tries: int = Field(1, gt=0)
    """Trials one hypothesis may get before it is done; above 1, a hypothesis's results weigh in its score
    (worth it when results are noisy)."""


class Config(Section):
    project: ProjectConfig = Field(default_factory=ProjectConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    gpu: GpuConfig = Field(default_factory=GpuConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    experiment: ExperimentConfig = Field(default_factory=ExperimentConfig)
    obsidian: ObsidianConfig = Field(default_factory=ObsidianConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    metric: MetricConfig = Field(default_factory=MetricConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)

    # Not keys of the file: set by load_config, so ``notices:`` or ``path:`` in the YAML is still unknown.
    _notices: list[str] = PrivateAttr(default_factory=list)
    _path: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _dry_run_placeholders_filled(self) -> "Config":
        """The offline planner fills experiment.dry_run_command from search.space, as it fills search.command."""
        missing = unfilled(self.experiment.dry_run_command, [*self.search.space, SEED])
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

