"""Memory's facts come from the ledger: the controller writes every Key Results line itself.

A reflection is an LLM's prose; the next THINK reads memory as truth. So the line that says what a
trial scored is built here from the ledger (id, status, metric, what changed), and a reflection
adds its lesson only when no number or "new best" it states contradicts the ledger. Pure: the
caller passes a lookup of trials.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

from .trial import Trial, TrialStatus

Lookup = Callable[[str], "Trial | None"]
TRIAL_ID = re.compile(r"\bt\d{4,}\b")
_CLAUSE = re.compile(r"(?<!\d)\.(?!\d)|[;\n!?]")
_NUMBER = r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_VERB = r"\s*(?:(?:=|:|->|of|is|was|at|to|hit|hits|reached|reaches|reach|gets|got|scored|scores)\s*)*"


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def what_changed(trial: Trial, parent: Trial | None) -> str:
    """The parameters that differ from the parent (all of them without one), and the code's files."""
    if parent is None:
        parts = [f"{k}={v}" for k, v in trial.params.items()]
    else:
        keys = [*trial.params, *(k for k in parent.params if k not in trial.params)]
        parts = [f"{k} {parent.params.get(k, '-')}->{trial.params.get(k, '-')}" for k in keys
                 if parent.params.get(k) != trial.params.get(k)]
    files = trial.files_changed
    if files:
        parts.append("code: " + ", ".join(files[:5]) + (f" +{len(files) - 5} more" if len(files) > 5 else ""))
    return " ".join(parts) or "nothing (a repeat)"


def headline(trial: Trial, metric: str) -> str:
    """Id, status and metric (with its mean ± spread over seeds where it was seed-checked)."""
    line = f"{trial.id} {trial.status} {metric}={fmt(trial.metric)}"
    if trial.spread is not None and trial.mean is not None:
        line += f" (mean {fmt(trial.mean)} ± {fmt(trial.spread)} over {len(trial.seeds) + 1} seeds)"
    return line


def fact_line(trial: Trial, metric: str, parent: Trial | None) -> str:
    """The ledger's own words for a trial: what the next THINK reads as a result."""
    return f"{headline(trial, metric)}: {what_changed(trial, parent)}"


@dataclass(frozen=True, slots=True)
class Claim:
    trial_id: str
    said: str

    def __str__(self) -> str:
        return f"{self.trial_id}: {self.said}"


def contradictions(text: str, metric: str, subject: Trial, lookup: Lookup) -> list[Claim]:
    """Every statement in ``text`` the ledger contradicts: a value of ``metric`` for a trial that the
    ledger records otherwise (beyond the precision stated), or "new best" for a trial not kept.

    A claim belongs to the last trial id named before it in its clause, else to ``subject``."""
    found: list[Claim] = []
    claim = re.compile(rf"\b{re.escape(metric)}\b{_VERB}{_NUMBER}", re.IGNORECASE)
    for clause in _CLAUSE.split(text or ""):
        events = sorted([(m.start(), "id", m.group(0)) for m in TRIAL_ID.finditer(clause)]
                        + [(m.start(), "value", m.group(1)) for m in claim.finditer(clause)]
                        + [(m.start(), "best", m.group(0)) for m in re.finditer(r"new best", clause, re.I)])
        current = subject
        for _, kind, said in events:
            if kind == "id":
                current = (subject if said == subject.id else lookup(said)) or Trial(id=said, cycle=0)
            elif kind == "value" and not _agrees(said, current.metric):
                found.append(Claim(current.id, f"{metric}={said} (the ledger has {fmt(current.metric)})"))
            elif kind == "best" and current.status != TrialStatus.KEEP:
                found.append(Claim(current.id, f"new best (the ledger has {current.status})"))
    return found


def _agrees(said: str, value: float | None) -> bool:
    """``said`` is ``value`` at the precision it was written with (0.95 agrees with 0.9512)."""
    if value is None or not math.isfinite(value):
        return False
    number = float(said)
    mantissa = said.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(said.lower().split("e")[1]) if "e" in said.lower() else 0
    tolerance = 0.5 * 10 ** (exponent - decimals) + 1e-12 * max(1.0, abs(value))
    return abs(number - value) <= tolerance
