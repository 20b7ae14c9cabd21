"""The trial, as the ledger records it and as the monitor follows it while it runs.

``Trial`` is the ledger's whole record (plan, placement, result). ``RunningTrial`` is the small,
typed entry ``state.json`` holds for each trial that may be running: exactly what a restarted
controller needs to find it again. Both cross into JSON only through ``to_dict``/``from_dict``.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10
    class StrEnum(str, Enum):
        """A str that is also an enum member: prints, compares and serialises as its value."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return str(self.value).__format__(spec)


class TrialStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    KEEP = "keep"
    DISCARD = "discard"
    CRASH = "crash"
    DRY_RUN_FAILED = "dry_run_failed"
    GATED = "gated"
    NAN = "nan"
    STALLED = "stalled"
    TIMEOUT = "timeout"
    LAUNCH_FAILED = "launch_failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    """Planned, but the controller stopped before its launch: its configuration may be tried again."""
    CONFIRMING = "confirming"
    """It would be the new best: its re-runs with other seeds decide (experiment.confirm_seeds)."""
    SEED_RUN = "seed_run"
    """A re-run of a would-be best with another seed: its metric counts in that trial's mean."""
    PRUNED = "pruned"
    """Stopped by the monitor: its metric so far was worse than finished trials' median at that point."""

    @property
    def finished(self) -> bool:
        return self not in (TrialStatus.PENDING, TrialStatus.RUNNING, TrialStatus.CONFIRMING)


FINISHED = frozenset(s for s in TrialStatus if s.finished)
ACTIVE = frozenset({TrialStatus.PENDING, TrialStatus.RUNNING})


def status_of(value: Any) -> TrialStatus | str:
    """A status read from disk; a value a newer version wrote stays a plain string."""
    try:
        return TrialStatus(value)
    except ValueError:
        return str(value)


def better(value: float | None, than: float | None, goal: str) -> bool:
    """Is ``value`` an improvement on ``than`` under the goal (max or min)? The one place this is decided."""
    if value is None or math.isnan(value):
        return False
    if than is None:
        return True
    return value > than if goal == "max" else value < than


@dataclass
class Trial:
    id: str
    cycle: int
    parent: str | None = None
    hypothesis: str = ""
    task: str = ""
    success_criteria: str = ""
    command: str = ""
    argv: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    status: TrialStatus | str = TrialStatus.PENDING
    label: str = ""
    host: str = ""
    gpus: list[int] = field(default_factory=list)
    job_id: str = ""
    node: str = ""
    """The node a scheduler ran the job on."""
    pid: int | None = None
    """The trial runner's pid: the process group the controller signals, checked with ``start_time``."""
    start_time: str = ""
    """The process start time as the host's kernel reports it: a reused PID never matches."""
    training_pid: int | None = None
    """The training's own pid, the one shown (``kill`` it and the trial is recorded cancelled)."""
    run_dir: str = ""
    log_path: str = ""
    exit_path: str = ""
    log_offset: int = 0
    log_size: int = 0
    last_growth: float | None = None
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    metric: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    duration: float | None = None
    measured_by: str = ""
    """``evaluator`` (metric.evaluate measured it) or ``log`` (the training's own output)."""
    code_changed: bool = False
    """The trial's code differs from its base (its snapshot's diff); without a tree, the worker wrote files or ran
    shell commands in its dispatch."""
    self_reported: bool = False
    """The metric came from the log of code the worker changed in this trial, with no evaluator to check it."""
    decision: str = ""
    role: str = ""
    """The specialist role (agent.specialists) that proposed it; empty: no roles."""
    tool_calls: list[dict] = field(default_factory=list)
    dry_run: dict[str, Any] = field(default_factory=dict)
    template: list[str] = field(default_factory=list)
    """The launch command before ``{seed}`` was filled in: its seed re-runs fill it again."""
    tree: str = ""
    """Where it runs, relative to the workspace: its own copy of its parent's code plus its edits."""
    base_snapshot: str = ""
    """The snapshot its tree was built from: its parent's (the best's), or the workspace's code."""
    snapshot: str = ""
    """Its code as it ran (a commit in the controller's private git dir, ``refs/tui-researcher/<id>``)."""
    diff: str = ""
    """The unified diff against ``base_snapshot``, capped; whole in ``runs/<id>/code.diff``."""
    files_changed: list[str] = field(default_factory=list)
    seed: int | None = None
    """The seed it ran with (``{seed}``, ``SEED``); None: the command's own."""
    seed_of: str = ""
    """The trial this one re-runs with another seed (experiment.confirm_seeds)."""
    seeds: list[str] = field(default_factory=list)
    """Its re-runs with other seeds."""
    mean: float | None = None
    """Its metric's mean over itself and its seed re-runs."""
    spread: float | None = None
    """Their spread (max - min): a new best must beat the best's mean by more than this."""
    curve: dict[str, Any] = field(default_factory=dict)
    """What its log said while it trained: ``{"unit", "total", "points": [[progress, metric, loss], ...]}``."""

    def to_dict(self) -> dict[str, Any]:
        """Every field, shallow: for JSON (the store) or for reading; ``copy`` for an independent trial."""
        return {name: getattr(self, name) for name in _TRIAL_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Trial":
        trial = cls(**{k: v for k, v in data.items() if k in _TRIAL_FIELDS})
        trial.status = status_of(trial.status)
        return trial

    def copy(self) -> "Trial":
        return Trial.from_dict(asdict(self))

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def shown_pid(self) -> int | None:
        return self.training_pid or self.pid

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def elapsed(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started


_TRIAL_FIELDS = tuple(f.name for f in fields(Trial))


@dataclass(frozen=True, slots=True)
class KillOrder:
    """Why the controller is stopping a trial: recorded as its status once it has ended."""

    status: TrialStatus
    label: str


@dataclass(slots=True)
class RunningTrial:
    """A trial that may be running: where it runs and how to find it again after a restart.

    It enters state.json before its launch is attempted and leaves once its result is recorded,
    so a controller killed at any instant finds every trial it may have started.
    """

    id: str
    host: str
    run_dir: str
    tree: str = ""
    """The directory it runs in (its own code), relative to the workspace; "" for the workspace itself."""
    gpus: tuple[int, ...] = ()
    pid: int | None = None
    start_time: str = ""
    training_pid: int | None = None
    job_id: str = ""
    log_path: str = ""
    log_offset: int = 0
    started: float | None = None
    """When it really began running (a queued job: when the scheduler started it)."""
    submitted: float | None = None
    last_growth: float | None = None
    reason: str = ""
    """Why a queued job waits (Slurm's reason)."""
    node: str = ""
    launching: bool = False
    """Recorded before the launch was attempted; cleared when the backend answered."""
    kill: KillOrder | None = None
    progress: dict[str, Any] | None = None
    """The monitor's last reading of its progress (``progress.Progress.to_dict``), for ``status``."""

    @classmethod
    def of(cls, trial: Trial) -> RunningTrial:
        """The entry rebuilt from a launched trial's record, for a state that lost it (a torn state.json)."""
        return cls(id=trial.id, host=trial.host, run_dir=trial.run_dir, gpus=tuple(trial.gpus), pid=trial.pid,
                   start_time=trial.start_time, training_pid=trial.training_pid, job_id=trial.job_id,
                   log_path=trial.log_path, started=trial.started, submitted=trial.started,
                   last_growth=trial.last_growth)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["gpus"] = list(self.gpus)
        data["kill"] = {"status": str(self.kill.status), "label": self.kill.label} if self.kill else None
        return data

    @classmethod
    def from_dict(cls, trial_id: str, data: dict[str, Any]) -> "RunningTrial":
        names = {f.name for f in fields(cls)} - {"id", "gpus", "kill"}
        kill = data.get("kill")
        return cls(id=trial_id, gpus=tuple(data.get("gpus") or ()),
                   kill=KillOrder(status_of(kill["status"]), kill.get("label", "")) if kill else None,
                   **{k: v for k, v in data.items() if k in names and v is not None})


@dataclass(frozen=True, slots=True)
class TrialSample:
    """One running trial as one monitor poll saw it (faces show these; nothing is decided from them)."""

    trial_id: str
    alive: bool = True
    log_bytes: int = 0
    elapsed_s: float = 0.0
    state: str = ""
    reason: str = ""
    job_id: str = ""
    node: str = ""
    progress: dict[str, Any] | None = None
    """``progress.Progress.to_dict``: current, total, unit, eta_s; None while the log has not said."""
    points: tuple[tuple[float | None, float | None, float | None], ...] = ()
    """(progress, metric, loss) the log said since the previous poll: the live curve."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrialSample":
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["points"] = tuple(tuple(p) for p in values.get("points") or ())
        return cls(**values)
