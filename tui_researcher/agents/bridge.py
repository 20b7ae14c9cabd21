"""The controller's end of the channel a CLI agent's tool calls come through.

A CLI (``claude``, ``codex``) runs its own model loop; its only tools are the project's, served by
``tui-researcher mcp`` (``mcp_server.py``), a process the CLI starts. That process holds no
tool of its own: it connects to this bridge, a Unix socket in a private directory the controller
creates (0700) with a per-conversation token, and forwards each call here. The call becomes a
``ToolCall`` of the conversation's reply, so the worker loop runs it through the same ``Toolbox``,
sandbox and ``Runner`` dry-run gate as an SDK provider's call, and its result goes back the same way.

One JSON object a line. The MCP process says ``{"op": "hello", "token": ...}`` and gets the tools;
then ``{"op": "call", "id": n, "name": ..., "arguments": {...}}`` and gets ``{"id": n, "ok": ...,
"text": ...}`` once the controller has run the call.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

from .providers import ToolCall, ToolSpec, parse_arguments

TOKEN_ENV = "TUIR_MCP_TOKEN"
SOCKET_ENV = "TUIR_MCP_SOCKET"
LINE_LIMIT = 4 * 1024 * 1024


@dataclass(slots=True)
class Pending:
    call: ToolCall
    writer: asyncio.StreamWriter
    wire_id: Any


class ToolBridge:
    """A socket that turns the MCP server's calls into ``ToolCall``s and sends their results back."""

    def __init__(self, tools: list[ToolSpec]) -> None:
        self.tools = tools
        self.token = secrets.token_hex(16)
        self.calls: asyncio.Queue[ToolCall] = asyncio.Queue()
        self.pending: dict[str, Pending] = {}
        self._dir = ""
        self._server: asyncio.AbstractServer | None = None
        self._ids = 0

    @property
    def path(self) -> str:
        return os.path.join(self._dir, "mcp.sock")

    def env(self) -> dict[str, str]:
        """What the MCP server process needs to find and prove itself to this bridge."""
        return {SOCKET_ENV: self.path, TOKEN_ENV: self.token}

    async def start(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="tuir-mcp-")   # 0700: only this user reaches the socket
        self._server = await asyncio.start_unix_server(self._serve, path=self.path, limit=LINE_LIMIT)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for pending in self.pending.values():
            pending.writer.close()
        self.pending.clear()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""

    def answer(self, call_id: str, ok: bool, text: str) -> None:
        """The result of a call the MCP server is waiting on (an unknown id: the CLI is gone)."""
        pending = self.pending.pop(call_id, None)
        if pending is None or pending.writer.is_closing():
            return
        pending.writer.write(_line({"id": pending.wire_id, "ok": ok, "text": text}))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            hello = _parse(await reader.readline())
            if hello.get("op") != "hello" or not secrets.compare_digest(str(hello.get("token", "")), self.token):
                writer.write(_line({"error": "refused: wrong token"}))
                return
            writer.write(_line({"tools": [{"name": t.name, "description": t.description, "schema": t.schema}
                                          for t in self.tools]}))
            while line := await reader.readline():
                message = _parse(line)
                if message.get("op") == "call":
                    self._call(message, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            await _drain_close(writer)

    def _call(self, message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        self._ids += 1
        args, error = parse_arguments(message.get("arguments") or {})
        name = str(message.get("name", ""))
        call = ToolCall(id=f"mcp-{self._ids}", name=name, arguments=args,
                        raw=json.dumps(message.get("arguments"))[:2000], error=error)
        self.pending[call.id] = Pending(call, writer, message.get("id"))
        self.calls.put_nowait(call)


def _line(payload: dict[str, Any]) -> bytes:
    return (json.dumps(payload) + "\n").encode()


def _parse(line: bytes) -> dict[str, Any]:
    value = json.loads(line or b"{}")
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


async def _drain_close(writer: asyncio.StreamWriter) -> None:
    try:
        await writer.drain()
    except ConnectionError:
        pass
    writer.close()
