"""`tui-researcher doctor`: can each host run trials? Host key, Python, workspace, GPUs, round trip.

It is also the one place that adds a host key to known_hosts, and only when asked by name
(``--accept-new-host-key HOST``) and only for a host with no key on file: a changed key is
never replaced here; the user removes the old entry themselves.
"""

from __future__ import annotations

import asyncio
import os
import statistics
from pathlib import Path
from typing import Callable

import asyncssh

from .backends import make_backends
from .backends.base import Backend
from .backends.gpu import GpuReading
from .backends.ssh import SSHBackend, error_reason, known_host_keys, known_hosts_pattern, tilde
from .config import Config
from .errors import BackendError
from .paths import ProjectPaths
from .sandbox import Kind, evaluator_files, isolation, sandbox_for

PINGS = 20


async def doctor_hosts(config: Config, project_dir: Path, *, accept_new_host_key: str | None,
                       out: Callable[[str], None]) -> int:
    """Check every host of the project; 0 when all can run trials, 1 when one cannot, 2 for a bad request."""
    backends = make_backends(config, project_dir)
    if accept_new_host_key is not None:
        ssh_hosts = [b for b in backends if isinstance(b, SSHBackend)]
        target = next((b for b in ssh_hosts if accept_new_host_key in (b.name, b.host.host)), None)
        if target is None:
            names = ", ".join(b.name for b in ssh_hosts) or "none"
            where = config.path or "the config"
            out(f"doctor: no ssh host named {accept_new_host_key!r} in {where} (ssh hosts: {names})")
            return 2
        if not await accept_host_key(target, out):
            return 1
    paths = ProjectPaths.of(project_dir, config)
    reports = await asyncio.gather(*(check_backend(b, config, paths) for b in backends))
    for _, lines in reports:
        for line in lines:
            out(line)
    from .agents import check_provider
    agent = check_provider(config)
    for line in agent:
        out(line)
    agent_ok = not any(line.startswith("agent: problem:") for line in agent)
    return 0 if all(ok for ok, _ in reports) and agent_ok else 1


async def check_backend(backend: Backend, config: Config | None = None,
                        paths: ProjectPaths | None = None) -> tuple[bool, list[str]]:
    """Connect, and say what a trial on this host would find; (usable, report lines)."""
    lines = [f"{backend.name} ({backend.kind})"]
    try:
        info = await backend.start()
        if isinstance(backend, SSHBackend):
            lines.append(_row("host key", f"trusted {backend.host_key_fingerprint} ({tilde(backend.known_hosts)})"))
        lines.append(_row("python", info.get("python", "?")))
        writable = bool(info.get("writable"))
        lines.append(_row("workspace", f"{backend.root} "
                                       f"{'writable' if writable else 'NOT WRITABLE'}"))
        readings, gpu_error = await backend.gpus()
        lines.extend(_gpu_rows(readings, gpu_error, backend.allowed_gpus))
        if config is not None and paths is not None:
            lines.extend(await sandbox_rows(backend, config, paths))
        rtts = [await backend.ping() for _ in range(PINGS)]
        lines.append(_row("round trip", f"{statistics.median(rtts) * 1000:.2f} ms (median of {PINGS} pings)"))
        return writable, lines
    except BackendError as exc:
        lines.append(_row("error", str(exc)))
        return False, lines
    finally:
        await backend.close()


async def sandbox_rows(backend: Backend, config: Config, paths: ProjectPaths) -> list[str]:
    """The effective sandbox of each kind of command on this host, or what is unprotected there."""
    found = await isolation(backend)
    if not found.available:
        return [_row("sandbox", f"UNAVAILABLE: {found.reason}"), _row("", found.warning(backend.name))]
    rows = [_row("sandbox", "namespaces (mount, PID, user where not root); host read-only, private /tmp, "
                            "fresh /proc, controller files sealed")]
    guarded = evaluator_files(config) + list(config.metric.protected)
    rows.append(_row("  read-only", ", ".join(["the controller's files", "runs/ (but a training's own)", *guarded])))
    for kind in Kind:
        box = sandbox_for(kind, config, paths, root=backend.root, run_dir="runs/<trial>")
        rows.append(_row(f"  {kind}", box.describe()))
    return rows


def _gpu_rows(readings: list[GpuReading] | None, error: str, allowed: list[int] | None) -> list[str]:
    if readings is None:
        return [_row("gpus", f"none: {error}" if error else "none")]
    if not readings:
        return [_row("gpus", "nvidia-smi lists no GPU")]
    rows = []
    for g in readings:
        use = "" if allowed is None or g.index in allowed else "  (not for this project)"
        rows.append(_row(f"gpu {g.index}", f"{g.name}  util {_num(g.utilization, '%')}  "
                                           f"mem {_num(g.memory_used_mb)}/{_num(g.memory_total_mb, ' MiB')}  "
                                           f"{_num(g.temperature_c, ' C')}  {_num(g.power_w, ' W')}{use}"))
    return rows


async def accept_host_key(backend: SSHBackend, out: Callable[[str], None]) -> bool:
    """Fetch the host's key and add it to known_hosts if the host has none there yet."""
    host = backend.host
    try:
        options = await asyncssh.SSHClientConnectionOptions.construct(
            host=host.host, port=host.port or (), tunnel=host.jump_host or ())
        key = await asyncio.wait_for(asyncssh.get_server_host_key(
            host.host, host.port or (), tunnel=host.jump_host or ()), backend.op_timeout)
    except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
        out(f"{backend.label}: cannot fetch the host key: {error_reason(exc)}")
        return False
    if key is None:
        out(f"{backend.label}: the server sent no host key")
        return False
    name, port = options.host_key_alias or options.host, options.port
    fp = key.get_fingerprint("sha256")
    known = tilde(backend.known_hosts)
    trusted = known_host_keys(backend.known_hosts_arg(), name, "", port)
    if key in trusted:
        out(f"{backend.label}: host key {fp} is already trusted in {known}")
        return True
    if trusted:
        entry = known_hosts_pattern(name, port)
        out(f"{backend.label}: HOST KEY CHANGED: the server offers {fp}, not the key {known} holds; "
            f"not replacing it. If the change is expected, remove the old entry with "
            f"`ssh-keygen -R '{entry}' -f {known}` and run this again")
        return False
    _append_known_host(Path(backend.known_hosts), known_hosts_pattern(name, port), key)
    out(f"{backend.label}: added host key {fp} to {known}; if in doubt, compare it with "
        f"`ssh-keygen -lf /etc/ssh/ssh_host_{_algorithm_file(key)}_key.pub` run on the host")
    return True


def _append_known_host(path: Path, pattern: str, key: asyncssh.SSHKey) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    algorithm, blob = key.export_public_key("openssh").decode().split()[:2]
    existing = path.read_bytes() if path.exists() else b""
    with open(path, "a", encoding="utf-8") as f:
        if existing and not existing.endswith(b"\n"):
            f.write("\n")
        f.write(f"{pattern} {algorithm} {blob}\n")
        f.flush()
        os.fsync(f.fileno())


def _algorithm_file(key: asyncssh.SSHKey) -> str:
    algorithm = key.get_algorithm()
    return {"ssh-ed25519": "ed25519", "ssh-rsa": "rsa"}.get(algorithm, "ecdsa" if "ecdsa" in algorithm else "*")


def _row(label: str, value: str) -> str:
    return f"  {label:<12} {value}"


def _num(value: float | None, unit: str = "") -> str:
    return "N/A" if value is None else f"{value:g}{unit}"
