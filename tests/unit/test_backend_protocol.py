"""Every backend implements the whole ``Backend`` protocol, so no caller has to probe one with getattr."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from tui_researcher.backends.base import Backend
from tui_researcher.backends.local import LocalBackend
from tui_researcher.backends.slurm import SlurmBackend
from tui_researcher.backends.ssh import SSHBackend
from tui_researcher.config import HostConfig, SlurmConfig

CLASSES = [LocalBackend, SSHBackend, SlurmBackend]
METHODS = sorted(name for name in Backend.__abstractmethods__ if name != "root")
ATTRIBUTES = {"name": str, "kind": str, "schedules_gpus": bool, "seeds_code": bool, "python": str, "root": str}


def made(tmp_path: Path) -> dict[str, Backend]:
    """One of each, built the way ``make_backends`` builds them (nothing is started)."""
    host = HostConfig(host="gpu-box", python="/opt/py/bin/python3", gpus=[0, 2], workspace="/data/ws")
    local = LocalBackend(tmp_path / "ws")
    ssh = SSHBackend(host, project_name="p")
    return {"local": local, "ssh": ssh, "slurm": SlurmBackend(SlurmConfig(), inner=local, python=local.python),
            "slurm@ssh": SlurmBackend(SlurmConfig(host="gpu-box"), inner=ssh, python=ssh.python)}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_no_abstract_method_is_left(cls):
    assert not cls.__abstractmethods__, f"{cls.__name__} leaves {sorted(cls.__abstractmethods__)}"
    assert "__getattr__" not in vars(cls), "a capability is declared and implemented, never forwarded"


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("method", METHODS)
def test_each_method_takes_what_the_protocol_declares(cls, method):
    """Same parameter names, kinds and defaults; an implementation may only add optional keywords."""
    declared = inspect.signature(getattr(Backend, method)).parameters
    actual = inspect.signature(getattr(cls, method)).parameters
    assert inspect.iscoroutinefunction(getattr(cls, method))
    for name, param in declared.items():
        assert name in actual, f"{cls.__name__}.{method} has no parameter {name!r}"
        assert (actual[name].kind, actual[name].default) == (param.kind, param.default), (cls.__name__, method, name)
    extra = [p for n, p in actual.items() if n not in declared]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in extra), (cls.__name__, method, extra)


def test_every_backend_has_the_declared_attributes(tmp_path: Path):
    for label, backend in made(tmp_path).items():
        for attr, kind in ATTRIBUTES.items():
            assert isinstance(getattr(backend, attr), kind), (label, attr)
        assert backend.allowed_gpus is None or all(isinstance(i, int) for i in backend.allowed_gpus), label


def test_attribute_values_say_what_each_backend_is(tmp_path: Path):
    b = made(tmp_path)
    assert [b[k].schedules_gpus for k in b] == [False, False, True, True]        # only Slurm places GPUs
    assert [b[k].seeds_code for k in b] == [False, True, False, True]            # remote workspaces get code
    assert [b[k].kind for k in b] == ["local", "ssh", "slurm", "slurm"]
    assert b["local"].root == str(tmp_path / "ws") == b["slurm"].root           # before start: the configured one
    assert b["ssh"].root == "/data/ws" == b["slurm@ssh"].root
    assert b["ssh"].python == "/opt/py/bin/python3" and b["ssh"].allowed_gpus == [0, 2]
    assert b["local"].allowed_gpus is None and b["slurm"].allowed_gpus is None


def test_root_is_the_helpers_answer_once_started(tmp_path: Path):
    b = made(tmp_path)
    b["ssh"].info = {"root": "/home/me/data/ws"}                                 # as the helper's hello says it
    assert b["ssh"].root == "/home/me/data/ws" == b["slurm@ssh"].root
