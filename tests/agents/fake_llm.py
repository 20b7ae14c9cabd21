"""A local server that speaks the Anthropic Messages API (plain or streamed), the OpenAI Chat
Completions API, the OpenAI Responses API (streamed) and the arXiv query API, scripted per test,
so the real SDK clients and the real ``claude`` and ``codex`` CLIs run against it with no network.

Requests are routed by the tools they offer: ``submit_plan`` is a THINK, ``submit_reflection`` a
REFLECT, ``launch_experiment`` the code worker, ``search_papers`` the idea worker, anything else
the writing worker; a request that offers no tool (a CLI's own side requests) is ``bare`` and
answers ``ok`` unless scripted. Each route has its own queue of scripted replies:

    {"tool": "write_file", "args": {...}}          one tool call
    {"tools": [("a", {...}), ("b", {...})]}        several
    {"text": "done"}                               no tool call
    {"raw_args": "{broken", "tool": "submit_plan"} malformed arguments
    {"status": 429, "headers": {"retry-after": "0.2"}}
    {"status": 401, "echo_headers": True}          an error whose message repeats the request's headers
    {"delay": 3.0, ...}                            wait before answering (to time out a client)
    {"cut": True, ...}                             a streamed answer cut after its first event
    {..., "repeat": True}                          answer this forever
    {..., "usage": {"input": 10, ...}}             report these tokens for this reply

Token usage is modelled (``fake_cache``: characters / 4, prompt caching at the real minimums)
unless ``fake.usage`` or a reply's ``usage`` fixes the figures. Each ``Seen`` keeps the usage
the server reported.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.agents.fake_cache import PromptCache, TooManyBreakpoints, tokens
from tests.agents.fake_stream import (anthropic_events, code_mode, instructions, offered_name, offered_tools,
                                     responses_events, send_events)


@dataclass
class Seen:
    route: str
    api: str
    body: dict
    headers: dict
    at: float
    usage: dict = field(default_factory=dict)


@dataclass
class FakeLLM:
    routes: dict[str, list[dict]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    papers: list[dict] = field(default_factory=list)
    paper_delay: float = 0.0
    paper_queries: list[str] = field(default_factory=list)
    usage: dict[str, int] | None = None
    """Fixed figures for every reply; None: modelled, with prompt caching (``cache``)."""
    cache: PromptCache = field(default_factory=PromptCache)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # scripting ---------------------------------------------------------------------------------

    def script(self, route: str, *replies: dict) -> "FakeLLM":
        self.routes.setdefault(route, []).extend(replies)
        return self

    def count(self, route: str | None = None) -> int:
        return sum(1 for r in self.requests if route is None or r.route == route)

    def of(self, route: str) -> list[Seen]:
        return [r for r in self.requests if r.route == route]

    def _next(self, route: str) -> dict | None:
        with self._lock:
            queue = self.routes.get(route) or []
            if not queue:
                return None
            if queue[0].get("repeat") and len(queue) == 1:
                return queue[0]
            return queue.pop(0)

    # serving ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> "FakeLLM":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._papers(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = urlparse(self.path).path
                api = ("anthropic" if path.endswith("/v1/messages") else
                       "responses" if path.endswith("/responses") else "openai")
                route = _route(body, api)
                seen = Seen(route, api, body, dict(self.headers), time.time())
                fake.requests.append(seen)
                reply = fake._next(route)
                if reply is None and route == "bare":
                    reply = {"text": "ok"}
                if reply is None:
                    _send(self, 500, {"error": {"type": "api_error", "message": f"fake: nothing scripted for {route}"}},
                          {"x-should-retry": "false"})
                    return
                if reply.get("delay"):
                    time.sleep(reply["delay"])
                if reply.get("status"):
                    echo = dict(self.headers) if reply.get("echo_headers") else None
                    _send(self, reply["status"], _error(api, reply["status"], echo), reply.get("headers", {}))
                    return
                try:
                    usage = fake._usage(api, body, reply)
                except TooManyBreakpoints as exc:
                    _send(self, 400, {"type": "error", "error": {"type": "invalid_request_error", "message": str(exc)}})
                    return
                n = next(fake._ids)
                seen.usage = usage
                if body.get("stream"):
                    events = anthropic_events if api == "anthropic" else responses_events
                    send_events(self, events(body, reply, n, usage, _calls(reply)), cut=bool(reply.get("cut")))
                    return
                payload = (_anthropic(body, reply, n, usage) if api == "anthropic" else _openai(body, reply, n, usage))
                seen.usage = usage
                _send(self, 200, payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _usage(self, api: str, body: dict, reply: dict) -> dict[str, int]:
        if self.usage is not None or "usage" in reply:
            return {"input": 120, "output": 30, "cache_read": 0, "cache_write": 0, **(self.usage or {}),
                    **reply.get("usage", {})}
        with self._lock:
            usage = self.cache.anthropic(body) if api == "anthropic" else self.cache.openai(body)
        return {**usage, "output": tokens(json.dumps([reply.get("text"), _calls(reply)]))}

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _papers(self, handler: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlparse(handler.path).query)
        self.paper_queries.append(query.get("search_query", [""])[0])
        if self.paper_delay:
            time.sleep(self.paper_delay)
        entries = "".join(
            f"<entry><id>http://arxiv.org/abs/{p['id']}</id><published>{p.get('year', 2020)}-01-01T00:00:00Z"
            f"</published><title>{p['title']}</title><summary>{p.get('abstract', '')}</summary>"
            + "".join(f"<author><name>{a}</name></author>" for a in p.get("authors", ["A. Author"]))
            + "</entry>" for p in self.papers)
        data = f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">{entries}</feed>'.encode()
        try:
            handler.send_response(200)
            handler.send_header("content-type", "application/atom+xml")
            handler.send_header("content-length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _route(body: dict, api: str) -> str:
    # a CLI's MCP tools carry a prefix (mcp__tuir__submit_plan) or a namespace (codex's mcp__tuir); in codex's
    # code mode they are offered by no name at all: the system prompt, which names its own, tells the phase
    names = {name.rsplit("__", 1)[-1] for _, name in offered_tools(body)}
    if code_mode(body):
        prompt = instructions(body)
        names = {name for name in ("submit_plan", "submit_reflection", "launch_experiment", "search_papers",
                                   "read_file", "write_file", "list_files") if name in prompt}
    for name, route in (("submit_plan", "think"), ("submit_reflection", "reflect"), ("launch_experiment", "code"),
                        ("search_papers", "idea")):
        if name in names:
            return route
    return "writing" if names & {"read_file", "write_file", "list_files"} else "bare"


def _calls(reply: dict) -> list[tuple[str, Any]]:
    if "tools" in reply:
        return list(reply["tools"])
    if "raw_args" in reply:
        return [(reply.get("tool", "submit_plan"), reply["raw_args"])]
    if "tool" in reply:
        return [(reply["tool"], reply.get("args", {}))]
    return []


def _anthropic(body: dict, reply: dict, n: int, usage: dict) -> dict:
    content: list[dict] = []
    if reply.get("text"):
        content.append({"type": "text", "text": reply["text"]})
    for i, (name, args) in enumerate(_calls(reply)):
        content.append({"type": "tool_use", "id": f"toolu_{n}_{i}", "name": offered_name(body, name), "input": args})
    return {"id": f"msg_{n}", "type": "message", "role": "assistant", "model": body.get("model", "?"),
            "content": content, "stop_reason": "tool_use" if _calls(reply) else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": usage["input"], "output_tokens": usage["output"],
                      "cache_read_input_tokens": usage["cache_read"],
                      "cache_creation_input_tokens": usage["cache_write"]}}


def _openai(body: dict, reply: dict, n: int, usage: dict) -> dict:
    calls = [{"id": f"call_{n}_{i}", "type": "function",
              "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
             for i, (name, args) in enumerate(_calls(reply))]
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("text")}
    if calls:
        message["tool_calls"] = calls
    prompt = usage["input"] + usage["cache_read"]
    return {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "?"),
            "choices": [{"index": 0, "finish_reason": "tool_calls" if calls else "stop", "message": message}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": usage["output"],
                      "total_tokens": prompt + usage["output"],
                      "prompt_tokens_details": {"cached_tokens": usage["cache_read"]}}}


def _error(api: str, status: int, echo: dict | None = None) -> dict:
    kind = {429: "rate_limit_error", 401: "authentication_error"}.get(status, "api_error")
    message = {429: "rate limited by the fake server", 401: "invalid x-api-key"}.get(status, "the fake server failed")
    if echo is not None:   # a careless endpoint or proxy: the credential comes back in the error text
        first = sorted(echo, key=lambda name: name.lower() not in ("x-api-key", "authorization"))
        message += f"; request headers: {json.dumps({name: echo[name] for name in first})}"
    if api == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"type": kind, "message": message, "code": None, "param": None}}


def _send(handler: BaseHTTPRequestHandler, status: int, payload: dict, headers: dict | None = None) -> None:
    data = json.dumps(payload).encode()
    try:
        handler.send_response(status)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
