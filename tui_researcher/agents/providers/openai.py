"""OpenAI Chat Completions through the official SDK: native function tool calls.

Works with any compatible endpoint through ``agent.base_url``. OpenAI caches prompt prefixes of
1,024 tokens and more by itself; ``prompt_cache_key`` (one per project and role) routes requests
that share a prefix to the same cache, and the messages keep the stable part first. The cached
share of the prompt is reported and priced as cache reads.
"""

from __future__ import annotations

from typing import Any

import openai

from ..usage import TokenUsage
from . import ProviderError, Reply, Settings, ToolCall, ToolResult, ToolSpec, fail, parse_arguments
from .retry import RetryHook, retry_headers, with_retries


SEND_CACHE_KEY = True
"""Send ``prompt_cache_key``; a strict compatible endpoint that refuses unknown fields would need
this off (a candidate for ``agent.prompt_cache_key``)."""


class OpenAIProvider:
    name = "openai"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = settings.model
        self.on_retry: RetryHook | None = None
        self.client = openai.AsyncOpenAI(api_key=settings.api_key or settings.auth_token, base_url=settings.base_url,
                                         timeout=settings.timeout, max_retries=0)   # ours: retry.py

    def conversation(self, system: str, tools: list[ToolSpec], *, cache_key: str = "",
                     rolling: bool = True) -> "OpenAIConversation":
        return OpenAIConversation(self, system, tools, cache_key=cache_key)   # caching is automatic

    async def close(self) -> None:
        await self.client.close()


class OpenAIConversation:
    def __init__(self, provider: OpenAIProvider, system: str, tools: list[ToolSpec], *, cache_key: str = "") -> None:
        self.provider = provider
        self.cache_key = cache_key
        self.tools = [{"type": "function", "function": {"name": t.name, "description": t.description,
                                                        "parameters": t.schema}} for t in tools]
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": system}]

    def add_user(self, text: str, *, stable: str = "") -> None:
        self.messages.append({"role": "user", "content": f"{stable}\n\n{text}" if stable else text})

    def add_tool_results(self, results: list[ToolResult], note: str = "") -> None:
        for r in results:
            self.messages.append({"role": "tool", "tool_call_id": r.call.id,
                                  "content": (("error: " if r.is_error else "") + (r.content or "(no output)"))})
        if note:
            self.add_user(note)

    async def end(self, *, stop: bool = False) -> Reply:
        return Reply("")    # each request stands alone: nothing runs between them

    async def send(self, *, max_tokens: int = 4096) -> Reply:
        settings = self.provider.settings
        kwargs: dict[str, Any] = {"model": settings.model, "messages": self.messages,
                                  "max_completion_tokens": max_tokens}
        if self.tools:
            kwargs["tools"] = self.tools
        if self.cache_key and SEND_CACHE_KEY:
            kwargs["prompt_cache_key"] = self.cache_key
        completion = await with_retries(
            settings, lambda n: self.provider.client.chat.completions.create(**kwargs, extra_headers=retry_headers(n)),
            openai.OpenAIError, self.provider.on_retry)
        try:
            return self._read(completion)
        except (AttributeError, TypeError, ValueError) as exc:
            raise fail(settings, f"openai: a reply of an unexpected shape ({type(exc).__name__}: {exc})") from exc

    def _read(self, completion: Any) -> Reply:
        if not completion.choices:
            raise ProviderError("openai: the reply had no choices")
        choice = completion.choices[0]
        message = choice.message
        calls: list[ToolCall] = []
        native_calls: list[dict[str, Any]] = []
        for call in message.tool_calls or []:
            function = getattr(call, "function", None)
            if function is None:  # a custom (non-function) tool call: we define none, so it is malformed
                calls.append(ToolCall(id=call.id, name=getattr(call, "type", "?"), arguments=None,
                                      error="not a function call"))
                continue
            args, error = parse_arguments(function.arguments)
            calls.append(ToolCall(id=call.id, name=function.name, arguments=args, raw=function.arguments[:2000],
                                  error=error))
            native_calls.append({"id": call.id, "type": "function",
                                 "function": {"name": function.name, "arguments": function.arguments}})
        assistant: dict[str, Any] = {"role": "assistant", "content": message.content or ""}
        if native_calls:
            assistant["tool_calls"] = native_calls
        self.messages.append(assistant)
        return Reply(text=(message.content or message.refusal or "").strip(), tool_calls=calls,
                     usage=_usage(completion.usage), stop=choice.finish_reason or "")


def _usage(u: Any) -> TokenUsage:
    if u is None:
        return TokenUsage()
    details = u.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    written = (getattr(details, "cache_write_tokens", None) or 0) if details else 0
    prompt = u.prompt_tokens or 0
    return TokenUsage(input=max(0, prompt - cached - written), output=u.completion_tokens or 0,
                      cache_read=cached, cache_write=written)
