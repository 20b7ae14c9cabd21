"""How far a running trial is, read from its log at zero LLM cost: epoch or step, total, ETA, curve.

Real logs say it in a few ways: a plain ``epoch=12``, ``Epoch 12/40``, ``step 120/4000``, a tqdm bar
(``45%|████▌     | 45/100 [00:12<00:15, 3.61it/s]``, Hugging Face Trainer's one bar over all steps),
Lightning's bar per epoch (``Epoch 3: 45%|...| 422/938 [...]``, epochs counted from 0) and its Rich
bar (``Epoch 3/9 ━━━ 422/938 0:00:05 • 0:00:06``, the last epoch numbered). ``monitor.progress``
names a pattern of one's own. The total comes from the log, else the command's arguments
(``--epochs 40``, ``trainer.max_epochs=40``), else the trial's previous runs.

The same reader serves the monitor (line by line, as the log grows) and the collector (the whole
log once the trial has ended, whose curve the trial keeps for the pruner and the plots).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable

from .formats import format_duration
from .metrics import parse_key_values

CURVE_POINTS = 240
"""At most, per running trial: a longer curve keeps every other point (its shape, not its every line)."""
CURVE_KEPT = 64
"""At most, in a finished trial's record: about 1.5 kB, so the store stays small at 100,000 trials."""

_CLOCK = r"\d+(?::\d{2}){1,2}"
_TQDM = re.compile(r"(?P<pct>\d+)%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*\[(?P<elapsed>" + _CLOCK
                   + r")<(?P<eta>" + _CLOCK + r"|\?)")
_RICH = re.compile(r"━[━╸╺ ]*\s+(?P<n>\d+)/(?P<total>\d+)\s+" + _CLOCK + r"\s*•\s*(?P<eta>" + _CLOCK + r"|-:--:--)")
_EPOCH = re.compile(r"(?i)(?<![\w'\"])epoch\s*[\[(]?\s*[:=]?\s*(?P<n>\d+)(?![\d.])"
                    r"(?:\s*(?:/|of)\s*(?P<total>\d+))?")
_STEP = re.compile(r"(?i)(?<![\w'\"])(?:global_step|step|iter(?:ation)?|batch)\s*[\[(]?\s*[:=]?\s*(?P<n>\d+)(?![\d.])"
                   r"(?:\s*(?:/|of)\s*(?P<total>\d+))?")
_ARG_TOTAL = re.compile(r"(?i)(?:^|[\s/])-{0,2}(?:[\w]+\.)?(?:num[_-]?|n[_-]|max[_-]|total[_-]|train[_-])*"
                        r"(?:train[_-])?(?P<unit>epochs?|steps|iters|iterations)[=\s]+(?P<total>\d+)\b")
_QUOTES = str.maketrans({"'": " ", '"': " "})


def parse_clock(text: str) -> float | None:
    """``"03:50"`` or ``"1:02:03"`` in seconds; None for tqdm's ``?``."""
    if not text or not text[0].isdigit():
        return None
    seconds = 0.0
    for part in text.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def totals_from_command(command: str) -> dict[str, float]:
    """``{"epoch": 40}`` from ``--epochs 40``, ``{"step": 500}`` from ``--max_steps=500``."""
    found: dict[str, float] = {}
    for m in _ARG_TOTAL.finditer(command):
        unit = "epoch" if m.group("unit").lower().startswith("epoch") else "step"
        found.setdefault(unit, float(m.group("total")))
    return found


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a trial is: ``current`` of ``total`` (epochs or steps), with its ETA when it can be told."""

    current: float
    total: float | None = None
    unit: str = "step"
    eta_s: float | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total or self.total <= 0:
            return None
        return max(0.0, min(1.0, self.current / self.total))

    def text(self) -> str:
        """``progress=12/40 eta=0:31``: the form the headless line and ``status`` print."""
        count = _count(self.current) + (f"/{_count(self.total)}" if self.total else "")
        eta = f" eta={format_duration(self.eta_s)}" if self.eta_s is not None else ""
        return f"progress={count}{eta}"

    def to_dict(self) -> dict:
        return {"current": self.current, "total": self.total, "unit": self.unit, "eta_s": self.eta_s}

    @classmethod
    def from_dict(cls, data: dict | None) -> "Progress | None":
        if not isinstance(data, dict) or not isinstance(data.get("current"), (int, float)):
            return None
        return cls(float(data["current"]), data.get("total"), str(data.get("unit") or "step"), data.get("eta_s"))


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


@dataclass(slots=True)
class ProgressReader:
    """One trial's log, read line by line: its progress, its curve and the first non-finite value."""

    metric: str
    pattern: re.Pattern | None = None
    """``monitor.progress``: named groups ``current`` and (optionally) ``total``."""
    metric_pattern: re.Pattern | None = None
    command_totals: dict[str, float] = field(default_factory=dict)
    epoch: float | None = None
    epoch_total: float | None = None
    steps: float | None = None
    steps_total: float | None = None
    steps_eta: float | None = None
    custom: float | None = None
    custom_total: float | None = None
    points: list[tuple[float | None, float | None, float | None]] = field(default_factory=list)
    """(progress, metric, loss) as the log said them, oldest first."""
    fresh: list[tuple[float | None, float | None, float | None]] = field(default_factory=list)
    """Points not yet handed on (``take_fresh``): the live curve's news."""
    nonfinite: str = ""
    """The first loss or metric seen NaN or infinite, as ``loss became nan at epoch 2``."""

    @classmethod
    def for_trial(cls, metric: str, command: str, *, pattern: str | None = None,
                  metric_pattern: str | None = None) -> "ProgressReader":
        return cls(metric=metric, pattern=re.compile(pattern) if pattern else None,
                   metric_pattern=re.compile(metric_pattern) if metric_pattern else None,
                   command_totals=totals_from_command(command))

    def feed(self, text: str) -> None:
        for line in text.splitlines():   # tqdm's \r redraws are lines of their own here
            if line.strip():
                self._line(line)

    def _line(self, line: str) -> None:
        if self.pattern is not None and (m := self.pattern.search(line)):
            groups = m.groupdict()
            self.custom = _number(groups.get("current")) if "current" in groups else _number(m.group(1))
            self.custom_total = _number(groups.get("total")) or self.custom_total
        bar = _TQDM.search(line) or _RICH.search(line)
        epoch = _EPOCH.search(line)
        if epoch:
            n = float(epoch.group("n"))
            total = _number(epoch.group("total"))
            if bar and total is not None and _RICH.search(line):
                total += 1   # Lightning's Rich bar numbers the last epoch, from 0
            if bar:          # Lightning: epochs from 0, the bar is the epoch's batches
                n += int(bar.group("n")) / max(1, int(bar.group("total")))
            self.epoch, self.epoch_total = n, total or self.epoch_total
        elif bar and float(bar.group("total")) >= (self.steps_total or 0):
            # the run's bar, not an evaluation's shorter one in between (Hugging Face Trainer prints both)
            self.steps, self.steps_total = float(bar.group("n")), float(bar.group("total"))
            self.steps_eta = parse_clock(bar.group("eta"))
        elif not bar and (step := _STEP.search(line)):
            self.steps = float(step.group("n"))
            self.steps_total = _number(step.group("total")) or self.steps_total
            self.steps_eta = None
        self._values(line)

    def _values(self, line: str) -> None:
        values = parse_key_values(line.translate(_QUOTES))
        metric = values.get(self.metric)
        if self.metric_pattern is not None and (m := self.metric_pattern.search(line)):
            metric = _number(m.groupdict().get("value") or (m.group(1) if m.groups() else m.group(0)))
        loss_key = next((k for k in values if "loss" in k.lower() and k != self.metric), None)
        loss = values.get(loss_key) if loss_key else None
        if metric is None and loss is None:
            return
        if not self.nonfinite:
            for key, value in ((self.metric, metric), (loss_key, loss)):
                if value is not None and not math.isfinite(value):
                    where = self.progress()
                    at = f" at {where.unit} {_count(where.current)}" if where else ""
                    self.nonfinite = f"{key} became {value}{at}"
                    break
        where = self.progress()
        point = (where.current if where else None, _finite(metric), _finite(loss))
        self.points.append(point)
        self.fresh.append(point)
        if len(self.points) > CURVE_POINTS:
            self.points = self.points[::2]
        if len(self.fresh) > CURVE_POINTS:
            self.fresh = self.fresh[::2]

    def take_fresh(self) -> tuple[tuple[float | None, float | None, float | None], ...]:
        fresh, self.fresh = tuple(self.fresh), []
        return fresh

    def progress(self, *, elapsed_s: float | None = None, previous_total: float | None = None) -> Progress | None:
        """The best the log says: a custom pattern, else epochs, else steps; ETA from the bar or the pace."""
        if self.custom is not None:
            current, total, unit, eta = self.custom, self.custom_total, "step", None
        elif self.epoch is not None:
            current, unit, eta = self.epoch, "epoch", None
            total = self.epoch_total or self.command_totals.get("epoch")
        elif self.steps is not None:
            current, unit, eta = self.steps, "step", self.steps_eta
            total = self.steps_total or self.command_totals.get("step")
        else:
            return None
        total = total or previous_total
        if eta is None and total and elapsed_s and current > 0:
            eta = max(0.0, elapsed_s * (total - current) / current)
        return Progress(current, total, unit, eta)

    def curve(self) -> dict:
        """What the trial keeps: its unit and total, and its (progress, metric, loss) points."""
        where = self.progress()
        if not self.points and not where:
            return {}
        stride = -(-len(self.points) // CURVE_KEPT)
        kept = self.points[::stride]
        if self.points and kept[-1] is not self.points[-1]:
            kept = kept[:-1] + [self.points[-1]]   # the end of the curve is what it reached
        return {"unit": where.unit if where else "", "total": where.total if where else None,
                "points": [[_short(v) for v in p] for p in kept]}


def read_curve(text: str, metric: str, command: str, *, pattern: str | None = None,
               metric_pattern: str | None = None) -> dict:
    """A whole log's curve: what the collector keeps on the finished trial."""
    reader = ProgressReader.for_trial(metric, command, pattern=pattern, metric_pattern=metric_pattern)
    reader.feed(text)
    return reader.curve()


def metric_points(curve: dict | None) -> list[tuple[float, float]]:
    """(progress, metric) of a kept curve, the points that have both."""
    points: Iterable = (curve or {}).get("points") or ()
    return [(float(p[0]), float(p[1])) for p in points
            if isinstance(p, (list, tuple)) and len(p) >= 2 and p[0] is not None and p[1] is not None]


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _short(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.6g}")


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
