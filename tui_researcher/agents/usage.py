"""Tokens from every provider response, priced from a table that ``agent.pricing`` can override.

Prices are US dollars per million tokens, looked up by the longest model-name prefix, so a dated
model id (``claude-sonnet-4-5-20250929``) finds its family. A model with no price costs $0 and
earns one warning, because a silent zero would let ``agent.max_usd_per_day`` never trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cache_read: float
    cache_write: float


@dataclass(slots=True)
class TokenUsage:
    """One response's tokens; ``input`` excludes cached tokens (read or written), as Anthropic counts."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    def __add__(self, other: "TokenUsage") -> "TokenUsage":
        return TokenUsage(self.input + other.input, self.output + other.output,
                          self.cache_read + other.cache_read, self.cache_write + other.cache_write)

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write


def _anthropic(inp: float, out: float) -> Price:
    """Anthropic: cache reads at a tenth of input, 5-minute cache writes at 1.25 times input."""
    return Price(inp, out, round(inp * 0.1, 4), round(inp * 1.25, 4))


# List prices (USD per million tokens) as published in late 2026; agent.pricing overrides any of them.
PRICES: dict[str, Price] = {
    "claude-opus-5-5": Price(4.0, 20.0, 0.20, 5.0),
    "claude-opus-5": _anthropic(5.0, 25.0),
    "claude-opus-4-5": _anthropic(5.0, 25.0),
    "claude-opus-4-6": _anthropic(5.0, 25.0),
    "claude-opus-4-7": _anthropic(5.0, 25.0),
    "claude-opus-4-8": _anthropic(5.0, 25.0),
    "claude-opus-4": _anthropic(15.0, 75.0),
    "claude-sonnet-5": _anthropic(2.0, 10.0),
    "claude-sonnet-4": _anthropic(3.0, 15.0),
    "claude-haiku-4-5": _anthropic(1.0, 5.0),
    "gpt-6-astra": Price(10.0, 50.0, 1.0, 12.5),
    "gpt-6-sol": Price(2.0, 10.0, 0.20, 2.50),
    "gpt-6-luna": Price(0.10, 0.50, 0.01, 0.125),
    "gpt-5.6-sol": Price(5.0, 30.0, 0.50, 5.0),
    "gpt-5.6-terra": Price(2.0, 12.0, 0.20, 2.0),
    "gpt-5.6-luna": Price(0.20, 1.20, 0.02, 0.20),
    "gpt-5-mini": Price(0.25, 2.0, 0.025, 0.25),
    "gpt-5": Price(1.25, 10.0, 0.125, 1.25),
    "gpt-4.1": Price(2.0, 8.0, 0.50, 2.0),
    "gpt-4o": Price(2.5, 10.0, 1.25, 2.5),
}

_FIELDS = ("input", "output", "cache_read", "cache_write")


def parse_pricing(overrides: dict[str, Any], source: str = "config.yaml") -> dict[str, Price]:
    """``agent.pricing: {model-prefix: {input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}}``."""
    table: dict[str, Price] = {}
    for model, spec in (overrides or {}).items():
        where = f"{source}: agent.pricing.{model}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: expected a mapping of input/output/cache_read/cache_write prices")
        unknown = set(spec) - set(_FIELDS)
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; known keys: {', '.join(_FIELDS)}")
        values = {}
        for name in _FIELDS:
            value = spec.get(name)
            if value is None and name in ("input", "output"):
                raise ConfigError(f"{where}: {name} is required (USD per million tokens)")
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
                raise ConfigError(f"{where}.{name}: expected a non-negative number, got {value!r}")
            values[name] = value
        inp = float(values["input"])
        table[str(model)] = Price(inp, float(values["output"]),
                                  float(values["cache_read"]) if values["cache_read"] is not None else inp,
                                  float(values["cache_write"]) if values["cache_write"] is not None else inp)
    return table


def price_for(model: str, overrides: dict[str, Price] | None = None) -> Price | None:
    """The price of the longest matching prefix, overrides first."""
    for table in (overrides or {}, PRICES):
        matches = [prefix for prefix in table if model.startswith(prefix)]
        if matches:
            return table[max(matches, key=len)]
    return None


def cost(usage: TokenUsage, price: Price | None) -> float:
    if price is None:
        return 0.0
    return (usage.input * price.input + usage.output * price.output + usage.cache_read * price.cache_read
            + usage.cache_write * price.cache_write) / 1_000_000
