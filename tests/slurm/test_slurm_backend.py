"""The Slurm backend against a real single-node Slurm with 4 simulated GPUs: the backend
operations that apply to batch jobs, and the faults a cluster produces."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest

from tests.polling import probe_until
from tests.slurm_cluster import SlurmCluster
from tests.trials import GATED, STEPPED, WAIT_FOR
from tui_researcher.backends.base import TrialRef
from tui_researcher.backends.local import LocalBackend
from tui_researcher.backends.slurm import SlurmBackend, parse_scontrol
from tui_researcher.config import SlurmConfig
from tui_researcher.errors import BackendError

PY = sys.executable
SLURM_WAIT = 40.0     # a job queued behind others waits for a backfill pass (bf_interval=5 here)

# Prints the GPUs Slurm gave it, then waits for the file named as argument.
SHOW_GPUS = WAIT_FOR + textwrap.dedent("""
    print("gpus", os.environ.get("SLURM_JOB_GPUS"), os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
    wait_for(sys.argv[1])
""")

# Ends cleanly (exit 0) when told to stop: a trial that saves a checkpoint on SIGTERM.
GRACEFUL = WAIT_FOR + textwrap.dedent("""
    import signal
    signal.signal(signal.SIGTERM, lambda *a: (print("saving and exiting", flush=True), sys.exit(0)))
    print("started", flush=True)
    wait_for("never")
""")


def workspace_of(backend: SlurmBackend) -> Path:
    return Path(backend.workspace)


def put(backend: SlurmBackend, name: str, text: str) -> None:
    (workspace_of(backend) / name).write_text(text)


async def submit(backend: SlurmBackend, tid: str, argv: list[str]) -> TrialRef:
    info = await backend.launch(argv, run_dir=f"runs/{tid}")
    assert info.job_id.isdigit() and info.pid is None
    return TrialRef(id=tid, run_dir=f"runs/{tid}", job_id=info.job_id)


# the life of one job ---------------------------------------------------------------------------

async def test_job_is_pending_with_slurms_reason_then_running_then_finished_with_exit_code_from_sidecar(
        make_slurm, cluster: SlurmCluster):
    backend = await make_slurm(sbatch_args=["--hold"])      # held: PENDING until released, every time
    put(backend, "gated.py", GATED)
    ref = await submit(backend, "t1", [PY, "gated.py", "3"])

    pending = await probe_until(backend, ref, lambda t: t.state == "PENDING", timeout=10)
    assert pending.alive and pending.pending and not pending.finished
    assert pending.reason == "JobHeldUser"

    cluster.cmd("scontrol", "release", ref.job_id)
    running = await probe_until(backend, ref, lambda t: t.state == "RUNNING" and "started" in t.data,
                                timeout=SLURM_WAIT)
    assert running.alive and not running.finished and running.node == cluster.node
    assert running.started is not None

    put(backend, "go", "")
    done = await probe_until(backend, ref, lambda t: t.finished, timeout=SLURM_WAIT)
    assert done.exit_code == 3 and not done.alive
    assert done.status == ""                 # a plain non-zero exit: the controller calls it a crash
    sidecar = json.loads((workspace_of(backend) / "runs/t1/exit.json").read_text())
    assert sidecar["exit_code"] == 3 and sidecar["job_id"] == ref.job_id
    assert done.ended == pytest.approx(sidecar["ended"])


async def test_successful_job_reports_exit_zero_and_when_it_started(make_slurm):
    backend = await make_slurm()
    put(backend, "gated.py", GATED)
    put(backend, "go", "")
    ref = await submit(backend, "t1", [PY, "gated.py", "0"])

    done = await probe_until(backend, ref, lambda t: t.finished, timeout=SLURM_WAIT)

    assert done.exit_code == 0 and done.status == ""
    log = (workspace_of(backend) / "runs/t1/train.log").read_text()
    assert log.endswith("finished\n") and done.offset == done.size == len(log)   # every byte handed over
    pid = json.loads((workspace_of(backend) / "runs/t1/pid.json").read_text())
    assert done.started == pytest.approx(pid["started"])
    assert done.ended >= done.started


async def test_probe_returns_new_log_text_from_the_offset_in_whole_lines(make_slurm):
    backend = await make_slurm()
    put(backend, "stepped.py", STEPPED)
    ref = await submit(backend, "t1", [PY, "stepped.py"])
    await probe_until(backend, ref, lambda t: t.state == "RUNNING", timeout=SLURM_WAIT)

    put(backend, "go1", "")
    first = await probe_until(backend, ref, lambda t: bool(t.data), timeout=10)
    assert first.data == "line 1\nline 2\n" and first.offset == len(first.data)

    put(backend, "go2", "")
    second = await probe_until(backend, ref, lambda t: bool(t.data), timeout=10)
    assert second.data == "partial rest\nline 4\n"
    assert second.offset == len("line 1\nline 2\npartial rest\nline 4\n")

    put(backend, "go3", "")
    done = await probe_until(backend, ref, lambda t: t.finished, timeout=SLURM_WAIT)
    assert done.exit_code == 0 and done.data == ""


async def test_file_operations_go_through_the_submit_host(make_slurm):
    backend = await make_slurm()

    await backend.write_file("notes/plan.txt", "one\ntwo\n")

    assert await backend.read_file("notes/plan.txt") == "one\ntwo\n"
    assert await backend.tail("notes/plan.txt", max_bytes=4) == "two\n"
    assert {"path": "notes/plan.txt", "size": 8} in await backend.list_files(".")
    with pytest.raises(BackendError, match="outside the workspace"):
        await backend.read_file("../../etc/passwd")
    result = await backend.run([PY, "-c", "print('dry-run ok')"], timeout=30)
    assert result.ok and result.stdout == "dry-run ok\n"


async def test_job_script_asks_slurm_for_what_the_config_says(make_slurm, cluster: SlurmCluster):
    backend = await make_slurm(partition="debug", gpus_per_trial=2, time_limit="7",
                               sbatch_args=["--hold", "--comment=from tui-researcher"])
    ref = await submit(backend, "t1", [PY, "-c", "pass"])

    script = (workspace_of(backend) / "runs/t1/job.sh").read_text()
    shown = cluster.cmd("scontrol", "show", "job", "-o", ref.job_id).stdout
    fields = parse_scontrol(shown)
    assert "#SBATCH --gres=gpu:2" in script and "#SBATCH --time=7" in script and "--wrap" not in script
    assert fields["Partition"] == "debug" and fields["TimeLimit"] == "00:07:00"
    assert fields["JobName"] == "tuir-test-t1" and fields["TresPerNode"] == "gres:gpu:2"
    assert "Comment=from tui-researcher " in shown           # one argument, space and all
    assert fields["WorkDir"] == str(workspace_of(backend) / "runs/t1")


async def test_a_run_directory_is_never_submitted_twice(make_slurm, cluster: SlurmCluster):
    backend = await make_slurm(sbatch_args=["--hold"])
    await submit(backend, "t1", [PY, "-c", "pass"])

    with pytest.raises(BackendError, match="launched before"):
        await backend.launch([PY, "-c", "pass"], run_dir="runs/t1")
    assert len(cluster.job_ids()) == 1


# stopping ---------------------------------------------------------------------------------------

async def test_kill_cancels_a_running_job_and_probe_reports_cancelled(make_slurm):
    backend = await make_slurm()
    put(backend, "gated.py", GATED)
    ref = await submit(backend, "t1", [PY, "gated.py", "0"])
    await probe_until(backend, ref, lambda t: "started" in t.data, timeout=SLURM_WAIT)

    assert await backend.kill(None, job_id=ref.job_id)

    done = await probe_until(backend, ref, lambda t: t.finished, timeout=SLURM_WAIT)
    assert done.status == "cancelled" and done.state == "CANCELLED"
    assert done.exit_code == 143                       # the trial died of the SIGTERM Slurm sent


async def test_kill_of_a_pending_job_cancels_it_before_it_runs(make_slurm):
    backend = await make_slurm(sbatch_args=["--hold"])
    ref = await submit(backend, "t1", [PY, "-c", "print('ran')"])
    await probe_until(backend, ref, lambda t: t.pending, timeout=10)

    await backend.kill(None, job_id=ref.job_id)

    done = await probe_until(backend, ref, lambda t: t.finished, timeout=10)
    assert done.status == "cancelled" and done.exit_code is None
    assert not (workspace_of(backend) / "runs/t1/train.log").exists()


async def test_job_cancelled_from_outside_is_cancelled_even_when_the_trial_exits_zero(
        make_slurm, cluster: SlurmCluster):
    backend = await make_slurm()
    put(backend, "graceful.py", GRACEFUL)
    ref = await submit(backend, "t1", [PY, "graceful.py"])
    await probe_until(backend, ref, lambda t: "started" in t.data, timeout=SLURM_WAIT)

    cluster.cmd("scancel", ref.job_id)                 # someone else, not the controller

    done = await probe_until(backend, ref, lambda t: t.finished, timeout=SLURM_WAIT)
    assert done.status == "cancelled", done
    assert "scancel" in done.reason
    sidecar = json.loads((workspace_of(backend) / "runs/t1/exit.json").read_text())
    assert sidecar["exit_code"] == 0 and sidecar["signal"] == "SIGTERM"


@pytest.mark.slow
async def test_job_over_its_time_limit_is_timeout(make_slurm):
    backend = await make_slurm(time_limit="1")          # minutes; slurmctld checks about every 30 s
    put(backend, "gated.py", GATED)
    ref = await submit(backend, "t1", [PY, "gated.py", "0"])

    done = await probe_until(backend, ref, lambda t: t.finished, timeout=150)

    assert done.status == "timeout" and done.state == "TIMEOUT"
    assert "time limit (1)" in done.reason


# GPUs and refusals -------------------------------------------------------------------------------

async def test_submit_asking_for_more_gpus_than_exist_is_refused_with_slurms_message(make_slurm,
                                                                                     cluster: SlurmCluster):
    backend = await make_slurm(gpus_per_trial=cluster.gpus + 1)

    with pytest.raises(BackendError, match="Requested node configuration is not available"):
        await backend.launch([PY, "-c", "pass"], run_dir="runs/t1")
    assert cluster.job_ids() == []


async def test_four_one_gpu_jobs_run_on_distinct_gpus_and_the_fifth_waits_for_resources(
        make_slurm, cluster: SlurmCluster):
    backend = await make_slurm(gpus_per_trial=1)
    put(backend, "show.py", SHOW_GPUS)
    refs = [await submit(backend, f"t{i}", [PY, "show.py", "go"]) for i in range(5)]
    seen: dict[str, str] = {r.id: "" for r in refs}

    async def four_running_one_waiting() -> bool:
        probe = await backend.probe(refs, gpu=False)
        for r in refs:
            seen[r.id] += probe.trials[r.id].data
            r.offset = probe.trials[r.id].offset
        states = [probe.trials[r.id] for r in refs]
        running = [t for t in states if t.state == "RUNNING"]
        pending = [t for t in states if t.pending]
        return (len(running) == 4 and len(pending) == 1 and pending[0].reason == "Resources"
                and sum("gpus" in text for text in seen.values()) == 4)

    deadline = asyncio.get_running_loop().time() + SLURM_WAIT
    while not await four_running_one_waiting():
        assert asyncio.get_running_loop().time() < deadline, f"never 4 running + 1 pending; logs {seen}"
        await asyncio.sleep(0.2)

    gpus = [text.split()[1] for text in seen.values() if text]
    assert sorted(gpus) == [str(i) for i in range(cluster.gpus)]
    waiting = next(r for r in refs if not seen[r.id])
    put(backend, "go", "")
    done = await probe_until(backend, waiting, lambda t: t.finished, timeout=SLURM_WAIT)
    assert done.exit_code == 0


# re-attaching -------------------------------------------------------------------------------------

async def test_a_new_backend_reattaches_by_job_id_or_finds_a_lost_id_from_the_run_directory(
        make_slurm, tmp_path: Path):
    first = await make_slurm()
    put(first, "gated.py", GATED)
    ref = await submit(first, "t1", [PY, "gated.py", "0"])
    await probe_until(first, ref, lambda t: "started" in t.data, timeout=SLURM_WAIT)
    await first.close()

    second = await make_slurm(workspace=workspace_of(first))        # a restarted controller's backend
    by_id = await probe_until(second, TrialRef(id="t1", run_dir="runs/t1", job_id=ref.job_id),
                              lambda t: t.state == "RUNNING")
    lost = TrialRef(id="t1", run_dir="runs/t1")                      # killed between sbatch and state.json
    from_sidecar = await probe_until(second, lost, lambda t: t.state == "RUNNING")
    (workspace_of(first) / "runs/t1/job.json").unlink()
    elsewhere = await make_slurm(sbatch_args=["--hold"])              # same job name, another workspace, newer id
    impostor = await submit(elsewhere, "t1", [PY, "-c", "pass"])
    third = await make_slurm(workspace=workspace_of(first))
    from_name = await probe_until(third, TrialRef(id="t1", run_dir="runs/t1"), lambda t: t.state == "RUNNING")

    assert by_id.alive and from_sidecar.alive and from_name.alive
    assert third._job_ids["runs/t1"] == ref.job_id != impostor.job_id
    assert by_id.launched and from_sidecar.launched and from_name.launched
    put(first, "go", "")
    done = await probe_until(third, TrialRef(id="t1", run_dir="runs/t1"), lambda t: t.finished, timeout=SLURM_WAIT)
    assert done.exit_code == 0


async def test_result_is_collected_from_the_sidecar_once_slurm_no_longer_knows_the_job(make_slurm,
                                                                                        cluster: SlurmCluster):
    backend = await make_slurm()
    put(backend, "gated.py", GATED)
    put(backend, "go", "")
    ref = await submit(backend, "t1", [PY, "gated.py", "4"])
    await probe_until(backend, ref, lambda t: t.finished, timeout=SLURM_WAIT)

    gone = TrialRef(id="t1", run_dir="runs/t1", job_id="987654")      # aged out: squeue says Invalid job id
    assert "Invalid job id" in cluster.cmd("squeue", "-t", "all", "-j", "987654", check=False).stderr
    probe = await backend.probe([gone], gpu=False)

    aged = probe.trials["t1"]
    assert aged.finished and aged.exit_code == 4 and aged.status == ""
    assert "finished" in aged.data and aged.offset == aged.size


async def test_a_trial_never_submitted_is_reported_as_not_launched(make_slurm):
    backend = await make_slurm()

    probe = await backend.probe([TrialRef(id="t9", run_dir="runs/t9")], gpu=False)

    assert probe.reachable and not probe.trials["t9"].launched and not probe.trials["t9"].alive


async def test_start_without_slurm_on_the_submit_host_names_the_missing_command(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))      # the helper inherits this PATH
    inner = LocalBackend(tmp_path, op_timeout=10.0)
    backend = SlurmBackend(SlurmConfig(), inner=inner, python=inner.python)
    try:
        with pytest.raises(BackendError, match="sbatch --version: .*sbatch"):
            await backend.start()
    finally:
        await backend.close()


async def test_job_whose_script_cannot_start_is_a_crash_naming_slurms_state(make_slurm):
    backend = await make_slurm()
    backend.python = "/nonexistent/python3"              # the compute node has no such interpreter
    ref = await submit(backend, "t1", [PY, "-c", "pass"])

    done = await probe_until(backend, ref, lambda t: t.finished, timeout=SLURM_WAIT)

    assert done.status == "crash" and done.state == "FAILED"
    assert "left no exit.json" in done.reason and done.exit_code not in (None, 0)


def test_a_config_value_that_would_add_lines_to_the_job_script_is_refused(tmp_path: Path):
    backend = SlurmBackend(SlurmConfig(partition="debug\nimport os"), inner=LocalBackend(tmp_path))

    with pytest.raises(BackendError, match=r"execution\.slurm\.partition: .* not a single Slurm value"):
        backend.directives("runs/t1")
