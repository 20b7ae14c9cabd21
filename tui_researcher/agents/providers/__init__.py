"""LLM providers behind one small interface: a conversation that sends, and replies with tool calls.

Each provider keeps its native message format inside its ``Conversation``; the leader and the
workers only see ``Reply`` and ``ToolCall``. SDK errors never escape: they become
``ProviderError`` (a ``ResearcherError``), which the controller turns into a planning failure
with a backoff and a notice. Retries are ours (``retry.py``), each one told to a hook as it
happens, and no error text leaves this package with the key or token in it (``redact``).

Prompt caching pays only on a prefix that repeats byte for byte and reaches the API's minimum
(1,024 tokens for Sonnet-class Claude and for OpenAI), so a conversation is built stable part
first: tools, system, then a ``stable`` opening (the leader's brief), then what changes. Within a
dispatch every request re-sends the whole conversation, so a worker's conversation caches it as
it grows (``rolling``); the leader's, sent once per phase, does not pay to write its tail.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...errors import ResearcherError
from ..usage import TokenUsage


class ProviderError(ResearcherError):
    """The provider could not answer (outage, rate limit past the retries, refused key, bad request)."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    schema: dict[str, Any]


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any] | None
    """None when the model's arguments were not a JSON object; ``error`` says why."""
    raw: str = ""
    error: str = ""


@dataclass(slots=True)
class Reply:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    stop: str = ""
    usd: float | None = None
    """The provider's own dollars for ``usage`` (a CLI's reported cost); None: priced from the table."""


@dataclass(frozen=True, slots=True)
class ToolResult:
    call: ToolCall
    content: str
    is_error: bool = False


class Conversation(Protocol):
    """One exchange with a model: a system prompt, a fixed toolset, and the messages so far."""

    def add_user(self, text: str, *, stable: str = "") -> None:
        """``stable`` goes first and must stay byte-identical across conversations: it is cached."""

    def add_tool_results(self, results: list[ToolResult], note: str = "") -> None: ...

    async def send(self, *, max_tokens: int = 4096) -> Reply: ...

    async def end(self, *, stop: bool = False) -> Reply:
        """The conversation is over (``stop``: at once, a launch ended it): the usage not yet reported,
        and as its text a problem to tell (a CLI whose last turn ended badly), if any."""


class Provider(Protocol):
    name: str
    model: str
    on_retry: Any
    """A ``retry.RetryHook`` or None: told before and after each retry's wait."""

    def conversation(self, system: str, tools: list[ToolSpec], *, cache_key: str = "",
                     rolling: bool = True) -> Conversation:
        """``cache_key`` groups requests that share a prefix (OpenAI routing); ``rolling`` caches the
        growing conversation at each request, for conversations of several requests."""

    async def close(self) -> None: ...


def parse_arguments(raw: Any) -> tuple[dict[str, Any] | None, str]:
    """A tool call's arguments as a dict, or None and why: a malformed call is reported, never guessed."""
    if isinstance(raw, dict):
        return raw, ""
    if isinstance(raw, str):
        try:
            value = json.loads(raw or "{}")
        except json.JSONDecodeError as exc:
            return None, f"arguments are not valid JSON ({exc.msg} at char {exc.pos})"
        if isinstance(value, dict):
            return value, ""
        return None, f"arguments must be a JSON object, got {type(value).__name__}"
    return None, f"arguments must be a JSON object, got {type(raw).__name__}"


def cache_key(project: str, role: str) -> str:
    """A stable, opaque ``prompt_cache_key`` per project and role: a hash, so no name or secret leaks."""
    digest = hashlib.sha256(f"tui-researcher\0{project}\0{role}".encode()).hexdigest()
    return f"tuir-{digest[:32]}"


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Settings:
    """How to reach one provider; built once by ``make_planner`` from ``agent.*``."""

    name: str
    model: str
    base_url: str | None
    api_key: str | None
    auth_token: str | None
    credential_env: str
    """The environment variable the credential came from, for messages that say what to fix."""
    timeout: float
    max_retries: int

    @property
    def deadline(self) -> float:
        """The most one attempt may take: the SDK's timeout bounds each read, not the whole answer."""
        return self.timeout * 2 + 30.0


HEADER_SECRET = re.compile(r"(?i)\b(x-api-key|authorization|api[-_]key|auth[-_]token)(\W{0,2}[:=]\W{0,2})"
                           r"(bearer\s+)?(?!\[redacted\]|bearer\s)[^\s\"',;&}\]]+")
"""A credential echoed as a header or a field (``x-api-key: ...``, ``"Authorization": "Bearer ..."``)."""


def redact(text: str, settings: Settings) -> str:
    """The key and the token masked wherever they appear, and any echoed credential header, before
    the text is cut, shown, stored or remembered."""
    for secret in (settings.api_key, settings.auth_token):
        if secret and len(secret) >= 8:
            text = text.replace(secret, "[redacted]")
    return HEADER_SECRET.sub(lambda m: f"{m[1]}{m[2]}{m[3] or ''}[redacted]", text)


def fail(settings: Settings, text: str) -> ProviderError:
    """The one way a provider error is made: redacted."""
    return ProviderError(redact(text, settings))


def describe_error(settings: Settings, exc: BaseException, retries_taken: int = 0) -> str:
    """One line a person can act on, from either SDK's exception (both share one shape), redacted."""
    return redact(_describe(settings, exc, retries_taken), settings)


def _describe(settings: Settings, exc: BaseException, retries_taken: int) -> str:
    who = settings.name
    retries = f" after {retries_taken} retries" if retries_taken else ""
    status = getattr(exc, "status_code", None)
    detail = one_line(redact(getattr(exc, "message", "") or str(exc), settings), 200)
    kind = type(exc).__name__
    if kind == "APITimeoutError":
        return f"{who}: no answer within {settings.timeout:g}s{retries} (agent.request_timeout)"
    if kind == "APIConnectionError":
        return f"{who}: cannot reach {settings.base_url or 'the API'}{retries}: {detail}"
    if status in (401, 403):
        return f"{who}: the credential in {settings.credential_env} was refused ({status}): {detail}"
    if status == 404:
        return f"{who}: not found (404), check agent.model {settings.model!r} and agent.base_url: {detail}"
    if status == 429:
        return f"{who}: rate limited (429){retries}: {detail}"
    if status is not None and status >= 500:
        return f"{who}: server error {status}{retries}: {detail}"
    if status is not None:
        return f"{who}: request refused ({status}): {detail}"
    return f"{who}: {kind}: {detail}"
