"""Every background task of the controller, under one owner.

A task that dies of an unexpected exception is said in one notice and started again after a
short, growing delay, instead of vanishing silently and taking monitoring or commands with it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Awaitable, Callable

RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
RECANCEL_S = 2.0


class Supervisor:
    def __init__(self, notice: Callable[[str, str], None]) -> None:
        self._notice = notice
        self._tasks: dict[str, asyncio.Task] = {}
        self.crashes: dict[str, int] = {}

    def start(self, name: str, factory: Callable[[], Awaitable[None]], *, restart: bool = True) -> asyncio.Task:
        task = asyncio.create_task(self._run(name, factory, restart), name=name)
        self._tasks[name] = task
        return task

    async def _run(self, name: str, factory: Callable[[], Awaitable[None]], restart: bool) -> None:
        while True:
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                count = self.crashes[name] = self.crashes.get(name, 0) + 1
                if not restart:
                    self._notice(f"{name} task failed: {type(exc).__name__}: {exc}", "error")
                    raise
                delay = RESTART_DELAYS[min(count, len(RESTART_DELAYS)) - 1]
                self._notice(f"{name} task failed: {type(exc).__name__}: {exc}; restarting in {delay:g}s", "error")
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        """Cancel every task and wait for each to end.

        A cancellation can be swallowed on its way (Python 3.11's ``wait_for`` returns the result of a
        future that completed in the same instant, and the task runs on as if never cancelled): a task
        still running after ``RECANCEL_S`` is cancelled again, so a quit never waits forever."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            while not task.done():
                await asyncio.wait({task}, timeout=RECANCEL_S)
                if not task.done():
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
