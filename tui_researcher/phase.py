"""What the controller is doing now: a module of its own so that reading the state needs no event types."""

from __future__ import annotations

from .trial import StrEnum


class Phase(StrEnum):
    """What the controller is doing now (its value prints and serialises as it is)."""

    IDLE = "idle"
    THINK = "think"
    EXECUTE = "execute"
    MONITOR = "monitor"
    REFLECT = "reflect"
    WAITING_GPU = "waiting for GPU"
    PAUSED = "paused"
    BACKOFF = "backoff"
    DONE = "done"
    STOPPED = "stopped"
