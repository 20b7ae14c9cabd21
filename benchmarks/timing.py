"""The one timing loop the benchmarks share: warm-up runs first, then one wall-clock figure per run."""

from __future__ import annotations

import time
from typing import Awaitable, Callable


async def timed(op: Callable[[], Awaitable[object]], n: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        await op()
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await op()
        out.append(time.perf_counter() - started)
    return out
