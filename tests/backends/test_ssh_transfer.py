"""Bulk transfer over SFTP: code goes into the remote workspace, and nowhere else."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tui_researcher.backends.client import HELPER_SOURCE_PATH
from tui_researcher.backends.ssh import HELPER_CACHE_DIR, SSHBackend
from tui_researcher.errors import BackendError


@pytest.fixture
async def backend(sshd, tmp_path):
    made = SSHBackend(sshd.host_config(tmp_path / "ws"), project_name="transfer", op_timeout=10)
    await made.start()
    yield made
    await made.close()


@pytest.fixture
def code_dir(tmp_path):
    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "train.py").write_text("print('train')\n")
    (code / "pkg" / "model.py").write_text("LAYERS = 3\n")
    (code / "weights.bin").write_bytes(bytes(range(256)) * 64)
    return code


async def test_put_tree_copies_a_directory_into_the_workspace(backend, code_dir, tmp_path):
    await backend.put_tree(code_dir, "code")

    assert await backend.read_file("code/pkg/model.py") == "LAYERS = 3\n"
    assert (tmp_path / "ws" / "code" / "weights.bin").read_bytes() == (code_dir / "weights.bin").read_bytes()
    listed = {e["path"] for e in await backend.list_files("code", depth=3)}
    assert listed == {"code/train.py", "code/pkg/model.py", "code/weights.bin"}


async def test_put_file_replaces_an_existing_file(backend, code_dir):
    await backend.write_file("train.py", "old\n")

    await backend.put_file(code_dir / "train.py", "train.py")

    assert await backend.read_file("train.py") == "print('train')\n"


@pytest.mark.parametrize("target", ["../escaped", "/tmp/escaped", "link/escaped"])
async def test_put_tree_refuses_targets_outside_the_workspace(backend, code_dir, tmp_path, target):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "ws" / "link").symlink_to(outside)

    with pytest.raises(BackendError, match="outside the workspace|symlink"):
        await backend.put_tree(code_dir, target)

    assert list(outside.iterdir()) == []


async def test_put_tree_refuses_to_overwrite_a_protected_file(backend, tmp_path):
    await backend.configure(["state.json"])
    local = tmp_path / "local"
    local.mkdir()
    (local / "state.json").write_text("{}")

    with pytest.raises(BackendError, match="protected"):
        await backend.put_tree(local, ".")


async def test_the_helper_is_cached_on_the_host_once_per_version(backend, sshd, tmp_path):
    source = HELPER_SOURCE_PATH.read_bytes()
    cached = Path.home() / HELPER_CACHE_DIR / f"helper-{hashlib.sha256(source).hexdigest()[:16]}.py"
    assert cached.read_bytes() == source
    first = cached.stat()

    again = SSHBackend(sshd.host_config(tmp_path / "ws"), project_name="transfer", op_timeout=10)
    try:
        await again.start()
    finally:
        await again.close()

    assert (cached.stat().st_ino, cached.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns), "sent again"
