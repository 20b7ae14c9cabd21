"""Messages the bridge posts to the app.

Snapshot messages (the phase, the state, a host's reading, usage, memory) set ``can_replace``:
when several wait in the queue only the newest is handled, as in Toolong. Delta messages (log
lines, tool activity, notices, changed trials) accumulate, and the bridge batches them so a flood of log lines
arrives as a few messages a second.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from ..events import Event, MonitorSample, PlanProposed, Reflected, TrialFinished, TrialLaunched, UsageChanged
    from ..state import State
    from .reads import TrialNews


class _Snapshot(Message):
    """Only the newest of a kind matters."""

    def can_replace(self, message: Message) -> bool:
        return type(message) is type(self)


class LoopPhase(_Snapshot):
    def __init__(self, phase: str, cycle: int, detail: str) -> None:
        super().__init__()
        self.phase = phase
        self.cycle = cycle
        self.detail = detail


class LoopState(_Snapshot):
    """The controller's state as it is now, and whether a controller runs at all."""

    def __init__(self, state: "State", alive: bool) -> None:
        super().__init__()
        self.state = state
        self.alive = alive


class TrialsChanged(Message):
    """The trial count, and the records an event said changed (a delta: every one is handled)."""

    def __init__(self, news: "TrialNews") -> None:
        super().__init__()
        self.news = news


class PlanChanged(_Snapshot):
    def __init__(self, plan: "PlanProposed") -> None:
        super().__init__()
        self.plan = plan


class DecisionMade(_Snapshot):
    def __init__(self, reflection: "Reflected") -> None:
        super().__init__()
        self.reflection = reflection


class MemoryText(_Snapshot):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class UsageUpdated(_Snapshot):
    def __init__(self, usage: "UsageChanged") -> None:
        super().__init__()
        self.usage = usage


class HostSampled(Message):
    """The newest reading of one host (its log lines travel separately, as ``LogLines``)."""

    def __init__(self, sample: "MonitorSample", utilisation: dict[int, tuple[float, ...]] | None = None) -> None:
        super().__init__()
        self.sample = sample
        self.utilisation = utilisation or {}
        """GPU index -> recent utilisation readings, oldest first (the sparkline)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HostSampled) and message.sample.host == self.sample.host


class LogLines(Message):
    """New training-log lines, oldest first; ``dropped`` lines of a flood never reached the pane."""

    def __init__(self, lines: list[tuple[str, str]], dropped: int = 0) -> None:
        super().__init__()
        self.lines = lines
        self.dropped = dropped


class ToolActivity(Message):
    """Tool calls and their results, in order."""

    def __init__(self, events: "list[Event]") -> None:
        super().__init__()
        self.events = events


class TrialStarted(Message):
    """A trial was launched (or submitted to a queue), or re-attached after a restart."""

    def __init__(self, launched: "TrialLaunched", hypothesis: str = "") -> None:
        super().__init__()
        self.launched = launched
        self.hypothesis = hypothesis
        """Its plan's hypothesis, when the plan was seen."""


class TrialEnded(Message):
    def __init__(self, finished: "TrialFinished") -> None:
        super().__init__()
        self.finished = finished


class LoopNotice(Message):
    def __init__(self, level: str, text: str) -> None:
        super().__init__()
        self.level = level
        self.text = text


class SourceEnded(Message):
    """The event stream ended: the loop finished, or a replay reached its end."""
