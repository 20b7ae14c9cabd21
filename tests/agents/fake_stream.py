"""The streamed wire formats of the fake server: Messages as server-sent events (what ``claude``
sends for, ``stream: true``) and the Responses API, streamed (what ``codex exec`` speaks).

A reply's calls are named as the client offered them: a CLI offers the project's tools through its
MCP server under a prefixed name (``mcp__tuir__submit_plan``, ``tuir__submit_plan``), so a script's
``submit_plan`` answers as the name that ends with it. ``{"cut": True}`` ends the stream after its
first event, without the closing ones: a connection lost mid-answer. To a codex model in code mode the
calls go as one ``exec`` of JavaScript that makes them (``exec_source``).
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterator

from tui_researcher.mcp_server import SERVER_NAME


def offered_tools(body: dict) -> list[tuple[str, str]]:
    """(namespace, name) of every function offered, a namespace's too (codex: ``mcp__tuir``)."""
    found = []
    for tool in body.get("tools") or []:
        if tool.get("type") == "namespace":
            found += [(tool["name"], t.get("name") or "") for t in tool.get("tools") or []]
        else:
            found.append(("", tool.get("name") or tool.get("function", {}).get("name") or ""))
    return found


def code_mode(body: dict) -> bool:
    """Codex's newest models reach every tool through one ``exec`` tool that runs JavaScript (its code mode):
    the project's MCP tools are deferred, named in no tool list, and called as ``tools.mcp__tuir__<name>``."""
    return any(tool.get("type") == "custom" and tool.get("name") == "exec"
               for item in body.get("input") or [] if isinstance(item, dict) and item.get("type") == "additional_tools"
               for space in item.get("tools") or [] for tool in space.get("tools") or [space])


def nested_tools(body: dict) -> set[str]:
    """In code mode, the tools ``exec``'s description declares on its ``tools`` object."""
    found: set[str] = set()
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("type") == "additional_tools":
            for space in item.get("tools") or []:
                for tool in space.get("tools") or [space]:
                    found.add(tool.get("name") or "")
                    found.update(re.findall(r"declare const tools: \{ (\w+)\(", tool.get("description") or ""))
    return found - {""}


def instructions(body: dict) -> str:
    """The system prompt as the client sent it: codex puts ours in the developer messages."""
    texts = [body.get("instructions") or ""]
    for item in body.get("input") or []:
        if isinstance(item, dict) and item.get("role") in ("developer", "system"):
            content = item.get("content")
            texts += [content] if isinstance(content, str) else [c.get("text") or "" for c in content or []
                                                                    if isinstance(c, dict)]
    return "\n".join(texts)


def exec_source(calls: list[tuple[str, Any]]) -> str:
    """The JavaScript a code-mode model sends to make ``calls`` through the project's MCP server."""
    lines = []
    for name, args in calls:
        literal = args if isinstance(args, str) else json.dumps(args)
        lines += [f"const r{len(lines)} = await tools.mcp__{SERVER_NAME}__{name}({literal});",
                  f"text(typeof r{len(lines)} === 'string' ? r{len(lines)} : JSON.stringify(r{len(lines)}));"]
    return "\n".join(lines)


def offered(body: dict, name: str) -> tuple[str, str]:
    """The offered tool that is ``name``, or whose prefixed name ends with it: (namespace, name)."""
    for namespace, offered in offered_tools(body):
        if offered == name or offered.endswith(f"__{name}"):
            return namespace, offered
    return "", name


def offered_name(body: dict, name: str) -> str:
    return offered(body, name)[1]


def anthropic_events(body: dict, reply: dict, n: int, usage: dict, calls: list[tuple[str, Any]]) -> Iterator[dict]:
    yield {"type": "message_start", "message": {
        "id": f"msg_{n}", "type": "message", "role": "assistant", "model": body.get("model", "?"), "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": usage["input"], "output_tokens": 1, "cache_read_input_tokens": usage["cache_read"],
                  "cache_creation_input_tokens": usage["cache_write"]}}}
    index = 0
    if reply.get("text"):
        yield {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
        yield {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": reply["text"]}}
        yield {"type": "content_block_stop", "index": index}
        index += 1
    for i, (name, args) in enumerate(calls):
        yield {"type": "content_block_start", "index": index,
               "content_block": {"type": "tool_use", "id": f"toolu_{n}_{i}", "name": offered_name(body, name),
                                 "input": {}}}
        raw = args if isinstance(args, str) else json.dumps(args)
        yield {"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": raw}}
        yield {"type": "content_block_stop", "index": index}
        index += 1
    yield {"type": "message_delta", "delta": {"stop_reason": "tool_use" if calls else "end_turn", "stop_sequence": None},
           "usage": {"output_tokens": usage["output"]}}
    yield {"type": "message_stop"}


def responses_events(body: dict, reply: dict, n: int, usage: dict, calls: list[tuple[str, Any]]) -> Iterator[dict]:
    base = {"id": f"resp_{n}", "object": "response", "model": body.get("model", "?"), "status": "in_progress",
            "output": []}
    yield {"type": "response.created", "response": base}
    output: list[dict] = []
    if reply.get("text"):
        output.append({"type": "message", "id": f"msg_{n}", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": reply["text"], "annotations": []}]})
    if (calls or reply.get("exec")) and code_mode(body):   # {"exec": "..."}: JavaScript of the script's own
        output.append({"type": "custom_tool_call", "id": f"ctc_{n}", "call_id": f"call_{n}", "status": "completed",
                       "name": "exec", "namespace": "functions", "input": reply.get("exec") or exec_source(calls)})
        calls = []
    for i, (name, args) in enumerate(calls):
        namespace, name = offered(body, name)
        output.append({"type": "function_call", "id": f"fc_{n}_{i}", "call_id": f"call_{n}_{i}", "status": "completed",
                       "name": name, **({"namespace": namespace} if namespace else {}),
                       "arguments": args if isinstance(args, str) else json.dumps(args)})
    for index, item in enumerate(output):
        yield {"type": "response.output_item.added", "output_index": index, "item": item}
        yield {"type": "response.output_item.done", "output_index": index, "item": item}
    prompt = usage["input"] + usage["cache_read"]
    yield {"type": "response.completed", "response": {
        **base, "status": "completed", "output": output,
        "usage": {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": usage["cache_read"]},
                  "output_tokens": usage["output"], "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": prompt + usage["output"]}}}


def send_events(handler: BaseHTTPRequestHandler, events: Iterator[dict], cut: bool = False) -> None:
    """The events as server-sent events; ``cut``: the first one only, then the connection closes."""
    try:
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("connection", "close")
        handler.end_headers()
        for event in events:
            handler.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
            handler.wfile.flush()
            if cut:
                break
        handler.close_connection = True
    except (BrokenPipeError, ConnectionResetError):
        pass
