"""The event stream: every face subscribes here, and events.jsonl lets a face attach from elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import AsyncIterator

from .events import Event, Notice

EVENT_LOG_MAX_BYTES = 5 * 1024 * 1024


class EventBus:
    def __init__(self, path: Path, *, max_bytes: int = EVENT_LOG_MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._subscribers: list[asyncio.Queue] = []

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(queue)

    async def events(self) -> AsyncIterator[Event]:
        queue = self.subscribe()
        try:
            while True:
                event = await queue.get()
                if event is None:
                    return
                yield event
        finally:
            self.unsubscribe(queue)

    def emit(self, event: Event) -> None:
        self._write(event)
        for queue in list(self._subscribers):
            queue.put_nowait(event)

    def notice(self, text: str, level: str = "info") -> None:
        self.emit(Notice(level=level, text=text))

    def close(self) -> None:
        """Every subscriber's ``events()`` ends."""
        for queue in list(self._subscribers):
            queue.put_nowait(None)

    def _write(self, event: Event) -> None:
        try:
            if self.path.exists() and self.path.stat().st_size > self.max_bytes:
                os.replace(self.path, self.path.with_suffix(".jsonl.1"))
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(event.to_dict(), default=str) + "\n")
        except OSError:
            pass  # the event stream on disk is a convenience; the loop must not die for it
