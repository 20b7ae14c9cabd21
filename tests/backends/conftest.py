"""Backends under test: the local helper, and the SSH backend against a real OpenSSH sshd.

The servers listen on 127.0.0.1 with their own host key, config and known_hosts file; the
"GPU host" has a fake ``nvidia-smi`` first on its PATH, the plain one has none. Without sshd
the SSH tests are skipped, unless ``REQUIRE_SSHD=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Callable

import pytest

from tests.sshd_server import ClientKeys, SSHServer, path_without_nvidia_smi, sshd_available, write_fake_nvidia_smi
from tui_researcher.backends.base import HelperBackend
from tui_researcher.backends.local import LocalBackend
from tui_researcher.backends.ssh import SSHBackend

SSHD_PATH = "/usr/local/bin:/usr/bin:/bin"


def _no_sshd(why: str) -> None:
    if os.environ.get("REQUIRE_SSHD") == "1":
        pytest.fail(f"REQUIRE_SSHD=1 but {why}")
    pytest.skip(why)


def make_server(directory: Path, keys: ClientKeys, *, start: bool = True, **options) -> SSHServer:
    """An sshd (started unless told), or a skip (a failure under REQUIRE_SSHD=1) naming why it cannot run."""
    why = sshd_available()
    if why:
        _no_sshd(why)
    server = SSHServer(directory, keys, **options)
    if start:
        try:
            server.start()
        except (OSError, RuntimeError) as exc:
            _no_sshd(f"sshd would not start: {exc}")
    return server


@pytest.fixture(autouse=True)
def no_stray_trials(tmp_path):
    """A failed test must not leave its trials running: end every process working under tmp_path."""
    yield
    root = str(tmp_path)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory) -> ClientKeys:
    if sshd_available():
        _no_sshd(sshd_available())
    return ClientKeys.create(tmp_path_factory.mktemp("client-keys"))


@pytest.fixture(scope="session")
def fake_gpu_bin(tmp_path_factory) -> Path:
    """A directory holding only a fake ``nvidia-smi`` (four GPUs, one MIG, [N/A] fields)."""
    directory = tmp_path_factory.mktemp("fake-gpu-bin")
    write_fake_nvidia_smi(directory)
    return directory


@pytest.fixture(scope="session")
def sshd(tmp_path_factory, ssh_keys, fake_gpu_bin) -> SSHServer:
    """The shared GPU host: a fake nvidia-smi is first on its PATH."""
    server = make_server(tmp_path_factory.mktemp("sshd-gpu"), ssh_keys,
                          path=f"{fake_gpu_bin}:{path_without_nvidia_smi(SSHD_PATH)}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sshd_no_gpu(tmp_path_factory, ssh_keys) -> SSHServer:
    """The shared host without nvidia-smi anywhere on its PATH."""
    server = make_server(tmp_path_factory.mktemp("sshd-plain"), ssh_keys, path=path_without_nvidia_smi(SSHD_PATH))
    yield server
    server.stop()


@pytest.fixture
def sshd_factory(tmp_path, ssh_keys) -> Callable[..., SSHServer]:
    """Hosts of this test's own, to stop, restart or cut off; ``start=False`` for one that is down at first."""
    made: list[SSHServer] = []

    def make(name: str = "sshd", *, start: bool = True, **options) -> SSHServer:
        server = make_server(tmp_path / name, ssh_keys, start=start, **options)
        made.append(server)
        return server

    yield make
    for server in made:
        server.stop()


@pytest.fixture
def sshd_private(sshd_factory, fake_gpu_bin) -> SSHServer:
    """A GPU host of this test's own, to stop, restart or cut off without disturbing the others."""
    return sshd_factory(path=f"{fake_gpu_bin}:{path_without_nvidia_smi(SSHD_PATH)}")


class Backends:
    """Opens started backends of one kind over one workspace, and closes them all at the end."""

    def __init__(self, kind: str, workspace: Path, request: pytest.FixtureRequest,
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.kind = kind
        self.workspace = workspace
        self.workspace.mkdir(parents=True, exist_ok=True)
        self._request = request
        self._monkeypatch = monkeypatch
        self._opened: list[HelperBackend] = []

    async def open(self, *, gpu: bool = False) -> HelperBackend:
        """A started backend; ``gpu``: its host has the fake nvidia-smi, else none at all."""
        if self.kind == "local":
            bin_dir = self._request.getfixturevalue("fake_gpu_bin")
            plain = path_without_nvidia_smi()
            self._monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{plain}" if gpu else plain)
            backend: HelperBackend = LocalBackend(self.workspace, op_timeout=15)
        else:
            server: SSHServer = self._request.getfixturevalue("sshd" if gpu else "sshd_no_gpu")
            backend = SSHBackend(server.host_config(self.workspace), project_name="conformance", op_timeout=15)
        self._opened.append(backend)
        await backend.start()
        return backend

    async def close_all(self) -> None:
        for backend in self._opened:
            await backend.close()


@pytest.fixture(params=["local", "ssh"])
async def backends(request, tmp_path, monkeypatch) -> Backends:
    made = Backends(request.param, tmp_path / "workspace", request, monkeypatch)
    yield made
    await made.close_all()
