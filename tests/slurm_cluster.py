"""A real single-node Slurm in one directory, with 4 simulated GPUs: for tests and benchmarks.

Built the way ``../shared/SLURM.md`` measured it on this machine kind: munged with a 0755
socket directory, ``slurm.conf`` claiming 8 CPUs (``SlurmdParameters=config_overrides``) so
jobs are not capped by the 2 real cores, ``gres.conf`` with ``File=`` device nodes made by
mknod, slurmctld and slurmd as child processes with ``-D``, private ports, and clients that
find it through ``SLURM_CONF``. Needs root (slurmd runs jobs as any user) and Debian's
``slurmctld slurmd slurm-client munge``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

GPUS = 4
PACKAGES = "slurmctld slurmd slurm-client munge"
NEEDED = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel", "scontrol")


def missing_reason() -> str:
    """Why a private cluster cannot start here, or "" when it can."""
    if os.geteuid() != 0:
        return "a private Slurm needs root (slurmd runs jobs as root here)"
    absent = [name for name in NEEDED if _which(name) is None]
    if absent:
        return (f"Slurm is not installed ({', '.join(absent)} not found): apt-get install -y "
                f"--no-install-recommends {PACKAGES}")
    return ""


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class SlurmCluster:
    """One controller, one node (this machine), ``gpus`` simulated GPUs, all under ``root``."""

    def __init__(self, root: Path, *, gpus: int = GPUS, cpus: int = 8) -> None:
        self.root = Path(root).resolve()
        self.gpus = gpus
        self.cpus = cpus
        self.node = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.procs: list[subprocess.Popen] = []

    @property
    def env(self) -> dict[str, str]:
        """What a client (sbatch, squeue, the backend's helper) needs to find this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def client_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    # starting ------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> SlurmCluster:
        self._write_files()
        self._start_munge()
        self._spawn("slurmctld", [_which("slurmctld"), "-D", "-f", str(self.conf)])
        self._spawn("slurmd", [_which("slurmd"), "-D", "-f", str(self.conf)])
        try:
            self.wait_idle(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def _write_files(self) -> None:
        d = self.root
        for sub in ("munge", "state", "spool", "log", "dev"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(d / "munge", 0o755)   # munged refuses a 0700 socket directory
        for i in range(self.gpus):
            dev = d / "dev" / f"nvidia{i}"
            if not dev.exists():
                subprocess.run(["mknod", str(dev), "c", "1", "3"], check=True)
        ctld_port, d_port = _free_ports(2)
        self.conf.write_text("\n".join([
            "ClusterName=tuitest",
            f"SlurmctldHost={self.node}(127.0.0.1)",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={d_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={d}/munge/munge.socket",
            f"StateSaveLocation={d}/state",
            f"SlurmdSpoolDir={d}/spool",
            f"SlurmctldPidFile={d}/slurmctld.pid",
            f"SlurmdPidFile={d}/slurmd.pid",
            f"SlurmctldLogFile={d}/log/slurmctld.log",
            f"SlurmdLogFile={d}/log/slurmd.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerParameters=batch_sched_delay=0,bf_interval=5",
            "SlurmdParameters=config_overrides",
            "MpiDefault=none",
            "ReturnToService=2",
            "GresTypes=gpu",
            "KillWait=5",
            "MinJobAge=300",
            (f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory=8000 Gres=gpu:{self.gpus} "
             "State=UNKNOWN"),
            "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))
        last = self.gpus - 1
        (d / "gres.conf").write_text(f"AutoDetect=off\nName=gpu File={d}/dev/nvidia[0-{last}]\n")

    def _start_munge(self) -> None:
        m = self.root / "munge"
        key = m / "munge.key"
        if not key.exists():
            subprocess.run([_which("mungekey"), "--create", f"--keyfile={key}"], check=True,
                           capture_output=True)
            os.chmod(key, 0o600)
        self._spawn("munged", [_which("munged"), "-F", "--force", f"--socket={m}/munge.socket",
                               f"--key-file={key}", f"--log-file={m}/munged.log",
                               f"--pid-file={m}/munged.pid", f"--seed-file={m}/munged.seed"])
        self._wait(lambda: (m / "munge.socket").exists(), 10, "munged's socket")

    def _spawn(self, name: str, argv: list[str]) -> None:
        with open(self.root / "log" / f"{name}.stdout", "ab") as out:
            self.procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.client_env(),
                                               start_new_session=True))

    # using ----------------------------------------------------------------------

    def cmd(self, *argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """A Slurm client command against this cluster."""
        proc = subprocess.run(list(argv), capture_output=True, text=True, env=self.client_env(), timeout=timeout,
                              check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def node_state(self) -> str:
        proc = self.cmd("sinfo", "-h", "-N", "-o", "%T", check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def wait_idle(self, timeout: float = 30.0) -> None:
        for p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[0]} exited with {p.returncode}: see {self.root / 'log'}")
        self._wait(lambda: self.node_state() == "idle", timeout, "the node to be idle", check_procs=True)

    def job_state(self, job_id: str) -> str:
        proc = self.cmd("squeue", "-t", "all", "-h", "-j", job_id, "-o", "%T", check=False)
        return proc.stdout.strip()

    def wait_job_state(self, job_id: str, states: set[str], timeout: float = 40.0) -> str:
        return self._wait(lambda: (s := self.job_state(job_id)) in states and s, timeout,
                          f"job {job_id} to reach {sorted(states)}")

    def job_ids(self) -> list[str]:
        proc = self.cmd("squeue", "-h", "-o", "%i", check=False)
        return proc.stdout.split()

    def cancel_all(self, timeout: float = 30.0) -> None:
        """Cancel every job and wait until none runs: jobs outlive slurmd."""
        ids = self.job_ids()
        if ids:
            self.cmd("scancel", *ids, check=False)
            self._wait(lambda: not self.job_ids(), timeout, "every job to leave the queue")

    def _wait(self, predicate, timeout: float, what: str, check_procs: bool = False):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if check_procs:
                dead = [p for p in self.procs if p.poll() is not None]
                if dead:
                    raise RuntimeError(f"{dead[0].args[0]} exited with {dead[0].returncode}; "
                                       f"logs in {self.root / 'log'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Slurm in {self.root}: timed out after {timeout:g}s waiting for {what}")
            time.sleep(0.1)

    # stopping ---------------------------------------------------------------------

    def stop(self) -> None:
        try:
            if self.procs and all(p.poll() is None for p in self.procs):
                self.cancel_all()
        except (TimeoutError, RuntimeError, OSError, subprocess.SubprocessError):
            pass
        finally:
            for p in reversed(self.procs):   # slurmd, then slurmctld, then munged
                self._terminate(p)
            self.procs.clear()

    @staticmethod
    def _terminate(proc: subprocess.Popen) -> None:
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
