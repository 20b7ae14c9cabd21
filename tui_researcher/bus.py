"""The event stream: every face subscribes here, and the store's events table lets a face attach from elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from typing import AsyncIterator

from .events import Event, Notice
from .store import Store


class EventBus:
    def __init__(self, store: Store | None) -> None:
        self.store = store
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
        if self.store is None:
            return
        try:
            self.store.append_event(event.to_dict(), event.ts)
        except sqlite3.Error:
            pass  # the event stream on disk is a convenience; the loop must not die for it
