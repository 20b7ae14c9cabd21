"""The SSH backend when things go wrong: strange host keys, dropped connections, hosts that are down."""

from __future__ import annotations

import os
import signal
import sys

import pytest
import yaml

from tests.helpers import pid_alive as process_alive
from tests.polling import probe_until, wait_until
from tests.sshd_server import SSHServer, fingerprint, free_port, keygen
from tests.trials import GATED
from tui_researcher.backends import make_backends
from tui_researcher.backends.base import TrialRef
from tui_researcher.backends.ssh import SSHBackend
from tui_researcher.config import load_config
from tui_researcher.errors import BackendError

PY = sys.executable


def backend_for(server: SSHServer, workspace, **overrides) -> SSHBackend:
    return SSHBackend(server.host_config(workspace, **overrides), project_name="faults", op_timeout=10)


# host keys ------------------------------------------------------------------------------


@pytest.mark.parametrize("known_hosts", ["empty file", "no file"])
async def test_unknown_host_key_is_refused_with_its_fingerprint(sshd, tmp_path, known_hosts):
    path = tmp_path / "known_hosts"
    if known_hosts == "empty file":
        path.write_text("")
    backend = backend_for(sshd, tmp_path / "ws", known_hosts=str(path), name="gpu-1")

    with pytest.raises(BackendError) as refused:
        await backend.start()

    message = str(refused.value)
    assert sshd.host_key_fingerprint in message
    assert "tui-researcher doctor --accept-new-host-key gpu-1" in message
    assert message.startswith("host gpu-1 (127.0.0.1:") and "\n" not in message
    assert not (tmp_path / "ws").exists()  # nothing ran on a host we could not trust


async def test_changed_host_key_is_refused_with_its_fingerprint_and_how_to_remove_the_old_one(sshd, tmp_path):
    impostor = keygen(tmp_path / "other_host_key").with_suffix(".pub").read_text().split()
    path = tmp_path / "known_hosts"
    path.write_text(f"[{sshd.host}]:{sshd.port} {impostor[0]} {impostor[1]}\n")
    backend = backend_for(sshd, tmp_path / "ws", known_hosts=str(path))

    with pytest.raises(BackendError) as refused:
        await backend.start()

    message = str(refused.value)
    assert "HOST KEY CHANGED" in message and sshd.host_key_fingerprint in message
    assert f"ssh-keygen -R '[{sshd.host}]:{sshd.port}' -f {path}" in message
    assert path.read_text().split()[2] == impostor[1]  # never replaced behind the user's back


async def test_trusted_host_key_fingerprint_is_recorded(sshd, tmp_path):
    backend = backend_for(sshd, tmp_path / "ws")
    await backend.start()
    try:
        assert backend.host_key_fingerprint == fingerprint(sshd.host_key.with_suffix(".pub"))
    finally:
        await backend.close()


# dropped connections --------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["connection dropped", "sshd restarted", "helper killed"])
async def test_probe_after_lost_connection_reconnects_and_collects_the_result_without_relaunch(
        sshd_private, tmp_path, fault):
    backend = backend_for(sshd_private, tmp_path / "ws")
    await backend.start()
    await backend.write_file("gated.py", GATED)
    info = await backend.launch([PY, "gated.py", "0"], run_dir="runs/t1")
    ref = TrialRef(id="t1", run_dir="runs/t1", pid=info.pid, start_time=info.start_time)
    await probe_until(backend, ref, lambda t: "started" in t.data)
    first_helper = backend.info["pid"]

    if fault == "connection dropped":
        assert sshd_private.drop_connections() >= 1
    elif fault == "sshd restarted":
        sshd_private.restart()
    else:
        os.kill(first_helper, signal.SIGKILL)
    await wait_until(lambda: not process_alive(first_helper), 10, "the old helper to go")

    resumed = await probe_until(backend, ref, lambda t: True)   # reconnects on demand
    assert backend.info["pid"] != first_helper
    assert resumed.alive and resumed.pid == info.pid
    await backend.write_file("go", "")
    ended = await probe_until(backend, ref, lambda t: t.finished)
    assert ended.exit_code == 0
    log = await backend.read_file("runs/t1/train.log")
    assert log.count("started") == 1 and "finished" in log
    await backend.close()


# unreachable hosts ----------------------------------------------------------------------


async def test_unreachable_host_fails_fast_and_probe_reports_it_unreachable(tmp_path, sshd):
    port = free_port()  # nothing listens there
    backend = backend_for(sshd, tmp_path / "ws", port=port, name="gpu-down")

    with pytest.raises(BackendError, match=rf"^host gpu-down \(127.0.0.1:{port}\): cannot connect: Connection refused"):
        await backend.start()
    probe = await backend.probe([TrialRef(id="t", run_dir="runs/t", pid=1, start_time="1")])
    with pytest.raises(BackendError, match="next try in"):      # fast: the backoff answers, no new connect
        await backend.launch([PY, "-c", "pass"], run_dir="runs/t")

    assert not probe.reachable and "gpu-down" in probe.error and probe.trials == {}
    await backend.close()


async def test_host_that_comes_back_is_reconnected_after_the_backoff(tmp_path, sshd_factory):
    server = sshd_factory("late-sshd", start=False)
    backend = backend_for(server, tmp_path / "ws")
    with pytest.raises(BackendError, match="Connection refused"):
        await backend.start()

    server.start()

    try:
        await wait_until(lambda: _reachable(backend), 8, "the host to be reachable again")
        assert await backend.ping() < 1.0
    finally:
        await backend.close()


async def _reachable(backend: SSHBackend) -> bool:
    return (await backend.probe([], gpu=False)).reachable


# configuration --------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["list", "string"])
async def test_reference_single_host_keys_load_and_connect(sshd, tmp_path, form):
    args = ["-p", str(sshd.port), "-i", str(sshd.client.key), "-o", f"UserKnownHostsFile={sshd.known_hosts}"]
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.yaml").write_text(yaml.safe_dump({"execution": {
        "mode": "ssh", "ssh_host": f"{sshd.user}@{sshd.host}", "remote_workspace": str(tmp_path / "remote-ws"),
        "remote_python": PY, "ssh_args": args if form == "list" else " ".join(args)}}))

    [backend] = make_backends(load_config(project / "config.yaml"), project)
    try:
        info = await backend.start()
        assert isinstance(backend, SSHBackend) and backend.name == sshd.host
        assert info["root"] == str(tmp_path / "remote-ws")
        assert await backend.ping() < 1.0
    finally:
        await backend.close()


async def test_default_workspace_is_under_the_remote_home_named_for_the_project(sshd, tmp_path):
    backend = SSHBackend(sshd.host_config(""), project_name="conformance-default-ws", op_timeout=10)
    expected = os.path.join(os.path.expanduser("~"), "tui-researcher", "conformance-default-ws")
    try:
        info = await backend.start()
    finally:
        await backend.close()
        if os.path.isdir(expected):
            os.rmdir(expected)
            if not os.listdir(os.path.dirname(expected)):
                os.rmdir(os.path.dirname(expected))

    assert info["root"] == expected


async def test_helper_is_sent_inline_when_the_host_has_no_sftp(tmp_path, sshd_factory):
    server = sshd_factory("no-sftp", sftp=False)
    backend = backend_for(server, tmp_path / "ws")
    try:
        info = await backend.start()
        assert info["root"] == str(tmp_path / "ws")
        assert await backend.ping() < 1.0
    finally:
        await backend.close()


async def test_missing_python_on_the_host_is_named_in_the_error(sshd, tmp_path):
    backend = backend_for(sshd, tmp_path / "ws", python="python-does-not-exist")

    with pytest.raises(BackendError, match=r"did not start with `python-does-not-exist`: .*not found"):
        await backend.start()
    await backend.close()
