"""Slurm through a login node: sbatch, squeue and scancel run over one SSH connection to a real sshd
whose sessions find the cluster through ``SetEnv SLURM_CONF``, as on a lab's login node."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.helpers import latest_trials
from tests.slurm.projects import (
    assert_six_trials_ran_three_at_a_time_each_on_its_own_gpu,
    run_until_done,
    slurm_project,
)
from tests.slurm_cluster import SlurmCluster
from tests.sshd_server import ClientKeys, SSHServer, path_without_nvidia_smi, sshd_available
from tui_researcher.backends.slurm import SlurmBackend, slurm_backend
from tui_researcher.config import load_config
from tui_researcher.controller import Controller


class LoginNode(SSHServer):
    """An sshd whose sessions see the private cluster, the way a login node's profile sets it up."""

    def __init__(self, directory: Path, client: ClientKeys, *, slurm_conf: Path) -> None:
        self.slurm_conf = slurm_conf
        super().__init__(directory, client, path=path_without_nvidia_smi("/usr/local/bin:/usr/bin:/bin"))

    def _config_text(self) -> str:
        # sshd keeps the first SetEnv it reads: both variables go on the one line
        return super()._config_text().replace(f"SetEnv PATH={self.path}",
                                              f"SetEnv PATH={self.path} SLURM_CONF={self.slurm_conf}")


@pytest.fixture
def login_node(cluster: SlurmCluster, tmp_path: Path):
    why = sshd_available()
    if why:
        if os.environ.get("REQUIRE_SSHD") == "1":
            pytest.fail(f"REQUIRE_SSHD=1 but {why}")
        pytest.skip(why)
    server = LoginNode(tmp_path / "sshd", ClientKeys.create(tmp_path / "keys"), slurm_conf=cluster.conf)
    server.start()
    yield server
    server.stop()


def via_login_node(project: Path, server: SSHServer, remote: Path) -> None:
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    host = server.host_config(remote)
    cfg["execution"]["hosts"] = [{
        "name": "login", "host": host.host, "port": host.port, "user": host.user, "workspace": str(remote),
        "python": host.python, "identity_file": host.identity_file, "known_hosts": host.known_hosts}]
    cfg["execution"]["slurm"]["host"] = "login"
    (project / "config.yaml").write_text(yaml.safe_dump(cfg))


async def test_loop_through_a_login_node_runs_six_trials_three_at_a_time_each_on_its_own_gpu(
        login_node: SSHServer, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("SLURM_CONF")                  # only the login node's sessions know the cluster
    project = slurm_project(tmp_path, scores=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], mode="sleep", seconds=3,
                            max_parallel=3)
    remote = tmp_path / "login-workspace"
    via_login_node(project, login_node, remote)
    config = load_config(project / "config.yaml")
    backend = slurm_backend(config, project)
    assert isinstance(backend, SlurmBackend) and backend.inner.kind == "ssh" and backend.name == "slurm@login"
    controller = Controller(project, config, backends=[backend], max_cycles=6)

    await run_until_done(controller)

    assert_six_trials_ran_three_at_a_time_each_on_its_own_gpu(project, remote)
    assert (remote / "job.py").exists() and not (project / "workspace" / "runs").exists()
    assert all(t["host"] == "slurm@login" for t in latest_trials(project).values())
