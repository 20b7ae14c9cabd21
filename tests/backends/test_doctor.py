"""`tui-researcher doctor`: what each host offers, and the one sanctioned way to trust a new host key."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from tests.sshd_server import SSHServer, keygen
from tui_researcher.backends.ssh import SSHBackend
from tui_researcher.config import load_config
from tui_researcher.doctor import doctor_hosts


def ssh_project(tmp_path: Path, server: SSHServer, *, known_hosts: Path, name: str = "gpu-a") -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    host = {"name": name, "host": server.host, "port": server.port, "user": server.user,
            "workspace": str(tmp_path / "remote-ws"), "python": sys.executable,
            "identity_file": str(server.client.key), "known_hosts": str(known_hosts)}
    (project / "config.yaml").write_text(yaml.safe_dump({"project": {"name": "doc"},
                                                         "execution": {"mode": "ssh", "hosts": [host]}}))
    return project


async def run_doctor(project: Path, accept: str | None = None) -> tuple[int, str]:
    lines: list[str] = []
    code = await doctor_hosts(load_config(project / "config.yaml"), project, accept_new_host_key=accept,
                              out=lines.append)
    return code, "\n".join(lines)


async def test_doctor_reports_host_key_python_workspace_gpus_and_round_trip(sshd, tmp_path):
    project = ssh_project(tmp_path, sshd, known_hosts=sshd.known_hosts)

    code, report = await run_doctor(project)

    assert code == 0, report
    assert f"trusted {sshd.host_key_fingerprint}" in report
    assert f"python       {sys.version.split()[0]}" in report
    assert f"{tmp_path / 'remote-ws'} writable" in report
    assert "gpu 0        NVIDIA A100-SXM4-80GB  util 97%  mem 61234/81920 MiB  67 C  312.45 W" in report
    assert "gpu 3        NVIDIA H100 80GB HBM3 MIG 3g.40gb  util N/A" in report
    assert "round trip" in report and "median of 20 pings" in report
    remote = tmp_path / "remote-ws"       # the effective sandbox on that host, kind by kind
    assert "sandbox      namespaces" in report
    assert f"run_shell  writes {remote} and a private /tmp; network no; limits: memory_mb 8192" in report
    assert f"training   writes {remote}, ~/.cache/huggingface, ~/.cache/torch, /dev/shm, {remote}/runs/<trial>" \
        in report and "evaluator  writes nothing" in report


async def test_doctor_says_no_gpu_for_a_host_without_nvidia_smi(sshd_no_gpu, tmp_path):
    project = ssh_project(tmp_path, sshd_no_gpu, known_hosts=sshd_no_gpu.known_hosts)

    code, report = await run_doctor(project)

    assert code == 0, report
    assert "gpus         none: no GPU (nvidia-smi not found)" in report


async def test_doctor_without_accepting_reports_an_unknown_key_and_fails(sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    project = ssh_project(tmp_path, sshd, known_hosts=known_hosts)

    code, report = await run_doctor(project)

    assert code == 1
    assert sshd.host_key_fingerprint in report and "--accept-new-host-key gpu-a" in report
    assert not known_hosts.exists()


async def test_accept_new_host_key_adds_it_and_the_host_then_connects(sshd, tmp_path):
    known_hosts = tmp_path / "ssh" / "known_hosts"
    project = ssh_project(tmp_path, sshd, known_hosts=known_hosts)

    code, report = await run_doctor(project, accept="gpu-a")

    assert code == 0, report
    assert f"added host key {sshd.host_key_fingerprint}" in report
    assert known_hosts.read_text().split()[:2] == [f"[{sshd.host}]:{sshd.port}", "ssh-ed25519"]
    backend = SSHBackend(load_config(project / "config.yaml").execution.hosts[0], project_name="doc")
    await backend.start()
    assert backend.host_key_fingerprint == sshd.host_key_fingerprint
    await backend.close()


async def test_accept_new_host_key_never_replaces_a_changed_key(sshd, tmp_path):
    impostor = keygen(tmp_path / "old_host_key").with_suffix(".pub").read_text().split()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[{sshd.host}]:{sshd.port} {impostor[0]} {impostor[1]}\n")
    before = known_hosts.read_text()
    project = ssh_project(tmp_path, sshd, known_hosts=known_hosts)

    code, report = await run_doctor(project, accept="gpu-a")

    assert code == 1
    assert "HOST KEY CHANGED" in report and sshd.host_key_fingerprint in report
    assert f"ssh-keygen -R '[{sshd.host}]:{sshd.port}' -f {known_hosts}" in report
    assert known_hosts.read_text() == before


async def test_accept_new_host_key_for_a_host_not_in_the_config_is_a_bad_request(sshd, tmp_path):
    project = ssh_project(tmp_path, sshd, known_hosts=sshd.known_hosts)

    code, report = await run_doctor(project, accept="gpu-z")

    assert code == 2
    assert "no ssh host named 'gpu-z'" in report and "gpu-a" in report


async def test_doctor_in_local_mode_reports_the_local_helper(tmp_path):
    project = tmp_path / "local-project"
    project.mkdir()
    (project / "config.yaml").write_text(yaml.safe_dump({"execution": {"mode": "local"}}))

    code, report = await run_doctor(project)

    assert code == 0, report
    assert report.startswith("local (local)")
    assert f"{project / 'workspace'} writable" in report and "round trip" in report
