"""Events (controller -> faces) and commands (faces -> controller): plain frozen dataclasses.

The Textual app and the headless printer subscribe to the same stream; both send the same
commands. Events round-trip through JSON so a face can attach to a loop running elsewhere.
Free text (a log's failure line, a model's words, a provider's error) is made inert here, where
each event is made, so no face and no later reader can print a terminal escape (``textsafe``).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Union

from .backends.gpu import GpuReading
from .phase import Phase
from .textsafe import inert_value
from .trial import TrialSample, TrialStatus, status_of

__all__ = ["Phase", "TrialStatus", "TrialSample", "GpuReading"]




def _now() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class Event:
    kind: ClassVar[str] = "event"
    TEXT: ClassVar[tuple[str, ...]] = ()
    """Fields of free text shown on one line: every control character made visible."""
    LINES: ClassVar[tuple[str, ...]] = ()
    """Fields of free text of several lines: newlines and tabs kept, every other control visible."""
    ts: float = field(default_factory=_now, kw_only=True)

    def __post_init__(self) -> None:
        for lines, names in ((False, self.TEXT), (True, self.LINES)):
            for name in names:
                object.__setattr__(self, name, inert_value(getattr(self, name), lines))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["type"] = self.kind
        return data


@dataclass(frozen=True, slots=True)
class PhaseChanged(Event):
    kind: ClassVar[str] = "phase"
    TEXT: ClassVar[tuple[str, ...]] = ("detail",)
    phase: Phase | str
    cycle: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PlanProposed(Event):
    kind: ClassVar[str] = "plan"
    TEXT: ClassVar[tuple[str, ...]] = ("hypothesis", "success_criteria", "worker", "params", "command", "role")
    LINES: ClassVar[tuple[str, ...]] = ("task", "directive")
    trial_id: str
    cycle: int
    hypothesis: str
    task: str = ""
    success_criteria: str = ""
    worker: str = "code"
    params: dict = field(default_factory=dict)
    command: str = ""
    directive: str = ""
    role: str = ""


@dataclass(frozen=True, slots=True)
class ToolCalled(Event):
    kind: ClassVar[str] = "tool_call"
    TEXT: ClassVar[tuple[str, ...]] = ("tool",)
    LINES: ClassVar[tuple[str, ...]] = ("args",)
    call_id: str
    tool: str
    args: dict = field(default_factory=dict)
    trial_id: str = ""


@dataclass(frozen=True, slots=True)
class ToolReturned(Event):
    kind: ClassVar[str] = "tool_result"
    TEXT: ClassVar[tuple[str, ...]] = ("tool",)
    LINES: ClassVar[tuple[str, ...]] = ("result",)
    call_id: str
    tool: str
    ok: bool
    result: str = ""
    duration_s: float = 0.0
    trial_id: str = ""


@dataclass(frozen=True, slots=True)
class TrialLaunched(Event):
    kind: ClassVar[str] = "launch"
    TEXT: ClassVar[tuple[str, ...]] = ("host", "log_path", "command", "job_id")
    trial_id: str
    host: str
    pid: int | None
    log_path: str
    command: str = ""
    gpus: tuple = ()
    job_id: str = ""
    reattached: bool = False


@dataclass(frozen=True, slots=True)
class MonitorSample(Event):
    kind: ClassVar[str] = "sample"
    TEXT: ClassVar[tuple[str, ...]] = ("gpu_error",)
    host: str
    reachable: bool = True
    gpus: tuple[GpuReading, ...] = ()       # empty: no GPU on the host (or not read)
    gpu_error: str = ""
    trials: tuple[TrialSample, ...] = ()
    lines: tuple[tuple[str, str], ...] = ()  # (trial id, line): the new log lines

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "ts": self.ts, "host": self.host, "reachable": self.reachable,
                "gpus": [g.to_dict() for g in self.gpus], "gpu_error": self.gpu_error,
                "trials": [t.to_dict() for t in self.trials], "lines": [list(line) for line in self.lines]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MonitorSample":
        return cls(host=data["host"], reachable=bool(data.get("reachable", True)), ts=data.get("ts") or _now(),
                   gpus=tuple(GpuReading.from_dict(g) for g in data.get("gpus") or ()),
                   gpu_error=data.get("gpu_error", ""),
                   trials=tuple(TrialSample.from_dict(t) for t in data.get("trials") or ()),
                   lines=tuple((str(t), str(line)) for t, line in data.get("lines") or ()))


@dataclass(frozen=True, slots=True)
class TrialFinished(Event):
    kind: ClassVar[str] = "finish"
    TEXT: ClassVar[tuple[str, ...]] = ("label",)
    trial_id: str
    status: TrialStatus | str
    metric: float | None = None
    label: str = ""
    exit_code: int | None = None
    duration_s: float | None = None
    best: float | None = None
    self_reported: bool = False
    """No evaluator, and the metric came from code the worker changed in this trial."""


@dataclass(frozen=True, slots=True)
class Reflected(Event):
    kind: ClassVar[str] = "reflect"
    TEXT: ClassVar[tuple[str, ...]] = ("decision", "next_action", "milestone")
    trial_id: str
    decision: str
    next_action: str = "iterate"
    milestone: str = ""


@dataclass(frozen=True, slots=True)
class MemoryChanged(Event):
    kind: ClassVar[str] = "memory"
    LINES: ClassVar[tuple[str, ...]] = ("text",)
    text: str


@dataclass(frozen=True, slots=True)
class UsageChanged(Event):
    kind: ClassVar[str] = "usage"
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    usd: float = 0.0
    usd_today: float = 0.0
    tokens_today: int = 0


@dataclass(frozen=True, slots=True)
class Notice(Event):
    kind: ClassVar[str] = "notice"
    TEXT: ClassVar[tuple[str, ...]] = ("level",)
    LINES: ClassVar[tuple[str, ...]] = ("text",)
    level: str
    text: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        PhaseChanged, PlanProposed, ToolCalled, ToolReturned, TrialLaunched, MonitorSample,
        TrialFinished, Reflected, MemoryChanged, UsageChanged, Notice,
    )
}


def event_from_dict(data: dict[str, Any]) -> Event | None:
    """Rebuild an event written by ``to_dict``; unknown types or fields are ignored (newer writer)."""
    cls = EVENT_TYPES.get(data.get("type", ""))
    if cls is None:
        return None
    if cls is MonitorSample:
        try:
            return MonitorSample.from_dict(data)
        except (KeyError, TypeError, ValueError):
            return None
    names = {f.name for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in names}
    for key, value in kwargs.items():
        if isinstance(value, list):
            kwargs[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if "status" in kwargs:
        kwargs["status"] = status_of(kwargs["status"])
    if "phase" in kwargs:
        with contextlib.suppress(ValueError):
            kwargs["phase"] = Phase(kwargs["phase"])
    try:
        return cls(**kwargs)
    except TypeError:
        return None


# Commands: faces -> controller


@dataclass(frozen=True, slots=True)
class Pause:
    kind: ClassVar[str] = "pause"


@dataclass(frozen=True, slots=True)
class Resume:
    kind: ClassVar[str] = "resume"


@dataclass(frozen=True, slots=True)
class Pivot:
    kind: ClassVar[str] = "pivot"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Directive:
    kind: ClassVar[str] = "directive"
    text: str


@dataclass(frozen=True, slots=True)
class StopTrial:
    kind: ClassVar[str] = "stop_trial"
    trial_id: str = ""          # empty: every running trial


@dataclass(frozen=True, slots=True)
class Quit:
    kind: ClassVar[str] = "quit"
    leave_training_running: bool = True


Command = Union[Pause, Resume, Pivot, Directive, StopTrial, Quit]

COMMAND_TYPES: dict[str, type] = {c.kind: c for c in (Pause, Resume, Pivot, Directive, StopTrial, Quit)}


def command_to_dict(command: Command) -> dict[str, Any]:
    data = asdict(command)
    data["type"] = command.kind
    return data


def command_from_dict(data: dict[str, Any]) -> Command | None:
    cls = COMMAND_TYPES.get(data.get("type", ""))
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in data.items() if k in names})
    except TypeError:
        return None
