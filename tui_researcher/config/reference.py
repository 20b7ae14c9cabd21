"""The reference system's single-host keys (``ssh_host``, ``remote_*``, ``ssh_args``) as one host entry."""

from __future__ import annotations

import shlex
from typing import Any

from .messages import config_error


def reference_host(ssh_host: str | None, workspace: str | None, python: str | None,
                   ssh_args: list[str] | str | None) -> dict[str, Any]:
    """HostConfig fields from the reference keys; the ssh options we understand become fields."""
    host: dict[str, Any] = {"host": ssh_host or "localhost", "workspace": workspace or "",
                            "python": python or "python3"}
    if "@" in host["host"]:
        host["user"], host["host"] = host["host"].split("@", 1)
    try:
        args = shlex.split(ssh_args) if isinstance(ssh_args, str) else list(ssh_args or [])
    except ValueError as exc:
        raise config_error(f"cannot be split into arguments: {exc}", "ssh_args") from exc
    it = iter(args)
    for arg in it:
        try:
            _apply_ssh_arg(host, arg, it)
        except (StopIteration, ValueError) as exc:
            raise config_error(f"cannot read ssh option {arg!r}", "ssh_args") from exc
    return host


_FLAGS = {"-p": "port", "-i": "identity_file", "-l": "user", "-J": "jump_host"}
_OPTIONS = {"port": "port", "identityfile": "identity_file", "userknownhostsfile": "known_hosts",
            "user": "user", "proxyjump": "jump_host"}


def _apply_ssh_arg(host: dict[str, Any], arg: str, rest: Any) -> None:
    if arg in _FLAGS:
        _set(host, _FLAGS[arg], next(rest))
    elif arg == "-o":
        _apply_ssh_option(host, next(rest))
    elif arg.startswith("-o"):
        _apply_ssh_option(host, arg[2:])
    elif arg.startswith("-p") and arg[2:].isdigit():
        _set(host, "port", arg[2:])


def _apply_ssh_option(host: dict[str, Any], option: str) -> None:
    key, _, value = option.replace(" ", "=", 1).partition("=")
    field = _OPTIONS.get(key.strip().lower())
    if field:
        _set(host, field, value)


def _set(host: dict[str, Any], field: str, value: str) -> None:
    host[field] = int(value) if field == "port" else value


def name_hosts(hosts: list[Any]) -> None:
    """Every host gets a unique name: its address, or address:port where two share an address."""
    addresses = [h.host for h in hosts if not h.name]
    for host in hosts:
        if not host.name:
            host.name = host.host if addresses.count(host.host) == 1 else f"{host.host}:{host.port or 22}"
    names = [h.name for h in hosts]
    for i, name in enumerate(names):
        if names.index(name) != i:
            raise config_error(f"host name {name!r} is used twice", "hosts", i, "name")
