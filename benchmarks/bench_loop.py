"""How fast the controller notices a finished trial, and what idle monitoring costs.

Run: python benchmarks/bench_loop.py [--runs 5] [--idle 20]

Figures are ratios against baselines measured in the same run, because this machine is noisy:
- detection latency against the poll interval (goal: under 2 s with a 1 s poll);
- the controller's CPU (controller process + its host helper) per hour of idle monitoring, against
  a floor process that only wakes once per poll and does nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import make_project  # noqa: E402
from tui_researcher.config import load_config  # noqa: E402
from tui_researcher.controller import Controller  # noqa: E402
from tui_researcher.events import MonitorSample, Quit, TrialFinished  # noqa: E402

POLL = 1.0
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def detection_latency(root: Path) -> float:
    project = make_project(root, modes=["sleep"], seconds=2.3, extra={"monitor": {"poll_interval": POLL}})
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=1)
    queue = controller.subscribe()
    task = asyncio.create_task(controller.run())
    finished_at = None
    while (event := await queue.get()) is not None:
        if isinstance(event, TrialFinished):
            finished_at = event.ts
    await task
    exit_info = json.loads((project / "workspace" / "runs" / "t0001" / "exit.json").read_text())
    return finished_at - exit_info["ended"]


async def idle_cpu(root: Path, seconds: float) -> tuple[float, float]:
    """CPU seconds of controller + helper while one trial trains and nothing else happens."""
    project = make_project(root, modes=["sleep"], seconds=seconds + 30, extra={"monitor": {"poll_interval": POLL}})
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=1)
    queue = controller.subscribe()
    task = asyncio.create_task(controller.run())
    while not isinstance(await queue.get(), MonitorSample) or not controller.state.running:
        pass
    backend = controller._default_backend()
    helper_pid = backend._proc.pid
    c0, h0, t0 = time.process_time(), proc_cpu(helper_pid), time.monotonic()
    while time.monotonic() - t0 < seconds:
        await queue.get()
    c1, h1, t1 = time.process_time(), proc_cpu(helper_pid), time.monotonic()
    pid = controller.state.running["t0001"].pid
    controller.send(Quit(leave_training_running=False))
    await task
    del pid
    return (c1 - c0) + (h1 - h0), t1 - t0


def floor_cpu(seconds: float) -> float:
    code = (f"import asyncio,time\nasync def m():\n  t=time.monotonic()\n  while time.monotonic()-t<{seconds}:\n"
            f"    await asyncio.sleep({POLL})\nasyncio.run(m())\nimport resource\n"
            "r=resource.getrusage(resource.RUSAGE_SELF);print(r.ru_utime+r.ru_stime)")
    start = subprocess.run([sys.executable, "-c", "import resource;r=resource.getrusage(resource.RUSAGE_SELF);print(r.ru_utime+r.ru_stime)"],
                           capture_output=True, text=True)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return max(0.0, float(out.stdout) - float(start.stdout))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=20.0)
    args = ap.parse_args()
    lat = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as d:
            lat.append(asyncio.run(detection_latency(Path(d))))
    print(f"poll interval                      {POLL:.2f} s")
    print(f"exit -> recorded, median           {statistics.median(lat):.3f} s  ({statistics.median(lat) / POLL:.2f} x poll)")
    print(f"exit -> recorded, worst of {args.runs}        {max(lat):.3f} s  ({max(lat) / POLL:.2f} x poll)  goal < 2 s")
    with tempfile.TemporaryDirectory() as d:
        cpu, wall = asyncio.run(idle_cpu(Path(d), args.idle))
    floor = floor_cpu(wall)
    per_hour = cpu / wall * 3600
    floor_hour = floor / wall * 3600
    print(f"idle monitoring CPU                {per_hour:.1f} CPU-s per hour ({cpu:.3f} s over {wall:.1f} s, 1 trial)")
    print(f"floor (asyncio sleep per poll)     {floor_hour:.1f} CPU-s per hour")
    print(f"ratio to floor                     {per_hour / max(floor_hour, 1e-3):.1f} x; "
          f"share of one core                {cpu / wall * 100:.2f} %")


if __name__ == "__main__":
    main()
