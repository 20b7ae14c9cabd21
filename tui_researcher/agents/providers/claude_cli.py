"""``claude -p`` (Claude Code) as a provider: the project's tools only, through its MCP server.

Its own tools are off (``--tools ""``: no Bash, Write, Edit, Read...; ``--disallowedTools`` names
the writing ones again), only this conversation's MCP server is loaded (``--strict-mcp-config``)
and its tools are allowed by name, so nothing asks for a permission and nothing needs
``--dangerously-skip-permissions`` (which Claude Code refuses as root). The system prompt is ours
(``--system-prompt``), which keeps each request near the SDK provider's size. The prompt goes on
stdin, the key (from ``agent.api_key_env``) in the environment: neither on the command line.

The stream (``--output-format stream-json --include-partial-messages``): ``system`` gives the
session, ``stream_event`` each message's usage as it grows, ``assistant`` its text, ``result``
the turn's end with ``usage`` and ``total_cost_usd``, which are what count.
"""

from __future__ import annotations

import json
from typing import Any

from ...mcp_server import SERVER_NAME
from ..usage import TokenUsage
from . import ToolSpec
from .cli import CliSettings, Dialect, Run

BUILTIN_WRITERS = ("Bash", "Write", "Edit", "NotebookEdit", "WebFetch", "WebSearch", "Task")


def tool_name(name: str) -> str:
    return f"mcp__{SERVER_NAME}__{name}"


def usage_of(u: dict[str, Any]) -> TokenUsage:
    return TokenUsage(input=int(u.get("input_tokens") or 0), output=int(u.get("output_tokens") or 0),
                      cache_read=int(u.get("cache_read_input_tokens") or 0),
                      cache_write=int(u.get("cache_creation_input_tokens") or 0))


class ClaudeDialect(Dialect):
    name = "claude_cli"

    def argv(self, cli: CliSettings, system: str, tools: list[ToolSpec], mcp: dict[str, Any],
             session: str, workdir: str) -> list[str]:
        argv = [cli.path, "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages",
                "--system-prompt", system, "--tools", "",
                "--mcp-config", json.dumps({"mcpServers": {SERVER_NAME: {"type": "stdio", **mcp}}}),
                "--strict-mcp-config",
                "--allowedTools", ",".join(tool_name(t.name) for t in tools),
                "--disallowedTools", ",".join(BUILTIN_WRITERS)]
        if cli.settings.model:
            argv += ["--model", cli.settings.model]
        if session:
            argv += ["--resume", session]
        return argv + list(cli.args)

    def read(self, event: dict[str, Any], run: Run) -> None:
        kind = event.get("type")
        if kind == "system" and event.get("session_id"):
            run.session = str(event["session_id"])
            run.model = str(event.get("model") or run.model)
        elif kind == "stream_event":
            self._stream(event.get("event") or {}, run)
        elif kind == "assistant":
            message = event["message"]
            mid = str(message.get("id", ""))
            if mid not in run.usage and isinstance(message.get("usage"), dict):
                run.usage[mid] = usage_of(message["usage"])
            run.texts += [b["text"] for b in message.get("content") or [] if b.get("type") == "text" and b.get("text")]
        elif kind == "result":
            run.session = str(event.get("session_id") or run.session)
            if isinstance(event.get("usage"), dict):
                run.final = usage_of(event["usage"])
            if event.get("total_cost_usd") is not None:
                run.final_usd = float(event["total_cost_usd"])
            if event.get("is_error") or event.get("subtype") != "success":
                run.error = str(event.get("result") or event.get("subtype") or "error")
            else:
                run.result = str(event.get("result") or "")

    def _stream(self, raw: dict[str, Any], run: Run) -> None:
        """A message's usage as the API streams it: the input at its start, the output at its end."""
        if raw.get("type") == "message_start":
            message = raw.get("message") or {}
            run.current = str(message.get("id", ""))
            run.usage[run.current] = usage_of(message.get("usage") or {})
        elif raw.get("type") == "message_delta" and isinstance(raw.get("usage"), dict):
            current = run.current
            before = run.usage.get(current, TokenUsage())
            u = raw["usage"]
            run.usage[current] = TokenUsage(
                input=int(u.get("input_tokens") or before.input), output=int(u.get("output_tokens") or before.output),
                cache_read=int(u.get("cache_read_input_tokens") or before.cache_read),
                cache_write=int(u.get("cache_creation_input_tokens") or before.cache_write))
