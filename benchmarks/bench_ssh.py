"""How much does one remote operation cost? Four ways to reach a host, against the same loopback sshd.

    python benchmarks/bench_ssh.py

(a) a new ``ssh`` process per operation running a one-shot python helper (the reference system's
way), (b) the same over an OpenSSH ControlMaster socket, (c) asyncssh ``conn.run`` per operation,
(d) our backend: one connection, one long-lived helper, JSON lines. Then the wall time of one
monitor poll over 16 hosts (16 backends, 16 connections to the same sshd, one trial each).
Everything runs in this one process against the sshd it starts, so the baselines and our figures
come from the same machine in the same minute.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Awaitable, Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import asyncssh  # noqa: E402

from tests.sshd_server import ClientKeys, SSHServer, path_without_nvidia_smi, sshd_available, write_fake_nvidia_smi  # noqa: E402, E501
from tui_researcher.backends.base import TrialRef  # noqa: E402
from tui_researcher.backends.ssh import SSHBackend  # noqa: E402
from timing import timed  # noqa: E402  (benchmarks/timing.py)

HOSTS = 16
# What one request to a one-shot helper does: start python, answer, exit.
ONE_SHOT = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
    "import json, time; print(json.dumps({'id': 1, 'ok': True, 'result': {'time': time.time()}}))")
TRIAL = "import time\nprint('step=1 loss=0.5', flush=True)\ntime.sleep(600)\n"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def run_ssh(argv: list[str]) -> Callable[[], Awaitable[None]]:
    async def op() -> None:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                    stderr=subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0 or b'"ok": true' not in out:
            raise RuntimeError(f"ssh failed ({proc.returncode}): {err.decode()[-300:]}")
    return op


async def control_master(server: SSHServer, socket_path: Path) -> subprocess.Popen:
    master = subprocess.Popen(server.ssh_argv("-o", "ControlMaster=yes", "-o", f"ControlPath={socket_path}", "-N"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check = server.ssh_argv("-o", f"ControlPath={socket_path}", "-O", "check")
    for _ in range(200):
        if subprocess.run(check, capture_output=True).returncode == 0:
            return master
        await asyncio.sleep(0.025)
    master.kill()
    raise RuntimeError("ControlMaster did not come up")


async def main() -> int:
    why = sshd_available()
    if why:
        print(f"bench_ssh: {why}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-ssh-"))
    fake_bin = tmp / "fake-gpu-bin"
    write_fake_nvidia_smi(fake_bin)
    server = SSHServer(tmp / "sshd", ClientKeys.create(tmp / "keys"),
                       path=f"{fake_bin}:{path_without_nvidia_smi('/usr/local/bin:/usr/bin:/bin')}").start()
    rows: list[tuple[str, list[float]]] = []
    master = None
    backends: list[SSHBackend] = []
    refs: list[TrialRef] = []
    try:
        print(f"sshd on {server.host}:{server.port}; {os.cpu_count()} CPUs; python {sys.version.split()[0]}\n")
        rows.append(("(a) new ssh process per op", await timed(run_ssh(server.ssh_argv() + [ONE_SHOT]), 15)))

        master = await control_master(server, tmp / "cm.sock")
        via_master = server.ssh_argv("-o", f"ControlPath={tmp / 'cm.sock'}", "-o", "ControlMaster=no") + [ONE_SHOT]
        rows.append(("(b) ssh over ControlMaster per op", await timed(run_ssh(via_master), 30)))

        async with asyncssh.connect(server.host, port=server.port, username=server.user,
                                    client_keys=[str(server.client.key)], known_hosts=str(server.known_hosts)) as conn:
            one_run = lambda: conn.run(ONE_SHOT, check=True)  # noqa: E731
            rows.append(("(c) asyncssh conn.run per op", await timed(one_run, 30)))

        backends = [SSHBackend(server.host_config(tmp / f"ws{i}", name=f"gpu-{i}"), project_name="bench")
                    for i in range(HOSTS)]
        await asyncio.gather(*(b.start() for b in backends))
        for b in backends:
            await b.write_file("trial.py", TRIAL)
            info = await b.launch([sys.executable, "trial.py"], run_dir="runs/t")
            refs.append(TrialRef(id="t", run_dir="runs/t", pid=info.pid, start_time=info.start_time))
        one, ref = backends[0], refs[0]
        rows.append(("(d) our backend: ping", await timed(one.ping, 500, warmup=20)))
        rows.append(("(d) our backend: probe, 1 trial", await timed(lambda: one.probe([ref], gpu=False), 300)))
        rows.append(("(d) our backend: probe, 1 trial + GPUs", await timed(lambda: one.probe([ref], gpu=True), 100)))

        async def poll(gpu: bool) -> None:
            probes = await asyncio.gather(*(b.probe([r], gpu=gpu) for b, r in zip(backends, refs, strict=False)))
            assert all(p.reachable and p.trials["t"].alive for p in probes), probes
        rows.append((f"monitor poll, {HOSTS} hosts", await timed(lambda: poll(False), 30)))
        rows.append((f"monitor poll, {HOSTS} hosts + GPUs", await timed(lambda: poll(True), 30)))
    finally:
        for b, r in zip(backends, refs, strict=False):
            await b.kill(r.pid, r.start_time, signal="SIGKILL")
        await asyncio.gather(*(b.close() for b in backends), return_exceptions=True)
        if master is not None:
            master.terminate()
            master.wait()
        server.stop()

    print(f"{'method':<42} {'n':>4} {'median ms':>10} {'p95 ms':>9}")
    for name, values in rows:
        median, p95 = percentile(values, 50) * 1000, percentile(values, 95) * 1000
        print(f"{name:<42} {len(values):>4} {median:>10.2f} {p95:>9.2f}")
    figures = {name: percentile(values, 50) for name, values in rows}
    a = figures["(a) new ssh process per op"]
    print()
    for name in ("(b) ssh over ControlMaster per op", "(c) asyncssh conn.run per op", "(d) our backend: ping",
                 "(d) our backend: probe, 1 trial"):
        print(f"{name}: {a / figures[name]:,.0f}x faster than (a)")
    poll_ms = figures[f"monitor poll, {HOSTS} hosts + GPUs"] * 1000
    ping_met = a / figures["(d) our backend: ping"] >= 100
    print(f"\ngoals: (d) ping >= 100x faster than (a): {'met' if ping_met else 'MISSED'}; "
          f"{HOSTS}-host poll with GPUs under 50 ms: {'met' if poll_ms < 50 else 'MISSED'} ({poll_ms:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
