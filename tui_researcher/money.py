"""Money: one formatter for every message, and the one rule for the daily spending cap.

A cycle's cost is often a fraction of a cent, so ``$0.00`` would hide it: amounts under a
dollar keep two significant digits. The cap is spent only on the day it was spent: after
midnight the day's total is zero, even before the next request resets the counter.
"""

from __future__ import annotations

import math
import time
from typing import Any

SMALLEST = 1e-6


def usd(amount: float) -> str:
    """``$12.35``, ``$0.50``, ``$0.004``, ``$0.00012``; never ``$0.00`` for a cost that is not zero."""
    if amount == 0:
        return "$0.00"
    sign, a = ("-" if amount < 0 else ""), abs(amount)
    if a >= 1:
        return f"{sign}${a:,.2f}"
    if a < SMALLEST:
        return f"{sign}<${SMALLEST:.6f}"
    decimals = max(2, 1 - math.floor(math.log10(a)))      # two significant digits
    text = f"{a:.{decimals}f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{sign}${whole}.{frac.ljust(2, '0')}"


def today() -> str:
    return time.strftime("%Y-%m-%d")


def spent_today(usage: Any, day: str | None = None) -> float:
    """Today's spend from a ``state.Usage``: zero when its counter is from another day."""
    return usage.usd_today if usage.day == (day or today()) else 0.0


def cap_reached(usage: Any, cap: float, day: str | None = None) -> bool:
    """The one test of ``agent.max_usd_per_day`` (0: no cap): it stops new THINKs and REFLECTs."""
    return bool(cap) and spent_today(usage, day) >= cap
