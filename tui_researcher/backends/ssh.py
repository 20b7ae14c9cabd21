"""Trials on a remote GPU host: one asyncssh connection and one host helper process on it.

A new ``ssh`` per operation costs ~300 ms and ``conn.run`` ~90 ms (a login shell each time);
a request on a helper that is already running costs a fraction of a millisecond (DESIGN.md,
principle 6). So this backend opens one connection per host, sends the helper's source over
SFTP, starts it once, and speaks JSON lines to it; every operation lives in ``HelperBackend``.

The connection is this object's alone: it reconnects lazily when the connection or the helper
has gone, and after a failure waits 1 s, 2 s, 4 s ... (at most 60 s) before trying again, so a
host that is down fails fast instead of being hammered. Host keys are always checked against a
known_hosts file; an unknown or changed key stops with its fingerprint and what to do.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import os
import secrets
import shlex
import time
from collections import deque
from pathlib import Path, PurePosixPath
from typing import Any

import asyncssh

from ..config import HostConfig
from ..errors import BackendError
from .base import HelperBackend
from .client import HELPER_SOURCE_PATH, HelperClient

KEEPALIVE_INTERVAL = 15.0
KEEPALIVE_COUNT_MAX = 3
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
HELPER_CACHE_DIR = ".cache/tui-researcher"
"""Where the helper's source is kept on the host, relative to the login directory: ``helper-<hash>.py``."""


class _HostKeyWitness(asyncssh.SSHClient):
    """Keeps the host key asyncssh refused, so the error can show its fingerprint."""

    def __init__(self) -> None:
        self.refused: tuple[str, str, int, asyncssh.SSHKey] | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.refused = (host, addr, port, key)
        return False


class SSHBackend(HelperBackend):
    """One remote host: its connection, its helper, its backoff; every operation is inherited."""

    kind = "ssh"
    seeds_code = True

    def __init__(self, host: HostConfig, *, project_name: str, op_timeout: float = 30.0,
                 known_hosts: str | None = None) -> None:
        workspace = host.workspace or f"~/tui-researcher/{project_name}"
        super().__init__(host.name or host.host, workspace, op_timeout=op_timeout)
        self.host = host
        self.python = host.python or "python3"
        self.allowed_gpus = host.gpus
        self.known_hosts = os.path.expanduser(host.known_hosts or known_hosts or "~/.ssh/known_hosts")
        self.host_key_fingerprint = ""
        self._conn: asyncssh.SSHClientConnection | None = None
        self._process: asyncssh.SSHClientProcess | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._stderr: deque[str] = deque(maxlen=20)
        self._stderr_task: asyncio.Task | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._last_error = ""

    @property
    def label(self) -> str:
        """How messages name this host: ``host gpu-3 (10.0.0.7:2222)``."""
        where = self.host.host + (f":{self.host.port}" if self.host.port else "")
        return f"host {where}" if self.name == self.host.host else f"host {self.name} ({where})"

    # connecting -------------------------------------------------------------------

    async def _open(self) -> HelperClient:
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            raise BackendError(f"{self._last_error} (next try in {math.ceil(wait)}s)")
        try:
            client = await self._start_helper()
        except BackendError as exc:
            await self._drop_connection()
            self._failures += 1
            self._retry_at = time.monotonic() + min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._failures - 1))
            self._last_error = str(exc)
            raise
        self._failures = 0
        self._retry_at = 0.0
        return client

    async def _start_helper(self) -> HelperClient:
        conn = await self._connection()
        command = await self._helper_command()
        try:
            self._process = await asyncio.wait_for(conn.create_process(command, encoding=None), self.op_timeout)
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            raise BackendError(f"{self.label}: cannot start the host helper: {error_reason(exc)}") from None
        self._stderr.clear()
        self._stderr_task = asyncio.create_task(self._keep_stderr(self._process), name=f"helper-stderr-{self.name}")
        client = HelperClient(self._process.stdout, self._process.stdin, label=self.name,
                              writes_text=False)   # opened with encoding=None: bytes
        try:
            await client.start(timeout=self.op_timeout)
        except (BackendError, asyncio.TimeoutError) as exc:
            await client.close()
            raise BackendError(f"{self.label}: the host helper did not start with `{self.python}`: "
                               f"{await self._helper_stderr() or error_reason(exc)}") from None
        return client

    async def _connection(self) -> asyncssh.SSHClientConnection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        await self._drop_connection()
        witness = _HostKeyWitness()
        try:
            conn = await asyncio.wait_for(
                asyncssh.connect(self.host.host, client_factory=lambda: witness, **self._connect_options()),
                self.op_timeout)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise BackendError(self._host_key_message(witness.refused, exc)) from None
        except asyncssh.PermissionDenied:
            user = self.host.user or "the default user"
            keys = self.host.identity_file or "the ssh agent and default keys"
            raise BackendError(f"{self.label}: authentication failed as {user} with {keys}") from None
        except asyncio.TimeoutError:
            raise BackendError(f"{self.label}: cannot connect: no answer in {self.op_timeout:g}s") from None
        except (OSError, asyncssh.Error) as exc:
            raise BackendError(f"{self.label}: cannot connect: {error_reason(exc)}") from None
        self._conn = conn
        key = conn.get_server_host_key()
        self.host_key_fingerprint = key.get_fingerprint("sha256") if key else ""
        return conn

    def _connect_options(self) -> dict[str, Any]:
        """Only what the config says; everything else comes from ~/.ssh/config like ``ssh`` does."""
        options: dict[str, Any] = {"known_hosts": self.known_hosts_arg(), "keepalive_interval": KEEPALIVE_INTERVAL,
                                   "keepalive_count_max": KEEPALIVE_COUNT_MAX}
        if self.host.port:
            options["port"] = self.host.port
        if self.host.user:
            options["username"] = self.host.user
        if self.host.identity_file:
            options["client_keys"] = [os.path.expanduser(self.host.identity_file)]
        if self.host.jump_host:
            options["tunnel"] = self.host.jump_host
        return options

    def known_hosts_arg(self) -> str | asyncssh.SSHKnownHosts:
        """The file's path; a file not made yet trusts nothing (never ``None``: that trusts everything)."""
        return self.known_hosts if os.path.exists(self.known_hosts) else asyncssh.SSHKnownHosts()

    def _host_key_message(self, refused: tuple[str, str, int, asyncssh.SSHKey] | None,
                          exc: asyncssh.HostKeyNotVerifiable) -> str:
        known = tilde(self.known_hosts)
        if refused is None:
            return f"{self.label}: host key not accepted ({exc.reason}); known hosts: {known}"
        host, addr, port, key = refused
        fp = key.get_fingerprint("sha256")
        accept = f"`tui-researcher doctor --accept-new-host-key {self.name}`"
        if known_host_keys(self.known_hosts_arg(), host, addr, port):
            entry = shlex.quote(known_hosts_pattern(host, port))
            return (f"{self.label}: HOST KEY CHANGED: the server offers {fp}, not the key {known} holds for it "
                    f"(someone may be intercepting the connection); if the change is expected, remove the old entry "
                    f"with `ssh-keygen -R {entry} -f {known}`, then run {accept}")
        return f"{self.label}: host key {fp} is not in {known}; to trust it run {accept} or `{self._ssh_command()}`"

    def _ssh_command(self) -> str:
        """The user's own ``ssh`` that would ask to trust this host, writing to the same known_hosts."""
        parts = ["ssh"]
        if self.host.port:
            parts += ["-p", str(self.host.port)]
        if self.known_hosts != os.path.expanduser("~/.ssh/known_hosts"):
            parts += ["-o", shlex.quote(f"UserKnownHostsFile={self.known_hosts}")]
        if self.host.jump_host:
            parts += ["-J", shlex.quote(self.host.jump_host)]
        parts.append(f"{self.host.user}@{self.host.host}" if self.host.user else self.host.host)
        return " ".join(parts + ["true"])

    async def _helper_command(self) -> str:
        """``exec python3 -u <helper> --root <workspace>``; the helper expands ``~`` itself."""
        python = " ".join(shlex.quote(part) for part in shlex.split(self.python))
        root = shlex.quote(self.workspace)
        source = HELPER_SOURCE_PATH.read_bytes()
        try:
            path = await asyncio.wait_for(self._install_helper(source), self.op_timeout)
        except (OSError, asyncssh.Error, asyncio.TimeoutError):
            # no SFTP on this host: send the source inline, ~20 kB of arguments
            code = base64.b64encode(source).decode()
            bootstrap = f"import base64;exec(compile(base64.b64decode('{code}'),'helper.py','exec'))"
            return f"exec {python} -u -c {shlex.quote(bootstrap)} --root {root}"
        return f"exec {python} -u {shlex.quote(path)} --root {root}"

    async def _install_helper(self, source: bytes) -> str:
        """Put the helper's source on the host once per version, named by its hash."""
        path = f"{HELPER_CACHE_DIR}/helper-{hashlib.sha256(source).hexdigest()[:16]}.py"
        sftp = await self._sftp_client()
        try:
            if (await sftp.stat(path)).size == len(source):
                return path
        except asyncssh.SFTPNoSuchFile:
            pass
        await sftp.makedirs(HELPER_CACHE_DIR, exist_ok=True)
        tmp = f"{path}.{secrets.token_hex(4)}.tmp"
        async with sftp.open(tmp, "wb") as f:
            await f.write(source)
        await sftp.posix_rename(tmp, path)
        return path

    async def _sftp_client(self) -> asyncssh.SFTPClient:
        if self._sftp is None:
            conn = await self._connection()
            self._sftp = await asyncio.wait_for(conn.start_sftp_client(), self.op_timeout)
        return self._sftp

    async def _keep_stderr(self, process: asyncssh.SSHClientProcess) -> None:
        """Drain the helper's stderr (a full window would stall it) and keep the tail for errors."""
        try:
            async for line in process.stderr:
                self._stderr.append(line.decode("utf-8", "replace").rstrip())
        except (OSError, asyncssh.Error):
            pass

    async def _helper_stderr(self) -> str:
        if self._process is not None:
            try:
                await asyncio.wait_for(self._process.wait_closed(), 2)
            except (asyncio.TimeoutError, OSError, asyncssh.Error):
                pass
        if self._stderr_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass
        return " | ".join(line for line in self._stderr if line)[-500:]

    # closing ----------------------------------------------------------------------

    async def _close_transport(self) -> None:
        """End the helper's channel; the connection stays for the next helper."""
        task, self._stderr_task = self._stderr_task, None
        if task is not None:
            task.cancel()
        process, self._process = self._process, None
        if process is not None:
            process.close()
            try:
                await asyncio.wait_for(process.wait_closed(), 5)
            except (asyncio.TimeoutError, OSError, asyncssh.Error):
                pass

    async def _drop_connection(self) -> None:
        await self._close_transport()
        sftp, self._sftp = self._sftp, None
        if sftp is not None:
            sftp.exit()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), 5)
            except (asyncio.TimeoutError, OSError, asyncssh.Error):
                pass

    async def close(self) -> None:
        """Stop the helper and hang up; launched trials keep running on the host."""
        await super().close()
        await self._drop_connection()

    # bulk transfer ----------------------------------------------------------------

    async def put_file(self, local_path: str | Path, rel: str, *, timeout: float = 600.0) -> None:
        """Copy one local file to ``rel`` in the workspace over SFTP."""
        target = await self._remote_target(rel, [PurePosixPath(rel)])
        sftp = await self._sftp_client()
        parent = str(PurePosixPath(target).parent)
        await self._sftp_do(sftp.makedirs(parent, exist_ok=True), rel, timeout)
        await self._sftp_do(sftp.put(str(local_path), target, preserve=True), rel, timeout)

    async def put_tree(self, local_dir: str | Path, remote_rel: str = ".", *, timeout: float = 600.0) -> None:
        """Copy the contents of ``local_dir`` into ``remote_rel`` in the workspace over SFTP (code sync)."""
        local_dir = Path(local_dir)
        files = [PurePosixPath(remote_rel, p.relative_to(local_dir).as_posix())
                 for p in local_dir.rglob("*") if p.is_file()]
        target = await self._remote_target(remote_rel, files)
        sftp = await self._sftp_client()
        await self._sftp_do(sftp.makedirs(target, exist_ok=True), remote_rel, timeout)
        entries = [str(p) for p in sorted(local_dir.iterdir())]
        if entries:
            await self._sftp_do(sftp.put(entries, target, recurse=True, preserve=True), remote_rel, timeout)

    async def _remote_target(self, remote_rel: str, files: list[PurePosixPath]) -> str:
        """The absolute remote path for ``remote_rel``, refused like the helper refuses escapes."""
        await self._ensure()
        rel = PurePosixPath(remote_rel)
        if rel.is_absolute() or ".." in rel.parts:
            raise BackendError(f"{self.name}: path {remote_rel!r} is outside the workspace")
        protected = {os.path.normpath(p) for p in self.protected}
        hit = next((f for f in files if os.path.normpath(str(f)) in protected), None)
        if hit is not None:
            raise BackendError(f"{self.name}: {hit} is protected: the controller owns it")
        root = PurePosixPath(self.info["root"])
        sftp = await self._sftp_client()
        current = root
        for part in rel.parts:
            if part == ".":
                continue
            current = current / part
            try:
                attrs = await asyncio.wait_for(sftp.lstat(str(current)), self.op_timeout)
            except asyncssh.SFTPNoSuchFile:
                break
            except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
                raise BackendError(f"{self.name}: cannot check {remote_rel!r}: {error_reason(exc)}") from None
            if attrs.type == asyncssh.FILEXFER_TYPE_SYMLINK:
                raise BackendError(f"{self.name}: path {remote_rel!r} goes through a symlink; refused")
        return str(root / rel)

    async def _sftp_do(self, awaitable: Any, what: str, timeout: float) -> Any:
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            raise BackendError(f"{self.name}: copying to {what!r} failed: {error_reason(exc)}") from None


def known_hosts_pattern(host: str, port: int | None) -> str:
    """How known_hosts names a host: ``host`` on port 22, ``[host]:port`` elsewhere."""
    return host if not port or port == 22 else f"[{host}]:{port}"


def known_host_keys(known_hosts: Any, host: str, addr: str, port: int | None) -> list[asyncssh.SSHKey]:
    """The keys ``known_hosts`` trusts for this host (an unreadable file trusts none)."""
    try:
        return list(asyncssh.match_known_hosts(known_hosts, host, addr, port)[0])
    except (OSError, ValueError, asyncssh.Error):
        return []


def error_reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0:
        return os.strerror(exc.errno)   # "Connection refused", not "Connect call failed ('10.0.0.7', 22)"
    text = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


def tilde(path: str) -> str:
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if home != "/" and path.startswith(home + os.sep) else path
