"""The controller's end of a host helper: JSON-line requests with ids over its stdin/stdout.

A transport (a local pipe, one SSH channel) hands over the two streams; this module knows
nothing of how they were opened, only whether the writer takes text or bytes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

from ..errors import BackendError

HELPER_SOURCE_PATH = Path(__file__).with_name("helper.py")
"""The helper's source: run in place locally, copied (or sent inline) to a remote host."""


class HelperDied(BackendError):
    """The helper's process or its channel is gone; the backend starts a new one on the next call."""


class HelperClient:
    """JSON-line requests with ids over one stream pair; many may be in flight at once."""

    def __init__(self, reader: Any, writer: Any, *, label: str, writes_text: bool) -> None:
        """``writes_text``: the transport's writer takes str (an asyncssh stream opened with an
        encoding), not bytes (a pipe); the transport knows, so it says, and nothing is guessed."""
        self.reader = reader
        self.writer = writer
        self.label = label
        self.writes_text = writes_text
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._reader_task: asyncio.Task | None = None
        self.closed = False
        self.reason = ""

    async def start(self, timeout: float = 30.0) -> None:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        ready = self._decode(line)
        if not ready or not ready.get("ok"):
            raise HelperDied(f"{self.label}: host helper did not start: {_text(line)[:300]!r}")
        self._reader_task = asyncio.create_task(self._read_loop(), name=f"helper-reader-{self.label}")

    async def _read_loop(self) -> None:
        try:
            while True:
                line = await self.reader.readline()
                if not line:
                    break
                reply = self._decode(line)
                if reply is None:
                    continue
                fut = self._pending.pop(reply.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result(reply)
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as exc:  # the transport broke: every waiter learns it below
            self.reason = f"{type(exc).__name__}: {exc}"
        finally:
            self.closed = True
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(HelperDied(f"{self.label}: connection to host helper lost {self.reason}".strip()))
            self._pending.clear()

    @staticmethod
    def _decode(line: Any) -> dict | None:
        try:
            return json.loads(_text(line))
        except (ValueError, TypeError):
            return None

    async def call(self, op: str, timeout: float = 30.0, **args: Any) -> dict[str, Any]:
        if self.closed:
            raise HelperDied(f"{self.label}: host helper is not running {self.reason}".strip())
        rid = next(self._ids)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        payload = json.dumps({"id": rid, "op": op, **args}) + "\n"
        try:
            self.writer.write(payload if self.writes_text else payload.encode("utf-8"))
            await self.writer.drain()
            reply = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise BackendError(f"{self.label}: {op} got no answer in {timeout:g}s") from None
        except (ConnectionError, BrokenPipeError, OSError) as exc:
            self.closed = True
            raise HelperDied(f"{self.label}: connection to host helper lost ({exc})") from exc
        finally:
            self._pending.pop(rid, None)
        if not reply.get("ok"):
            raise BackendError(f"{self.label}: {op}: {reply.get('error', 'failed')}")
        return reply["result"]

    async def close(self) -> None:
        self.closed = True
        try:
            self.writer.write_eof()     # the helper reads EOF on stdin and exits
        except (OSError, RuntimeError):
            pass
        if self._reader_task:
            self._reader_task.cancel()
            try:
                await self._reader_task
            except (asyncio.CancelledError, Exception):
                pass


def _text(line: Any) -> str:
    return line.decode("utf-8", "replace") if isinstance(line, (bytes, bytearray)) else str(line)
