"""Notifications through Apprise (ntfy, Slack, Discord, Telegram, email, JSON webhooks, ~100 more).

Apprise's send is synchronous and a service may hang for its full timeout, so nothing here runs on
the event loop: each send runs on a daemon thread of its own (one at a time), the loop only awaits
its future. Messages wait in a bounded queue (the oldest is dropped, with a notice, when it is full);
a URL that fails is a notice and is retried with growing delays, on its own, so a working URL never
gets a message twice. Secrets stay out of our files: ``${VAR}`` in a URL is read from the environment
when the notifier starts, and a URL is only ever shown in Apprise's private form.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .alerts import Alert

RETRY_DELAYS = (5.0, 15.0, 60.0, 300.0, 900.0)
"""Seconds before each retry of a failed URL; after the last, the message is dropped with a notice."""
MAX_QUEUED = 100
_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def expand(url: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """``url`` with ``${VAR}``/``$VAR`` filled from the environment, and the names that are not set."""
    env = os.environ if env is None else env
    missing: list[str] = []

    def fill(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name not in env:
            missing.append(name)
            return m.group(0)
        return env[name]
    return _VAR.sub(fill, url), missing


def url_problem(url: str) -> str | None:
    """Why Apprise cannot use ``url`` (for config.yaml's one-line error), or None. An unset ``${VAR}`` is
    checked as if set: ``status`` or ``report`` need not have the token; ``run`` checks it (``unset_in``)."""
    import apprise

    if not isinstance(url, str) or not url.strip():
        return "expected an Apprise URL such as ntfy://topic or json://host/path"
    filled, missing = expand(url)
    if missing:
        filled = expand(url, {**os.environ, **{name: "x" for name in missing}})[0]
    if apprise.Apprise.instantiate(filled) is None:
        scheme = filled.split("://", 1)[0] if "://" in filled else filled[:20]
        return f"Apprise does not understand {scheme!r} (see https://github.com/caronc/apprise/wiki)"
    return None


def unset_in(urls: list[str]) -> tuple[int, str] | None:
    """The first URL (its index and the variable) that names an environment variable not set now."""
    for i, url in enumerate(urls):
        missing = expand(url)[1]
        if missing:
            return i, missing[0]
    return None


@dataclass
class Target:
    """One service to notify: Apprise's plugin and the only form of its URL we ever print."""

    plugin: Any
    shown: str


def load_targets(urls: list[str], config_file: str | None) -> tuple[list[Target], list[str]]:
    """The targets, and one problem line per URL or file that gives none."""
    import apprise

    targets, problems = [], []
    for url in urls:
        plugin = apprise.Apprise.instantiate(expand(url)[0])
        if plugin is None:
            problems.append(f"notify: a URL Apprise does not understand was skipped ({url_problem(url)})")
        else:
            targets.append(Target(plugin, plugin.url(privacy=True)))
    if config_file:
        path = os.path.expanduser(config_file)
        bundle = apprise.Apprise()
        if not os.path.isfile(path) or not bundle.add(apprise.AppriseConfig(paths=path)) or not len(bundle):
            problems.append(f"notify.apprise_config: {path} gives no URL Apprise understands")
        else:
            targets.extend(Target(p, p.url(privacy=True)) for p in bundle)
    return targets, problems


def _send(target: Target, alert: Alert) -> tuple[bool, str]:
    """Blocking: one message to one service; its failure in Apprise's own words."""
    import apprise

    with apprise.LogCapture(level=logging.WARNING) as log:
        try:
            ok = bool(target.plugin.notify(body=alert.body(), title=alert.title, notify_type=alert.level))
        except Exception as exc:     # a plugin's bug is a failed send, never the loop's crash
            return False, f"{type(exc).__name__}: {exc}"
    lines = [line for line in log.getvalue().splitlines() if line.strip()]
    return ok, (lines[-1][:200] if lines else "no reason given")


def in_thread(fn: Callable[[], Any]) -> "asyncio.Future[Any]":
    """Run ``fn`` on a daemon thread: awaiting it never blocks the loop, and a hung call never blocks exit."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if not future.done():
            future.set_exception(error) if error else future.set_result(result)

    def work() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (fn(), None)
        except BaseException as exc:
            outcome = (None, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:
            pass     # the loop closed while the service hung: nobody waits for the answer
    threading.Thread(target=work, name="notify-send", daemon=True).start()
    return future


@dataclass
class Job:
    alert: Alert
    pending: list[Target]
    attempt: int = 0


@dataclass
class Notifier:
    """The queue and the sender; ``run`` is a supervised task, ``put`` is called from the loop."""

    targets: list[Target]
    notice: Callable[[str, str], None]
    retry_delays: tuple[float, ...] = RETRY_DELAYS
    send: Callable[[Target, Alert], tuple[bool, str]] = _send
    queue: "asyncio.Queue[Job]" = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED))
    sent: int = 0
    failures: int = 0
    dropped: int = 0
    _busy: bool = False

    def put(self, alert: Alert) -> None:
        if not self.targets:
            return
        if self.queue.full():
            old = self.queue.get_nowait()
            self.dropped += 1
            self.notice(f"notify: {MAX_QUEUED} messages waiting; the oldest ({old.alert.title}) was dropped",
                        "warning")
        self.queue.put_nowait(Job(alert, list(self.targets)))

    async def run(self) -> None:
        while True:
            job = await self.queue.get()
            self._busy = True
            try:
                await self._deliver(job)
            finally:
                self._busy = False

    async def _deliver(self, job: Job) -> None:
        while True:
            for target in list(job.pending):
                ok, why = await in_thread(lambda t=target: self.send(t, job.alert))
                if ok:
                    job.pending.remove(target)
                    self.sent += 1
                    continue
                self.failures += 1
                if job.attempt >= len(self.retry_delays):
                    job.pending.remove(target)
                    self.notice(f"notify: {target.shown} failed {job.attempt + 1} times; message dropped "
                                f"({job.alert.title}): {why}", "warning")
                else:
                    self.notice(f"notify: {target.shown} failed ({why}); retrying in "
                                f"{self.retry_delays[job.attempt]:g}s", "warning")
            if not job.pending:
                return
            await asyncio.sleep(self.retry_delays[job.attempt])
            job.attempt += 1

    async def flush(self, timeout: float) -> bool:
        """Wait (bounded) until every queued message is sent or given up; whether it emptied."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._busy or not self.queue.empty():
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True
