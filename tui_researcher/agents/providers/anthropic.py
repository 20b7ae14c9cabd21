"""Anthropic Messages API through the official SDK: native tool_use blocks, prompt caching.

The system prompt and the tool list carry ``cache_control`` breakpoints, so a worker's second
and later turns (and every THINK with the same toolset) read them from the cache.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic

from ..usage import TokenUsage
from . import ProviderError, Reply, Settings, ToolCall, ToolResult, ToolSpec, describe_error, parse_arguments

CACHE = {"type": "ephemeral"}


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = settings.model
        credential = ({"auth_token": settings.auth_token} if settings.auth_token and not settings.api_key
                      else {"api_key": settings.api_key})
        self.client = anthropic.AsyncAnthropic(**credential, base_url=settings.base_url, timeout=settings.timeout,
                                               max_retries=settings.max_retries)

    def conversation(self, system: str, tools: list[ToolSpec]) -> "AnthropicConversation":
        return AnthropicConversation(self, system, tools)

    async def close(self) -> None:
        await self.client.close()


class AnthropicConversation:
    def __init__(self, provider: AnthropicProvider, system: str, tools: list[ToolSpec]) -> None:
        self.provider = provider
        self.system = [{"type": "text", "text": system, "cache_control": CACHE}]
        self.tools: list[dict[str, Any]] = [
            {"name": t.name, "description": t.description, "input_schema": t.schema} for t in tools]
        if self.tools:
            self.tools[-1]["cache_control"] = CACHE
        self.messages: list[dict[str, Any]] = []

    def add_user(self, text: str) -> None:
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

    async def send(self, *, max_tokens: int = 4096) -> Reply:
        settings = self.provider.settings
        kwargs: dict[str, Any] = {"model": settings.model, "max_tokens": max_tokens, "system": self.system,
                                  "messages": self.messages}
        if self.tools:
            kwargs["tools"] = self.tools
        try:
            message = await asyncio.wait_for(self.provider.client.messages.create(**kwargs), settings.deadline)
        except asyncio.TimeoutError:
            raise ProviderError(f"anthropic: no answer within {settings.deadline:g}s, retries included") from None
        except anthropic.AnthropicError as exc:
            raise ProviderError(describe_error(settings, exc)) from exc
        try:
            return self._read(message)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ProviderError(f"anthropic: a reply of an unexpected shape ({type(exc).__name__}: {exc})") from exc

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
