"""Anthropic Messages API through the official SDK: native tool_use blocks, prompt caching.

Breakpoints (at most four a request, ``MAX_BREAKPOINTS``): the end of the system prompt (tools
render before it, so it covers them), the end of the ``stable`` opening (the leader's brief, the
same every cycle), and for a rolling conversation the last block of this request, where the next
request reads, and the last block of the previous one, where this one reads: the API looks back
only 20 blocks from a breakpoint, and one turn of parallel tool calls can add more. A prefix under
the model's minimum (1,024 tokens for Sonnet and Opus) is neither cached nor billed as a write.
"""

from __future__ import annotations

from typing import Any

import anthropic

from ..usage import TokenUsage
from . import Reply, Settings, ToolCall, ToolResult, ToolSpec, fail, parse_arguments
from .retry import RetryHook, retry_headers, with_retries

CACHE = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = settings.model
        self.on_retry: RetryHook | None = None
        credential = ({"auth_token": settings.auth_token} if settings.auth_token and not settings.api_key
                      else {"api_key": settings.api_key})
        self.client = anthropic.AsyncAnthropic(**credential, base_url=settings.base_url, timeout=settings.timeout,
                                               max_retries=0)   # ours: retry.py

    def conversation(self, system: str, tools: list[ToolSpec], *, cache_key: str = "",
                     rolling: bool = True) -> "AnthropicConversation":
        return AnthropicConversation(self, system, tools, rolling=rolling)   # the API has no cache key

    async def close(self) -> None:
        await self.client.close()


class AnthropicConversation:
    def __init__(self, provider: AnthropicProvider, system: str, tools: list[ToolSpec], *,
                 rolling: bool = True) -> None:
        self.provider = provider
        self.system = [{"type": "text", "text": system, "cache_control": CACHE}]
        self.tools: list[dict[str, Any]] = [
            {"name": t.name, "description": t.description, "input_schema": t.schema} for t in tools]
        self.messages: list[dict[str, Any]] = []
        self.rolling = rolling
        self._stable: Position | None = None
        self._previous: Position | None = None

    def add_user(self, text: str, *, stable: str = "") -> None:
        if stable and self._stable is None:
            self._user([{"type": "text", "text": stable}])
            self._stable = _last(self.messages)
        elif stable:
            text = f"{stable}\n\n{text}"
        self._user([{"type": "text", "text": text}])

    def add_tool_results(self, results: list[ToolResult], note: str = "") -> None:
        blocks: list[dict[str, Any]] = [
            {"type": "tool_result", "tool_use_id": r.call.id, "content": r.content or "(no output)",
             **({"is_error": True} if r.is_error else {})} for r in results]
        if note:
            blocks.append({"type": "text", "text": note})
        self._user(blocks)

    def _user(self, blocks: list[dict[str, Any]]) -> None:
        if self.messages and self.messages[-1]["role"] == "user":
            self.messages[-1]["content"].extend(blocks)
        else:
            self.messages.append({"role": "user", "content": blocks})

    async def end(self, *, stop: bool = False) -> Reply:
        return Reply("")    # each request stands alone: nothing runs between them

    async def send(self, *, max_tokens: int = 4096) -> Reply:
        settings = self.provider.settings
        kwargs: dict[str, Any] = {"model": settings.model, "max_tokens": max_tokens, "system": self.system,
                                  "messages": with_breakpoints(self.messages, self._breakpoints())}
        if self.tools:
            kwargs["tools"] = self.tools
        message = await with_retries(
            settings, lambda n: self.provider.client.messages.create(**kwargs, extra_headers=retry_headers(n)),
            anthropic.AnthropicError, self.provider.on_retry)
        if self.rolling:
            self._previous = _last(self.messages)
        try:
            return self._read(message)
        except (AttributeError, TypeError, ValueError) as exc:
            raise fail(settings, f"anthropic: a reply of an unexpected shape ({type(exc).__name__}: {exc})") from exc

    def _breakpoints(self) -> list[Position]:
        """Where this request marks the messages; the system prompt holds the first of the four."""
        marks = [self._stable]
        if self.rolling and self.messages:
            marks += [self._previous, _last(self.messages)]
        unique = list(dict.fromkeys(m for m in marks if m is not None))
        return unique[-(MAX_BREAKPOINTS - 1):]

    def _read(self, message: Any) -> Reply:
        content: list[dict[str, Any]] = []
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                texts.append(block.text)
                content.append({"type": "text", "text": block.text})
            elif block.type == "tool_use":
                args, error = parse_arguments(block.input)
                calls.append(ToolCall(id=block.id, name=block.name, arguments=args, raw=str(block.input)[:2000],
                                      error=error))
                content.append({"type": "tool_use", "id": block.id, "name": block.name,
                                "input": block.input if isinstance(block.input, dict) else {}})
            else:  # thinking and other blocks go back as they came
                content.append(block.model_dump(exclude_none=True))
        self.messages.append({"role": "assistant", "content": content or [{"type": "text", "text": "(no content)"}]})
        u = message.usage
        usage = TokenUsage(input=u.input_tokens or 0, output=u.output_tokens or 0,
                           cache_read=u.cache_read_input_tokens or 0, cache_write=u.cache_creation_input_tokens or 0)
        return Reply(text="\n".join(texts).strip(), tool_calls=calls, usage=usage, stop=message.stop_reason or "")


Position = tuple[int, int]
"""(message index, block index) of a content block."""


def _last(messages: list[dict[str, Any]]) -> Position:
    return len(messages) - 1, len(messages[-1]["content"]) - 1


def with_breakpoints(messages: list[dict[str, Any]], marks: list[Position]) -> list[dict[str, Any]]:
    """The messages as sent: copies of the marked blocks carry ``cache_control``; the stored history
    stays unmarked, so a breakpoint moves instead of piling up past the API's four."""
    sent = list(messages)
    for m, b in marks:
        content = list(sent[m]["content"])
        content[b] = {**content[b], "cache_control": CACHE}
        sent[m] = {**sent[m], "content": content}
    return sent
