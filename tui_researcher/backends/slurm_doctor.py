"""`tui-researcher doctor` in slurm mode: what the cluster offers, and whether a job really runs.

``sinfo`` gives the partitions, their state and GRES; a trial's ``--gres=gpu:N`` is checked
against the largest node of the partition it goes to. Only with ``--submit-test`` does a tiny
job go through the queue, the same way a trial would (job script, sidecars, probe).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path

from ..config import Config
from ..errors import BackendError
from .base import TrialProbe, TrialRef
from .slurm import SlurmBackend, slurm_backend


async def slurm_doctor(config: Config, out: Callable[[str], None], *, submit_test: bool,
                       project_dir: Path | None = None, wait_s: float = 60.0) -> int:
    """Partitions and GPUs (GRES) from ``sinfo``; with ``submit_test``, a tiny job through the queue."""
    project_dir = project_dir or (config.path.parent if config.path else Path.cwd())
    backend = slurm_backend(config, project_dir)
    host = config.execution.slurm.host
    out(f"{backend.name} (sbatch on {'login node ' + host + ' over ssh' if host else 'this machine'})")
    try:
        info = await backend.start()
        out(_row("slurm", info.get("slurm", "?")))
        ok = await _doctor_partitions(backend, out)
        if submit_test:
            ok = await _doctor_test_job(backend, out, wait_s) and ok
        else:
            out(_row("test job", "not submitted (add --submit-test to send one through the queue)"))
        return 0 if ok else 1
    except BackendError as exc:
        out(_row("error", str(exc)))
        return 1
    finally:
        await backend.close()


async def _doctor_partitions(backend: SlurmBackend, out: Callable[[str], None]) -> bool:
    result = await backend.command("sinfo", "-h", "-o", "%P|%a|%D|%t|%G|%l", what="sinfo")
    wanted = backend.config.partition
    found = False
    gpus_seen = 0
    for line in result.stdout.splitlines():
        part, avail, nodes, state, gres, limit = (line.split("|") + [""] * 6)[:6]
        name = part.rstrip("*")
        default = part.endswith("*")
        chosen = name == wanted or (not wanted and default)
        found |= chosen
        counts = [int(m) for m in re.findall(r"gpu(?::[\w.-]+)?:(\d+)", gres)]
        gpus_seen = max([gpus_seen, *counts]) if chosen else gpus_seen
        mark = "  <- trials go here" if chosen else ""
        out(_row("partition", f"{name}{' (default)' if default else ''}: {avail}, {nodes} node(s) {state}, "
                              f"GRES {gres or '(none)'}, time limit {limit}{mark}"))
    ok = True
    if not found:
        out(_row("problem", f"partition {wanted!r} not found" if wanted
                 else "no default partition: set execution.slurm.partition"))
        ok = False
    if backend.gpus_per_trial and found and gpus_seen < backend.gpus_per_trial:
        out(_row("problem", f"trials ask for --gres=gpu:{backend.gpus_per_trial}, but no node of the partition "
                            f"offers that many (largest: {gpus_seen})"))
        ok = False
    return ok


TEST_JOB = "echo tui-researcher test job on $(hostname) GPUs=${SLURM_JOB_GPUS:-none}"


async def _doctor_test_job(backend: SlurmBackend, out: Callable[[str], None], wait_s: float) -> bool:
    run_dir = f"doctor/slurm-test-{int(time.time())}"
    began = time.monotonic()
    try:
        info = await backend.launch(["/bin/sh", "-c", TEST_JOB], run_dir=run_dir)
    except BackendError as exc:
        out(_row("test job", f"refused: {exc}"))
        return False
    ref = TrialRef(id="doctor", run_dir=run_dir, job_id=info.job_id)
    last = TrialProbe(alive=True)
    while time.monotonic() - began < wait_s:
        probe = await backend.probe([ref], gpu=False)
        last = probe.trials.get("doctor", last)
        if last.finished:
            break
        await asyncio.sleep(0.5)
    if not last.finished:
        await backend.kill(None, job_id=info.job_id)
        out(_row("test job", f"job {info.job_id} still {last.state or '?'} ({last.reason or 'no reason'}) after "
                             f"{wait_s:g}s: the queue accepts jobs but did not run it; cancelled"))
        return False
    text = ""
    try:
        text = (await backend.tail(f"{run_dir}/train.log", max_bytes=2000)).strip()
    except BackendError:
        pass
    ok = last.exit_code == 0 and not last.status
    verdict = "ran" if ok else f"ended {last.status or 'with exit ' + str(last.exit_code)} {last.reason}".strip()
    out(_row("test job", f"job {info.job_id} {verdict} in {time.monotonic() - began:.1f}s: {text or '(no output)'}"))
    return ok


def _row(label: str, value: str) -> str:
    return f"  {label:<12} {value}"
