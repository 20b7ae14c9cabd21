"""Measurement belongs to the controller: metrics are parsed from the log or a results file.

What an LLM says about a score is never the score.
"""

from __future__ import annotations

import json
import math
import operator
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .textsafe import plain
from .trial import better

if TYPE_CHECKING:   # the config's models stay out of `status`, which reads logs' numbers too
    from .config import MetricConfig

_NUMBER = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|NaN|NAN|inf|Inf|INF|infinity|Infinity)"
# `key: value` or `key=value`, several per line (`epoch=3 loss=0.41 val_acc=0.82`)
_KV = re.compile(r"(?<![\w.])(?P<key>[A-Za-z_][\w./-]*)\s*[:=]\s*(?P<value>" + _NUMBER + r")(?![\w.])")

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_GATE = re.compile(r"^\s*(>=|<=|==|>|<)\s*(" + _NUMBER + r")\s*$")


def parse_gate(gate: Any) -> tuple[str, float]:
    """``">= 0.96"`` -> (">=", 0.96); a bare number means ``>=``."""
    if isinstance(gate, (int, float)) and not isinstance(gate, bool):
        return ">=", float(gate)
    if isinstance(gate, str):
        m = _GATE.match(gate)
        if m:
            return m.group(1), float(m.group(2))
    raise ValueError(f"expected a gate like '>= 0.96', got {gate!r}")


@dataclass(slots=True)
class MetricResult:
    value: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    nonfinite: str = ""          # which metric went NaN/inf, if any
    gate_failures: list[str] = field(default_factory=list)
    source: str = "log"


def parse_key_values(text: str) -> dict[str, float]:
    """Last value of every ``key: value`` / ``key=value`` pair in ``text``."""
    found: dict[str, float] = {}
    for m in _KV.finditer(text):
        try:
            found[m.group("key")] = float(m.group("value"))
        except ValueError:
            continue
    return found


class MetricReader:
    """Reads the declared metric (and every other number it can name) from a finished trial."""

    def __init__(self, spec: MetricConfig) -> None:
        self.spec = spec
        self._pattern = re.compile(spec.pattern) if spec.pattern else None

    def read(self, log_text: str, results_json: str | None = None) -> MetricResult:
        metrics = parse_key_values(log_text)
        value: float | None = None
        source = "log"
        if results_json is not None:
            value, extra = self._from_json(results_json)
            metrics.update(extra)
            source = "file"
        elif self._pattern is not None:
            matches = list(self._pattern.finditer(log_text))
            if matches:
                last = matches[-1]
                raw = last.groupdict().get("value") or (last.group(1) if last.groups() else last.group(0))
                try:
                    value = float(raw)
                except (TypeError, ValueError):
                    value = None
        else:
            value = metrics.get(self.spec.name)
        if value is not None:
            metrics[self.spec.name] = value
        result = MetricResult(value=value, metrics=metrics, source=source)
        result.nonfinite = self._nonfinite(metrics)
        result.gate_failures = self._gates(metrics)
        return result

    def _from_json(self, text: str) -> tuple[float | None, dict[str, float]]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None, {}
        extra = {k: float(v) for k, v in data.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool)} if isinstance(data, dict) else {}
        node: Any = data
        for part in (self.spec.json_key or self.spec.name).split("."):
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return None, extra
        try:
            return float(node), extra
        except (TypeError, ValueError):
            return None, extra

    def _nonfinite(self, metrics: dict[str, float]) -> str:
        watched = [k for k in metrics if k == self.spec.name or "loss" in k.lower()]
        for key in watched:
            if not math.isfinite(metrics[key]):
                return f"{key} became {metrics[key]}"
        return ""

    def _gates(self, metrics: dict[str, float]) -> list[str]:
        failures = []
        for name, gate in self.spec.gates.items():
            op, threshold = parse_gate(gate)
            value = metrics.get(name)
            if value is None or not _OPS[op](value, threshold):
                failures.append(f"{name} {op} {threshold:g} missed ({'absent' if value is None else f'{value:g}'})")
        return failures

    def better(self, candidate: float | None, best: float | None) -> bool:
        """Is ``candidate`` strictly better than ``best`` under the declared goal?"""
        return better(candidate, best, self.spec.goal)


def failure_label(log_tail: str) -> str:
    """The line a person would look at first: a traceback's last line, or the last non-empty line.

    Plain and inert: the ledger keeps it, and ``status``, ``--no-ui`` and the app print it, so a
    crashed script's last line cannot retitle or clear a terminal (colour is dropped first, so a
    coloured ``Error:`` is still found)."""
    lines = [line for line in (plain(ln).strip() for ln in log_tail.splitlines()) if line]
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("Traceback"):
            after = lines[i + 1:]
            for line in reversed(after):
                if re.match(r"^[\w.]+(Error|Exception|Interrupt|Exit)\b", line) or ":" in line:
                    return line[:200]
    for line in reversed(lines):
        if re.match(r"^[\w.]*(Error|Exception)\b", line):
            return line[:200]
    return lines[-1][:200] if lines else ""
