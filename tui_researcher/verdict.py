"""A finished trial's status and label, decided from what the controller measured: never an LLM's word.

Pure: no I/O, no clock, no process. Every row of the table is a unit test (tests/unit/test_verdict.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from .metrics import MetricResult, failure_label
from .trial import KillOrder, TrialStatus, better


STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT")
"""What a person's ``kill`` sends: the trial is theirs to stop, so it is ``cancelled``, not a crash."""


@dataclass(frozen=True, slots=True)
class Ending:
    """How the process ended, as the backend saw it."""

    launched: bool = True
    """False: the launch never completed (no pid file)."""
    exit_code: int | None = None
    status: str = ""
    """A status the backend already knows (a scheduler's timeout, cancel or refusal)."""
    reason: str = ""
    training_signal: str = ""
    """The signal that ended the training when nobody signalled its trial runner: someone's ``kill``."""


@dataclass(frozen=True, slots=True)
class Verdict:
    status: TrialStatus | str
    label: str = ""


def classify(ending: Ending, result: MetricResult, log_tail: str, *, kill: KillOrder | None = None,
             metric_name: str, goal: str, best: float | None) -> Verdict:
    """The first row that matches wins; the order is the policy."""
    if not ending.launched and ending.exit_code is None:
        return Verdict(TrialStatus.LAUNCH_FAILED, "the controller stopped before the launch completed")
    if kill is not None:
        return Verdict(kill.status, kill.label)
    if ending.status:
        return Verdict(ending.status, ending.reason or failure_label(log_tail))
    if ending.training_signal in STOP_SIGNALS:
        return Verdict(TrialStatus.CANCELLED, f"the training was stopped by {ending.training_signal} from outside "
                                              f"the controller (a kill of its pid)")
    if ending.training_signal == "SIGKILL":
        return Verdict(TrialStatus.CRASH, "the training was killed by SIGKILL (out of memory, or kill -9)")
    if ending.exit_code is None:
        return Verdict(TrialStatus.CRASH, f"process vanished without an exit code; {failure_label(log_tail)}")
    if ending.exit_code != 0:
        return Verdict(TrialStatus.CRASH, failure_label(log_tail) or f"exit code {ending.exit_code}")
    if result.nonfinite:
        return Verdict(TrialStatus.NAN, result.nonfinite)
    if result.value is None:
        return Verdict(TrialStatus.CRASH, f"finished but no {metric_name} in the log")
    if result.gate_failures:
        return Verdict(TrialStatus.GATED, "; ".join(result.gate_failures))
    if better(result.value, best, goal):
        return Verdict(TrialStatus.KEEP)
    return Verdict(TrialStatus.DISCARD)
