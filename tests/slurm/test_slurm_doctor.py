"""`doctor` in slurm mode: what sinfo offers, and whether a job really goes through the queue."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.helpers import cli
from tests.slurm_cluster import SlurmCluster
from tui_researcher.backends.slurm_doctor import slurm_doctor
from tui_researcher.config import load_config


def slurm_config(tmp_path: Path, **slurm):
    project = tmp_path / "proj"
    (project / "workspace").mkdir(parents=True)
    (project / "config.yaml").write_text(yaml.safe_dump({"execution": {"mode": "slurm", "slurm": slurm}}))
    return project, load_config(project / "config.yaml")


async def test_doctor_lists_partitions_with_their_gpus_and_runs_a_test_job_when_asked(
        cluster: SlurmCluster, tmp_path: Path):
    project, config = slurm_config(tmp_path, partition="debug", time_limit="5")
    lines: list[str] = []

    code = await slurm_doctor(config, lines.append, submit_test=True, project_dir=project)

    text = "\n".join(lines)
    assert code == 0, text
    assert "slurm-wlm 22.05" in text
    assert f"GRES gpu:{cluster.gpus}" in text and "<- trials go here" in text
    assert "test job" in text and " ran in " in text and "GPUs=" in text


async def test_doctor_without_submit_test_sends_nothing_to_the_queue(cluster: SlurmCluster, tmp_path: Path):
    project, config = slurm_config(tmp_path)
    lines: list[str] = []
    remembered = cluster.cmd("squeue", "-t", "all", "-h", "-o", "%i").stdout.split()

    code = await slurm_doctor(config, lines.append, submit_test=False, project_dir=project)

    assert code == 0 and "not submitted (add --submit-test" in "\n".join(lines)
    assert cluster.cmd("squeue", "-t", "all", "-h", "-o", "%i").stdout.split() == remembered


async def test_doctor_says_when_trials_ask_for_more_gpus_than_any_node_has(cluster: SlurmCluster, tmp_path: Path):
    project, config = slurm_config(tmp_path, gpus_per_trial=cluster.gpus + 1)
    lines: list[str] = []

    code = await slurm_doctor(config, lines.append, submit_test=True, project_dir=project)

    text = "\n".join(lines)
    assert code == 1
    assert f"--gres=gpu:{cluster.gpus + 1}" in text and f"largest: {cluster.gpus}" in text
    assert "Requested node configuration is not available" in text


async def test_doctor_names_a_partition_that_does_not_exist(cluster: SlurmCluster, tmp_path: Path):
    project, config = slurm_config(tmp_path, partition="gpu-a100")
    lines: list[str] = []

    code = await slurm_doctor(config, lines.append, submit_test=False, project_dir=project)

    assert code == 1 and "partition 'gpu-a100' not found" in "\n".join(lines)


def test_doctor_command_in_slurm_mode_checks_the_cluster_and_submits_only_when_asked(cluster: SlurmCluster,
                                                                                     tmp_path: Path):
    project, _ = slurm_config(tmp_path, time_limit="5")

    plain = cli("doctor", str(project), timeout=120)
    tested = cli("doctor", str(project), "--submit-test", timeout=120)

    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert "GRES gpu:4" in plain.stdout and "not submitted" in plain.stdout
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert " ran in " in tested.stdout
