"""Tokens from every provider response, priced from a table that ``agent.pricing`` can override.

``agent.pricing`` is validated into ``Price`` values when the config is loaded (``config/models.py``).

Prices are US dollars per million tokens, looked up by the longest model-name prefix, so a dated
model id (``claude-sonnet-4-5-20250929``) finds its family. A model with no price costs $0 and
earns one warning, because a silent zero would let ``agent.max_usd_per_day`` never trigger.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Price


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


def _price(inp: float, out: float, cache_read: float, cache_write: float) -> Price:
    return Price(input=inp, output=out, cache_read=cache_read, cache_write=cache_write)


def _anthropic(inp: float, out: float) -> Price:
    """Anthropic: cache reads at a tenth of input, 5-minute cache writes at 1.25 times input."""
    return _price(inp, out, round(inp * 0.1, 4), round(inp * 1.25, 4))


# List prices (USD per million tokens) as published in late 2026; agent.pricing overrides any of them.
PRICES: dict[str, Price] = {
    "claude-opus-5-5": _price(4.0, 20.0, 0.20, 5.0),
    "claude-opus-5": _anthropic(5.0, 25.0),
    "claude-opus-4-5": _anthropic(5.0, 25.0),
    "claude-opus-4-6": _anthropic(5.0, 25.0),
    "claude-opus-4-7": _anthropic(5.0, 25.0),
    "claude-opus-4-8": _anthropic(5.0, 25.0),
    "claude-opus-4": _anthropic(15.0, 75.0),
    "claude-sonnet-5": _anthropic(2.0, 10.0),
    "claude-sonnet-4": _anthropic(3.0, 15.0),
    "claude-haiku-4-5": _anthropic(1.0, 5.0),
    "gpt-6-astra": _price(10.0, 50.0, 1.0, 12.5),
    "gpt-6-sol": _price(2.0, 10.0, 0.20, 2.50),
    "gpt-6-luna": _price(0.10, 0.50, 0.01, 0.125),
    "gpt-5.6-sol": _price(5.0, 30.0, 0.50, 5.0),
    "gpt-5.6-terra": _price(2.0, 12.0, 0.20, 2.0),
    "gpt-5.6-luna": _price(0.20, 1.20, 0.02, 0.20),
    "gpt-5-mini": _price(0.25, 2.0, 0.025, 0.25),
    "gpt-5": _price(1.25, 10.0, 0.125, 1.25),
    "gpt-4.1": _price(2.0, 8.0, 0.50, 2.0),
    "gpt-4o": _price(2.5, 10.0, 1.25, 2.5),
}

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
