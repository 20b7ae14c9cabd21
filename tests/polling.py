"""Bounded polling for tests of things that happen in another process: no bare sleeps, a deadline always."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from tui_researcher.backends.base import HelperBackend, TrialProbe, TrialRef


async def probe_until(backend: HelperBackend, ref: TrialRef, done: Callable[[TrialProbe], bool],
                      timeout: float = 15.0) -> TrialProbe:
    """Poll one trial until ``done`` holds for it (bounded), advancing ``ref.offset`` as a monitor does."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        probe = await backend.probe([ref], gpu=False)
        trial = probe.trials.get(ref.id) if probe.reachable else None
        if trial is not None:
            ref.offset = trial.offset
            if done(trial):
                return trial
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"trial {ref.id} never reached the state wanted; last probe: {probe}")
        await asyncio.sleep(0.02)


async def wait_until(condition: Callable[[], Awaitable[bool] | bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` (sync or async) until true, or fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what or condition}")
        await asyncio.sleep(0.02)
