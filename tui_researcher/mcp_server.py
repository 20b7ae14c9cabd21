"""``tui-researcher mcp``: the project's tools for a CLI agent, over MCP on stdio.

A CLI (``claude``, ``codex``) starts this process from the MCP configuration the controller gives
it. It runs no tool itself: it lists exactly the tools of the dispatch the controller opened
(the code worker's, the leader's answer tool, ...) and forwards every call to the running
controller through its bridge (``agents/bridge.py``), so each call meets the same sandbox, the
same protected files and the same dry-run gate as with an SDK provider. It reads the bridge's
socket and token from its environment; without them, or refused, it exits 2 with one line.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from typing import Any

from .agents.bridge import LINE_LIMIT, SOCKET_ENV, TOKEN_ENV

SERVER_NAME = "tuir"
"""The name the CLIs know the server by: its tools reach the model as ``mcp__tuir__<tool>``."""


class Channel:
    """The connection to the controller's bridge; calls in flight wait on their own future."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.ids = itertools.count(1)
        self._reading: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: str, token: str) -> tuple["Channel", list[dict[str, Any]]]:
        reader, writer = await asyncio.open_unix_connection(path, limit=LINE_LIMIT)
        writer.write((json.dumps({"op": "hello", "token": token}) + "\n").encode())
        welcome = json.loads(await reader.readline() or b"{}")
        if "tools" not in welcome:
            raise ConnectionError(welcome.get("error") or "the controller closed the channel")
        return cls(reader, writer), welcome["tools"]

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str]:
        if self._reading is None:
            self._reading = asyncio.create_task(self._read())
        n = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[n] = future
        self.writer.write((json.dumps({"op": "call", "id": n, "name": name, "arguments": arguments}) + "\n").encode())
        await self.writer.drain()
        answer = await future
        return bool(answer.get("ok")), str(answer.get("text", ""))

    async def _read(self) -> None:
        try:
            while line := await self.reader.readline():
                answer = json.loads(line)
                future = self.waiting.pop(answer.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(answer)
        finally:
            for future in self.waiting.values():
                if not future.done():
                    future.set_result({"ok": False, "text": "the controller ended this dispatch"})


def build_server(channel: Channel, tools: list[dict[str, Any]]) -> Any:
    import mcp_types as types
    from mcp.server import Server

    listed = types.ListToolsResult(tools=[types.Tool(name=t["name"], description=t["description"],
                                                     input_schema=t["schema"]) for t in tools])

    async def list_tools(ctx: Any, params: Any) -> Any:
        return listed

    async def call_tool(ctx: Any, params: Any) -> Any:
        ok, text = await channel.call(params.name, dict(params.arguments or {}))
        return types.CallToolResult(content=[types.TextContent(type="text", text=text or "(no output)")],
                                    is_error=not ok)

    return Server(SERVER_NAME, version="1", on_list_tools=list_tools, on_call_tool=call_tool)


async def serve() -> int:
    from mcp.server.stdio import stdio_server

    path, token = os.environ.get(SOCKET_ENV, ""), os.environ.get(TOKEN_ENV, "")
    if not path or not token:
        print(f"tui-researcher mcp: started by the controller only ({SOCKET_ENV} and {TOKEN_ENV} unset)",
              file=sys.stderr)
        return 2
    try:
        channel, tools = await Channel.open(path, token)
    except (OSError, ValueError) as exc:
        print(f"tui-researcher mcp: cannot reach the controller at {path}: {exc}", file=sys.stderr)
        return 2
    server = build_server(channel, tools)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
    return 0


def main() -> int:
    return asyncio.run(serve())


if __name__ == "__main__":
    raise SystemExit(main())
