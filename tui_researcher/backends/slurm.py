"""Trials as Slurm batch jobs, submitted and watched through a host helper.

Slurm does the GPU scheduling; this backend submits, asks, and cancels. Every command goes
through an inner ``HelperBackend`` (this machine, or a login node over SSH) as an argv list,
so nothing is ever quoted for a shell. Each trial gets a job script in its run directory; the
script runs the trial and writes ``pid.json`` and ``exit.json`` beside its log, so a result is
collected even after the job has aged out of ``squeue`` (``MinJobAge``) and no accounting
database answers. The job id, kept in ``state.json`` and in ``job.json`` in the run directory,
is what a restarted controller re-attaches by.

What Slurm prints is read in ``slurm_parse.py``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from ..config import Config, SlurmConfig
from ..errors import BackendError, ConfigError
from ..trial import TrialStatus
from .base import Backend, HelperBackend, HostProbe, LaunchInfo, RunResult, TrialProbe, TrialRef
from .gpu import GpuReading
from .helper import TRIAL_RUNNER
from .slurm_parse import (ALIVE_STATES, ENDINGS, EPOCH_ENV, SQUEUE_FORMAT, JobRow, exit_from_scontrol, job_name,
                          one_token, parsable_id, parse_scontrol, parse_squeue, same_dir, whole_lines, why_failed)


class SlurmBackend(Backend):
    """Trials as batch jobs; files, dry-runs and Slurm's commands go through ``inner``."""

    kind = "slurm"
    schedules_gpus = True
    """The controller places nothing itself: Slurm picks node and GPUs."""
    allowed_gpus = None
    """Which GPUs a job gets is Slurm's to say (``--gres``), not a list in the config."""

    def __init__(self, config: SlurmConfig, *, inner: HelperBackend, gpus_per_trial: int = 1,
                 python: str = "python3", project_name: str = "", name: str = "",
                 workspace: str | None = None) -> None:
        self.config = config
        self.inner = inner
        self.gpus_per_trial = config.gpus_per_trial if config.gpus_per_trial is not None else gpus_per_trial
        self.python = python
        self.project_name = project_name
        self.name = name or (f"slurm@{inner.name}" if config.host else "slurm")
        self.workspace = workspace or inner.workspace
        self.op_timeout = inner.op_timeout
        self.info: dict[str, Any] = {}
        self._job_ids: dict[str, str] = {}        # run_dir -> job id learnt from job.json or squeue
        self._started: dict[str, float] = {}      # job id -> when its trial really began (pid.json)

    # lifecycle -------------------------------------------------------------------

    async def start(self) -> dict[str, Any]:
        info = dict(await self.inner.start())
        version = await self.command("sbatch", "--version", what="sbatch --version")
        info["slurm"] = version.stdout.strip()
        self.info = info
        return info

    async def close(self) -> None:
        await self.inner.close()

    async def configure(self, protected: list[str]) -> None:
        await self.inner.configure(protected)

    @property
    def seeds_code(self) -> bool:
        """Jobs run in the submit host's workspace: a login node over SSH needs the code copied there."""
        return self.inner.seeds_code

    @property
    def root(self) -> str:
        return str(self.info.get("root") or self.inner.root)

    async def _root(self) -> str:
        if not self.info.get("root"):
            self.info.update(await self.inner.start())
        return str(self.info["root"])

    async def command(self, *argv: str, what: str, cwd: str = ".", timeout: float = 60.0,
                     check: bool = True) -> RunResult:
        """One Slurm client command on the submit host, as an argv list (never a shell string)."""
        result = await self.inner.run(list(argv), cwd=cwd, timeout=timeout, env=EPOCH_ENV)
        if check and not result.ok:
            raise BackendError(f"{self.name}: {what}: {why_failed(result)}")
        return result

    # the file and command operations belong to the submit host -------------------------------

    async def run(self, argv, *, cwd=".", timeout=60.0, env=None) -> RunResult:
        return await self.inner.run(argv, cwd=cwd, timeout=timeout, env=env)

    async def read_file(self, path, *, max_bytes=200_000) -> str:
        return await self.inner.read_file(path, max_bytes=max_bytes)

    async def write_file(self, path, content) -> None:
        await self.inner.write_file(path, content)

    async def list_files(self, path=".", *, depth=2) -> list[dict[str, Any]]:
        return await self.inner.list_files(path, depth=depth)

    async def tail(self, path, *, max_bytes=65536) -> str:
        return await self.inner.tail(path, max_bytes=max_bytes)

    async def exists(self, path: str) -> bool:
        return await self.inner.exists(path)

    async def put_file(self, local_path: str | Path, rel: str) -> None:
        await self.inner.put_file(local_path, rel)

    async def unpack_tree(self, path: str, archive: str) -> None:
        await self.inner.unpack_tree(path, archive)

    async def pack_tree(self, path: str) -> dict[str, Any]:
        return await self.inner.pack_tree(path)

    async def prune_tree(self, path: str, blobs: dict[str, str]) -> int:
        return await self.inner.prune_tree(path, blobs)

    async def ping(self) -> float:
        return await self.inner.ping()

    async def gpus(self) -> tuple[list[GpuReading] | None, str]:
        """None: the GPUs are on the compute nodes, and Slurm hands them out (see ``doctor``: sinfo)."""
        return None, "GPUs are scheduled by Slurm on its compute nodes"

    # submitting --------------------------------------------------------------------------

    def directives(self, run_dir: str) -> list[str]:
        """The ``#SBATCH`` lines: what the user's config asks of Slurm for one trial."""
        partition = one_token("partition", self.config.partition)
        time_limit = one_token("time_limit", self.config.time_limit)
        lines = [f"--job-name={job_name(self.project_name, run_dir)}", "--output=slurm-%j.out"]
        lines += [f"--partition={partition}"] if partition else []
        lines += [f"--gres=gpu:{self.gpus_per_trial}"] if self.gpus_per_trial else []
        lines += [f"--time={time_limit}"] if time_limit else []
        return lines

    def job_script(self, spec: dict[str, Any], run_dir: str) -> str:
        shebang = self.python if os.path.isabs(self.python) else f"/usr/bin/env {self.python}"
        head = [f"#!{shebang}", *(f"#SBATCH {d}" for d in self.directives(run_dir)),
                "# Written by tui-researcher: runs one trial and writes pid.json and exit.json beside its log.",
                f"SPEC = {json.dumps(json.dumps(spec))}"]
        return "\n".join(head) + TRIAL_RUNNER   # the host helper's own trial runner, fed SPEC

    async def launch(self, argv, *, run_dir, cwd=".", env=None) -> LaunchInfo:
        root = await self._root()
        where = os.path.join(root, run_dir)
        for sidecar in ("job.json", "exit.json"):
            if await self.inner.exists(f"{run_dir}/{sidecar}"):
                raise BackendError(f"{self.name}: {run_dir}/{sidecar} exists: this run directory was launched "
                                   "before (submitted to Slurm)")
        extra = {k: v for k, v in (env or {}).items() if k != "CUDA_VISIBLE_DEVICES"}  # Slurm sets it
        spec = {"argv": list(argv), "cwd": os.path.normpath(os.path.join(root, cwd)), "env": extra,
                "log": os.path.join(where, "train.log"), "exit": os.path.join(where, "exit.json"),
                "pidfile": os.path.join(where, "pid.json")}
        await self.inner.write_file(f"{run_dir}/job.sh", self.job_script(spec, run_dir))
        result = await self.command("sbatch", "--parsable", *self.config.sbatch_args, "job.sh",
                                   what="sbatch", cwd=run_dir, check=False)
        job_id = parsable_id(result.stdout) if result.ok else ""
        if not job_id and result.timed_out:      # the submit may have gone through all the same
            ref = TrialRef(id=run_dir, run_dir=run_dir)
            await self._resolve_job_ids([ref])
            job_id = ref.job_id
        if not job_id:
            raise BackendError(f"Slurm refused the job: {why_failed(result)}")
        self._job_ids[run_dir] = job_id
        await self.inner.write_file(f"{run_dir}/job.json", json.dumps(
            {"job_id": job_id, "submitted": time.time(), "name": job_name(self.project_name, run_dir),
             "directives": self.directives(run_dir), "sbatch_args": list(self.config.sbatch_args)}) + "\n")
        return LaunchInfo(pid=None, start_time="", log_path=spec["log"], exit_path=spec["exit"], run_dir=where,
                          host=self.name, job_id=job_id)

    # watching --------------------------------------------------------------------------------

    async def probe(self, trials, *, gpu=True, max_bytes=65536) -> HostProbe:
        """Logs and sidecars in one helper call, every job's state in one squeue call."""
        began = time.perf_counter()
        refs = [TrialRef(id=t.id, run_dir=t.run_dir, offset=t.offset, log=t.log, job_id=t.job_id) for t in trials]
        if not refs:
            return HostProbe(host=self.name, reachable=True)
        try:
            await self._resolve_job_ids(refs)
            files, rows = await asyncio.gather(self.inner.probe(refs, gpu=False, max_bytes=max_bytes),
                                               self.squeue([r.job_id for r in refs if r.job_id]))
        except BackendError as exc:
            return HostProbe(host=self.name, reachable=False, error=str(exc))
        if not files.reachable:
            return HostProbe(host=self.name, reachable=False, error=files.error)
        probe = HostProbe(host=self.name, reachable=True)
        out = await asyncio.gather(*(self._trial(ref, files.trials.get(ref.id), rows.get(ref.job_id))
                                     for ref in refs))
        probe.trials = {ref.id: tp for ref, tp in zip(refs, out)}
        probe.rtt = time.perf_counter() - began
        return probe

    async def squeue(self, job_ids: list[str]) -> dict[str, JobRow]:
        """Every listed job's row, finished ones included, in one call; an aged-out id is simply absent."""
        if not job_ids:
            return {}
        result = await self.command("squeue", "-t", "all", "-h", "-j", ",".join(job_ids), "-o", SQUEUE_FORMAT,
                                   what="squeue", timeout=30.0, check=False)
        if not result.ok:
            if "Invalid job id" in result.stderr:   # the only id asked for has aged out
                return {}
            raise BackendError(f"{self.name}: squeue: {why_failed(result)}")
        return parse_squeue(result.stdout)

    async def _resolve_job_ids(self, refs: list[TrialRef]) -> None:
        """A trial whose id the controller never stored (killed mid-submit): job.json, else its job name."""
        missing = [r for r in refs if not r.job_id]
        for r in missing:
            r.job_id = self._job_ids.get(r.run_dir, "")
        unknown = [r for r in missing if not r.job_id]
        records = await asyncio.gather(*(self._read_json(f"{r.run_dir}/job.json") for r in unknown))
        for r, record in zip(unknown, records):
            r.job_id = str((record or {}).get("job_id") or "")
        by_name = {job_name(self.project_name, r.run_dir): r for r in unknown if not r.job_id}
        if by_name:
            # the name alone is not enough: another project (or an earlier run) may reuse it; the
            # job's working directory is the run directory itself
            root = await self._root()
            result = await self.command("squeue", "-t", "all", "-h", "-n", ",".join(by_name), "-o", "%i|%j|%Z",
                                       what="squeue -n", check=False)
            for line in result.stdout.splitlines() if result.ok else []:
                job_id, name, workdir = (line.strip().split("|", 2) + ["", ""])[:3]
                ref = by_name.get(name)
                ours = ref is not None and job_id.isdigit() and same_dir(workdir, os.path.join(root, ref.run_dir))
                if ours and (not ref.job_id or int(job_id) > int(ref.job_id)):    # the newest submit wins
                    ref.job_id = job_id
        for r in missing:
            if r.job_id:
                self._job_ids[r.run_dir] = r.job_id

    async def _read_json(self, path: str) -> dict | None:
        try:
            return json.loads(await self.inner.read_file(path, max_bytes=65536))
        except (BackendError, ValueError):
            return None

    async def _trial(self, ref: TrialRef, files: TrialProbe | None, row: JobRow | None) -> TrialProbe:
        """One trial's probe from its sidecars and its squeue row (the row may be gone: aged out)."""
        files = files or TrialProbe(alive=False, launched=False)
        if files.error:
            return TrialProbe(alive=True, error=files.error)
        tp = TrialProbe(alive=True, data=files.data, offset=files.offset, size=files.size, launched=bool(ref.job_id),
                        job_id=ref.job_id)
        if not ref.job_id:
            tp.alive, tp.error = False, ""
            return tp
        sidecar = None
        if files.exit_code is not None or row is None or not row.alive:   # re-read: it may have just landed
            sidecar = await self._read_json(f"{ref.run_dir}/exit.json")
        if row is not None:
            tp.state, tp.node = row.state, row.node
            if row.state == "PENDING":
                tp.reason = row.reason
            if row.state not in ("PENDING",):
                tp.started = await self._job_started(ref, row, sidecar)
        self._settle(tp, ref, row, sidecar)
        if tp.state in ALIVE_STATES and tp.exit_code is None:
            whole_lines(tp)
        elif row is not None and sidecar is None and tp.exit_code is None and not tp.status:
            await self._exit_from_scontrol(tp, ref)
        if tp.exit_code is not None or not tp.alive:
            self._started.pop(ref.job_id, None)
        return tp

    def _settle(self, tp: TrialProbe, ref: TrialRef, row: JobRow | None, sidecar: dict | None) -> None:
        """Decide alive / exit code / status from Slurm's word and the job's own sidecar."""
        if row is not None and row.state == "PENDING":
            sidecar = None          # requeued: whatever an earlier attempt left is not this attempt's result
        code = None if sidecar is None else sidecar.get("exit_code")
        signalled = bool(sidecar and sidecar.get("signal"))
        if sidecar is not None:
            tp.ended = sidecar.get("ended")
        if row is not None and row.alive:
            # a trial that exited on its own is done now; one stopped by a signal (even one that then
            # exited 0) or killed by one (the OOM killer) waits for Slurm to say why: CANCELLED,
            # TIMEOUT and OUT_OF_MEMORY show as COMPLETING first
            if code is not None and not signalled and code <= 128:
                tp.exit_code, tp.alive = code, False
            return
        tp.alive = False
        tp.exit_code = code
        if row is None:
            if sidecar is None:
                tp.status = TrialStatus.CRASH
                tp.reason = f"Slurm job {ref.job_id} left the queue without an exit code (see slurm-{ref.job_id}.out)"
            elif signalled:
                tp.status = TrialStatus.CANCELLED
                tp.reason = f"stopped by {sidecar['signal']} from Slurm (scancel or the time limit)"
            return
        tp.ended = tp.ended or row.end
        ending = ENDINGS.get(row.state)
        if ending and not (code == 0 and not signalled):
            tp.status, tp.reason = ending
            if row.state == "TIMEOUT" and self.config.time_limit:
                tp.reason = f"over the Slurm time limit ({self.config.time_limit})"

    async def _job_started(self, ref: TrialRef, row: JobRow, sidecar: dict | None) -> float | None:
        """When the trial really began: the runner's clock (sub-second), else Slurm's start time."""
        known = self._started.get(ref.job_id)
        if known:
            return known
        started = (sidecar or {}).get("started")
        if started is None:
            record = await self._read_json(f"{ref.run_dir}/pid.json")
            started = (record or {}).get("started")
        if started is None and not row.alive:
            started = row.start
        if started is not None:
            self._started[ref.job_id] = float(started)
        return started

    async def _exit_from_scontrol(self, tp: TrialProbe, ref: TrialRef) -> None:
        """A finished job that left no sidecar (the runner never ran, or was killed): ask scontrol."""
        result = await self.command("scontrol", "show", "job", "-o", ref.job_id, what="scontrol", check=False)
        fields = parse_scontrol(result.stdout) if result.ok else {}
        tp.exit_code = exit_from_scontrol(fields.get("ExitCode", ""))
        if tp.state == "FAILED" or tp.exit_code is None:
            tp.status = TrialStatus.CRASH
            out = ""
            try:
                out = (await self.inner.tail(f"{ref.run_dir}/slurm-{ref.job_id}.out", max_bytes=2000)).strip()
            except BackendError:
                pass
            last = out.splitlines()[-1] if out else ""
            tp.reason = (f"Slurm {tp.state} (ExitCode {fields.get('ExitCode', '?')}) and the job left no exit.json"
                         + (f": {last}" if last else f"; see slurm-{ref.job_id}.out"))[:300]

    # stopping ---------------------------------------------------------------------------

    async def kill(self, pid, start_time="", signal="SIGTERM", *, job_id="") -> bool:
        """``scancel``: Slurm sends TERM to every process of the job, then KILL after its KillWait."""
        if not job_id:
            return False
        result = await self.command("scancel", str(job_id), what="scancel", check=False)
        if not result.ok:
            raise BackendError(f"{self.name}: scancel {job_id}: {why_failed(result)}")
        return True


# building ----------------------------------------------------------------------

def slurm_backend(config: Config, project_dir: Path) -> SlurmBackend:
    """``execution.mode: slurm``: sbatch here, or on the login node ``slurm.host`` names (over SSH)."""
    slurm = config.execution.slurm
    name = config.project.name or project_dir.resolve().name
    inner: HelperBackend
    if slurm.host:
        from .ssh import SSHBackend
        host = next((h for h in config.execution.hosts if slurm.host in (h.name, h.host)), None)
        if host is None:
            raise ConfigError(f"{config.path}: execution.slurm.host: {slurm.host!r} is not in execution.hosts")
        inner, python = SSHBackend(host, project_name=name), host.python
    else:
        from .local import LocalBackend
        workspace = (project_dir / config.project.workspace).resolve()
        local = LocalBackend(workspace, python=config.execution.python)
        inner, python = local, local.python
    return SlurmBackend(slurm, inner=inner, gpus_per_trial=config.gpu.gpus_per_trial, python=python,
                        project_name=name)
