"""A command-line agent (``claude -p``, ``codex exec``) behind the same ``Conversation`` as the SDKs.

The CLI runs its own model loop, but its only tools are the project's, reached through
``tui-researcher mcp`` and the controller's ``ToolBridge``: a tool call the CLI makes arrives
here and ``send`` returns it as the reply's call, so the worker loop runs it (same ``Toolbox``,
sandbox, dry-run gate, events and ledger) and ``add_tool_results`` answers the waiting CLI. When
the CLI ends its turn, ``send`` returns its text. One CLI process serves a conversation until it
ends its turn; a later ``add_user`` resumes its session. ``end`` closes the conversation: the CLI
is stopped at once when a launch ended the dispatch (no request while the trial trains), else
its pending calls are answered so it can finish and report its usage.

Everything that can go wrong with a CLI before its answer (missing, not logged in, a non-zero
exit, silence past ``agent.cli_timeout``, its output cut or malformed, a rate limit) becomes a
``ProviderError``: the controller's notice and backoff, never a crash; after its answer (which
came through the tools), only a warning that its usage is unknown. Every text is redacted of the
key it was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from dataclasses import dataclass, field
from typing import Any

from ..bridge import ToolBridge
from ..usage import Price, TokenUsage, cost, price_for
from . import Reply, Settings, ToolCall, ToolResult, ToolSpec, fail, one_line, redact

STREAM_LIMIT = 16 * 1024 * 1024
END_WAIT_S = 5.0
"""How long ``end`` waits for a stopped CLI's output to be read to its end (for its usage)."""
FINISHED = "Recorded. This dispatch is over: reply with one short line and call no more tools."


@dataclass(frozen=True, slots=True)
class CliSettings:
    settings: Settings
    """Name, model and the key to redact: what every provider's errors use."""
    path: str
    args: tuple[str, ...]
    timeout: float
    env: dict[str, str] = field(default_factory=dict)
    """Set in the CLI's environment (an endpoint, the key from agent.api_key_env): never on its command line."""


@dataclass
class Run:
    """What one CLI process has said so far, as its ``Dialect`` reads the stream."""

    texts: list[str] = field(default_factory=list)
    usage: dict[str, TokenUsage] = field(default_factory=dict)
    """Per model message: the usage seen so far in the stream."""
    final: TokenUsage | None = None
    final_usd: float | None = None
    result: str | None = None
    error: str = ""
    session: str = ""
    bad_line: str = ""
    current: str = ""
    """The model message the stream is in."""
    last_error: str = ""
    """A passing complaint (codex's "Reconnecting..."): the reason given if the CLI then fails."""
    reported: TokenUsage = field(default_factory=TokenUsage)
    model: str = ""
    """The model the CLI says it uses (its default, where agent.model names none)."""

    def seen(self) -> TokenUsage:
        total = TokenUsage()
        for usage in self.usage.values():
            total += usage
        return total


class Dialect:
    """What differs between CLIs: the command line and the meaning of each line of the stream."""

    name = "cli"

    def argv(self, cli: CliSettings, system: str, tools: list[ToolSpec], mcp: dict[str, Any],
             session: str, workdir: str) -> list[str]:
        """``workdir``: the conversation's private directory (0700), the CLI's working directory."""
        raise NotImplementedError

    def read(self, event: dict[str, Any], run: Run) -> None:
        raise NotImplementedError

    def stopped(self, run: Run, env: dict[str, str]) -> None:
        """The CLI was stopped mid-turn (at a launch): fill ``run.final`` if the CLI kept its usage elsewhere."""

    def model_used(self, run: Run, env: dict[str, str]) -> str:
        """The model the CLI chose, where the stream says it (else where the CLI keeps it)."""
        return run.model


class CliProvider:
    on_retry: Any = None
    """The CLI retries by itself; nothing of ours to tell."""

    def __init__(self, cli: CliSettings, dialect: Dialect, pricing: dict[str, Price], command: list[str]) -> None:
        self.cli = cli
        self.dialect = dialect
        self.pricing = pricing
        self.price = price_for(cli.settings.model, pricing)
        self.mcp_command = command
        """How the CLI starts ``tui-researcher mcp`` (this interpreter, so it is the same install)."""
        self.name = cli.settings.name
        self.model = cli.settings.model
        self.live: set[CliConversation] = set()

    def conversation(self, system: str, tools: list[ToolSpec], *, cache_key: str = "",
                     rolling: bool = True) -> "CliConversation":
        conv = CliConversation(self, system, tools)
        self.live.add(conv)
        return conv

    async def close(self) -> None:
        for conv in list(self.live):
            await conv.end(stop=True)


class CliConversation:
    def __init__(self, provider: CliProvider, system: str, tools: list[ToolSpec]) -> None:
        self.provider = provider
        self.system = system
        self.tools = tools
        self.bridge = ToolBridge(tools)
        self.prompt: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self.run = Run()
        self.session = ""
        self._stdout: asyncio.Task[None] | None = None
        self._stderr: asyncio.Task[bytes] | None = None
        self._usd_before = 0.0

    @property
    def settings(self) -> Settings:
        return self.provider.cli.settings

    def add_user(self, text: str, *, stable: str = "") -> None:
        self.prompt.append(f"{stable}\n\n{text}" if stable else text)

    def add_tool_results(self, results: list[ToolResult], note: str = "") -> None:
        for i, r in enumerate(results):
            text = (r.content or "(no output)") + (f"\n\n{note}" if note and i == len(results) - 1 else "")
            self.bridge.answer(r.call.id, not r.is_error, text)
        if note and not results:
            self.prompt.append(note)

    async def send(self, *, max_tokens: int = 4096) -> Reply:
        if self.proc is None:
            await self._start()
        elif self.prompt:       # text for a CLI still in its turn: it goes with the next result
            for call_id in list(self.bridge.pending):
                self.bridge.answer(call_id, True, "\n\n".join(self.prompt))
            self.prompt = []
        return await self._next()

    async def end(self, *, stop: bool = False) -> Reply:
        """Close: stop the CLI (``stop``) or let it finish its turn; the usage not yet reported, and
        as its text what went wrong with a finish (the answer itself came through the tools)."""
        self.provider.live.discard(self)
        problem = ""
        try:
            if self.proc is not None and self.proc.returncode is None:
                if not stop:
                    for call_id in list(self.bridge.pending):
                        self.bridge.answer(call_id, True, FINISHED)
                    problem = await self._finish()
                self._kill()     # SIGTERM would not help: claude writes its result only sometimes, codex never
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._exited(), END_WAIT_S)
                if stop and self.run.final is None:
                    self.provider.dialect.stopped(self.run, {**os.environ, **self.provider.cli.env})
            self._learn_model()
            return Reply(problem, usage=self._unreported(), usd=self._unreported_usd())
        finally:
            await self.bridge.close()
            self.proc = None

    async def _finish(self) -> str:
        """Wait for the CLI to end the turn it was in; what went wrong, if anything."""
        name = self.settings.name
        try:
            code = await asyncio.wait_for(asyncio.shield(self._exited()), self.provider.cli.timeout)
        except asyncio.TimeoutError:
            return f"{name}: did not finish within {self.provider.cli.timeout:g}s (agent.cli_timeout): stopped"
        if code == 0 and self.run.result is not None and not self.run.error:
            return ""
        why = self.run.error or (f"output cut or malformed ({self.run.bad_line!r})" if self.run.bad_line
                                 else f"exit {code} without a result")
        return redact(f"{name}: {one_line(why, 300)}: its last turn's usage is unknown", self.settings)

    # the process -----------------------------------------------------------------------------

    async def _start(self) -> None:
        if not self.bridge.path or not os.path.exists(self.bridge.path):
            await self.bridge.start()
        cli, dialect = self.provider.cli, self.provider.dialect
        mcp = {"command": self.provider.mcp_command[0], "args": self.provider.mcp_command[1:],
               "env": self.bridge.env()}
        argv = dialect.argv(cli, self.system, self.tools, mcp, self.session, os.path.dirname(self.bridge.path))
        text = "\n\n".join(self.prompt)     # on stdin: the task is no business of `ps`
        self.prompt = []
        self.run = Run()
        env = {**os.environ, **cli.env, **self.bridge.env()}
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=env, cwd=os.path.dirname(self.bridge.path),
                start_new_session=True, limit=STREAM_LIMIT)
        except OSError as exc:
            raise fail(self.settings, f"{self.settings.name}: cannot start {cli.path!r}: {exc.strerror or exc} "
                                      f"(install it, or set agent.cli_path)") from None
        assert self.proc.stdin is not None
        with contextlib.suppress(ConnectionError):
            self.proc.stdin.write(text.encode())
            await self.proc.stdin.drain()
            self.proc.stdin.close()
        self._stdout = asyncio.create_task(self._read())
        self._stderr = asyncio.create_task(self.proc.stderr.read())   # type: ignore[union-attr]

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            text = line.decode("utf-8", "replace").strip()
            if not text:
                continue
            try:
                event = json.loads(text)
                if not isinstance(event, dict):
                    raise ValueError("not an object")
                self.provider.dialect.read(event, self.run)
            except (ValueError, TypeError, KeyError, AttributeError):
                self.run.bad_line = self.run.bad_line or text[:200]
            self.session = self.run.session or self.session

    async def _exited(self) -> int:
        assert self.proc is not None
        if self._stdout is not None:
            await self._stdout
        return await self.proc.wait()

    def _kill(self) -> None:
        """The CLI and everything it started (its MCP server): they share its process group."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    async def _next(self) -> Reply:
        """The next tool call the CLI makes, or its turn's end; a ``ProviderError`` past the timeout."""
        call = asyncio.ensure_future(self.bridge.calls.get())
        exit_ = asyncio.ensure_future(asyncio.shield(self._exited()))
        try:
            done, _ = await asyncio.wait({call, exit_}, timeout=self.provider.cli.timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (call, exit_):
                if not task.done():
                    task.cancel()
        if call in done:
            calls = [call.result()]
            while not self.bridge.calls.empty():
                calls.append(self.bridge.calls.get_nowait())
            return self._reply(calls)
        if exit_ in done:
            return await self._finished(exit_.result())
        self._kill()
        raise fail(self.settings, f"{self.settings.name}: no tool call and no answer within "
                                  f"{self.provider.cli.timeout:g}s (agent.cli_timeout): stopped")

    def _learn_model(self) -> None:
        """No agent.model: the CLI's own default, priced once the CLI names it (codex has no dollars of its own)."""
        provider = self.provider
        if not provider.model:
            provider.model = provider.dialect.model_used(self.run, {**os.environ, **provider.cli.env})
            provider.price = price_for(provider.model, provider.pricing) if provider.model else None

    def _reply(self, calls: list[ToolCall]) -> Reply:
        self._learn_model()
        text = "\n".join(self.run.texts).strip()
        self.run.texts = []
        return Reply(text=text, tool_calls=calls, usage=self._unreported(), usd=self._unreported_usd())

    async def _finished(self, code: int) -> Reply:
        self.proc = None
        stderr = (await self._stderr) if self._stderr is not None else b""
        run, name = self.run, self.settings.name
        if code != 0 or run.error or run.result is None:
            why = (run.error or (f"output cut or malformed ({run.bad_line!r})" if run.bad_line else "")
                   or run.last_error or _last_line(stderr.decode("utf-8", "replace")) or "it ended without a result")
            raise fail(self.settings, f"{name}: exit {code}: {one_line(why, 300)}{_hint(why)}")
        self._learn_model()
        usage, usd = self._unreported(), self._unreported_usd()
        return Reply(text=(run.result or "\n".join(run.texts)).strip(), usage=usage, usd=usd, stop="end_turn")

    # usage ----------------------------------------------------------------------------------

    def _unreported(self) -> TokenUsage:
        """Tokens not yet in a reply: the CLI's final figures once it has them, else its messages'."""
        run = self.run
        total = run.final if run.final is not None else run.seen()
        delta = TokenUsage(max(0, total.input - run.reported.input), max(0, total.output - run.reported.output),
                           max(0, total.cache_read - run.reported.cache_read),
                           max(0, total.cache_write - run.reported.cache_write))
        self._usd_before = cost(run.reported, self.provider.price)
        run.reported = run.reported + delta
        return delta

    def _unreported_usd(self) -> float | None:
        """The CLI's own dollars (claude's ``total_cost_usd``) less what earlier replies were priced at."""
        if self.run.final_usd is None:
            return None
        usd = max(0.0, self.run.final_usd - self._usd_before)
        self.run.final_usd = None    # reported once
        return usd


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _hint(why: str) -> str:
    low = why.lower()
    if "rate limit" in low or "429" in low or "usage limit" in low:
        return " (rate limited: planning backs off)"
    if any(word in low for word in ("login", "logged in", "auth", "401", "api key", "missing environment variable")):
        return " (log the CLI in, or set agent.api_key_env)"
    return ""
