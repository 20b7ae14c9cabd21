"""``tui-researcher mcp`` and the controller's bridge, with the mcp package's own client: exactly
the dispatch's tools are listed, a call waits for the controller's result, and nothing but the
controller (its socket, its token) can drive them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tui_researcher.agents.bridge import SOCKET_ENV, TOKEN_ENV, ToolBridge
from tui_researcher.agents.tools import SPECS
from tui_researcher.agents.workers import WORKERS

SERVER = [sys.executable, "-m", "tui_researcher.mcp_server"]


async def test_the_mcp_server_lists_the_dispatchs_tools_and_the_controller_runs_each_call():
    tools = [SPECS[name] for name in WORKERS["code"].tools]
    bridge = ToolBridge(tools)
    await bridge.start()
    try:
        params = StdioServerParameters(command=SERVER[0], args=SERVER[1:], env=bridge.env())
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            listed = (await session.list_tools()).tools
            assert [t.name for t in listed] == list(WORKERS["code"].tools)
            assert listed[1].input_schema == SPECS["launch_experiment"].schema

            calling = asyncio.ensure_future(session.call_tool("launch_experiment",
                                                              {"command": "python3 train.py", "dry_run": False}))
            call = await asyncio.wait_for(bridge.calls.get(), 30)
            assert (call.name, call.arguments) == ("launch_experiment", {"command": "python3 train.py",
                                                                         "dry_run": False})
            assert not calling.done()                       # the CLI waits for the controller's gate
            bridge.answer(call.id, False, "refused: no passing dry-run of this command")
            result = await asyncio.wait_for(calling, 30)
            assert result.is_error and result.content[0].text == "refused: no passing dry-run of this command"
    finally:
        await bridge.close()


async def test_a_wrong_token_is_refused():
    bridge = ToolBridge([SPECS["read_file"]])
    await bridge.start()
    try:
        reader, writer = await asyncio.open_unix_connection(bridge.path)
        writer.write(json.dumps({"op": "hello", "token": "guessed"}).encode() + b"\n")
        answer = json.loads(await asyncio.wait_for(reader.readline(), 10))
        assert answer == {"error": "refused: wrong token"} and await reader.read() == b""
        assert bridge.calls.empty()
    finally:
        await bridge.close()


def test_the_mcp_server_started_by_hand_exits_2_with_one_line():
    done = subprocess.run(SERVER, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert done.stderr.strip() == (f"tui-researcher mcp: started by the controller only ({SOCKET_ENV} and "
                                   f"{TOKEN_ENV} unset)")
