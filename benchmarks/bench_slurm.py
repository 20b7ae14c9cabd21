"""Trials per hour on a 4-GPU simulated Slurm, max_parallel 1 against 4, and how long a freed slot waits.

Run (as root, with Debian's slurmctld slurmd slurm-client munge installed):
    python benchmarks/bench_slurm.py [--trials 8] [--seconds 5] [--poll 1.0]

The same fixed trial (sleep ``--seconds``, print a metric) runs ``--trials`` times through the
real controller and the Slurm backend on a private single-node cluster with 4 simulated GPUs;
each trial asks for one GPU. Figures:
- trials per hour at max_parallel 1 and 4, and their ratio (goal: close to 4x);
- the delay from one job's end (the runner's exit.json) to the next submission (job.json):
  goal under one poll interval; the mandatory dry-run and sbatch are inside it;
- as context, the time Slurm itself takes from submission to running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import latest_trials, make_project  # noqa: E402
from tests.slurm_cluster import SlurmCluster, missing_reason  # noqa: E402
from tui_researcher.backends.slurm import slurm_backend  # noqa: E402
from tui_researcher.config import load_config  # noqa: E402
from tui_researcher.controller import Controller  # noqa: E402
from tui_researcher.store import Store  # noqa: E402


async def run_loop(root: Path, *, trials: int, seconds: float, parallel: int, poll: float) -> dict:
    project = make_project(root, modes=["sleep"], seconds=seconds, scores=[round(0.01 * i, 2) for i in range(trials)],
                           extra={"execution": {"mode": "slurm", "slurm": {"time_limit": "10"}},
                                  "experiment": {"max_parallel": parallel},
                                  "gpu": {"gpus_per_trial": 1}, "monitor": {"poll_interval": poll}})
    config = load_config(project / "config.yaml")
    controller = Controller(project, config, backends=[slurm_backend(config, project)], max_cycles=trials)
    began = time.time()
    await asyncio.wait_for(controller.run(), 60 + trials * (seconds + 10))
    wall = time.time() - began
    done = list(latest_trials(project).values())
    bad = [(t["id"], t["status"], t["label"]) for t in done if t["metric"] is None]
    if len(done) != trials or bad:
        raise SystemExit(f"max_parallel {parallel}: not every trial gave a metric: {bad}")
    runs = project / "workspace"
    store = Store.reader(runs / "researcher.db")
    collected = {e["trial_id"]: e["ts"] for _, e in store.events_after(0, 1_000_000) if e.get("type") == "finish"}
    store.close()
    jobs = []
    for t in done:
        submitted = json.loads((runs / t["run_dir"] / "job.json").read_text())["submitted"]
        ended = json.loads((runs / t["run_dir"] / "exit.json").read_text())["ended"]
        jobs.append({"submitted": submitted, "started": t["started"], "ended": ended, "collected": collected[t["id"]]})
    return {"wall": wall, "per_hour": trials / wall * 3600, "jobs": jobs}


def slot_delays(jobs: list[dict]) -> list[tuple[float, float]]:
    """For each job end followed by a submission: (end -> next submission, its collection -> that submission)."""
    submits = sorted(j["submitted"] for j in jobs)
    delays = []
    for j in jobs:
        later = [s for s in submits if s >= j["ended"]]
        if later:
            delays.append((later[0] - j["ended"], later[0] - j["collected"]))
    return delays


def warm_up(cluster: SlurmCluster, root: Path) -> None:
    """The first job after slurmctld starts waits ~3 s for its first scheduling pass; neither run should pay it."""
    script = root / "warm.sh"
    script.write_text("#!/bin/sh\ntrue\n")
    job = cluster.cmd("sbatch", "--parsable", "--output=/dev/null", str(script)).stdout.strip()
    cluster.wait_job_state(job, {"COMPLETED"})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0, help="length of the fixed trial")
    ap.add_argument("--poll", type=float, default=1.0, help="monitor.poll_interval")
    args = ap.parse_args()
    why = missing_reason()
    if why:
        print(f"bench_slurm: cannot run: {why}")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as tmp:
        cluster = SlurmCluster(Path(tmp) / "cluster").start()
        os.environ["SLURM_CONF"] = str(cluster.conf)
        try:
            warm_up(cluster, Path(tmp))
            results = {}
            for parallel in (1, 4):
                results[parallel] = asyncio.run(run_loop(Path(tmp) / f"p{parallel}", trials=args.trials,
                                                         seconds=args.seconds, parallel=parallel, poll=args.poll))
        finally:
            cluster.stop()
    one, four = results[1], results[4]
    delays = slot_delays(one["jobs"]) + slot_delays(four["jobs"])
    to_running = [j["started"] - j["submitted"] for r in results.values() for j in r["jobs"]]
    print(f"Slurm, 4 simulated GPUs, {args.trials} trials of {args.seconds:g} s, 1 GPU each, poll {args.poll:g} s")
    print(f"  max_parallel 1: {one['per_hour']:7.0f} trials/hour  ({one['wall']:.1f} s wall)")
    print(f"  max_parallel 4: {four['per_hour']:7.0f} trials/hour  ({four['wall']:.1f} s wall)")
    print(f"  ratio 4 vs 1:   {four['per_hour'] / one['per_hour']:.2f}x   (goal: close to 4x)")
    ends = [d for d, _ in delays]
    after_collect = [c for _, c in delays]
    print(f"  job end -> next submission: median {statistics.median(ends):.3f} s, max {max(ends):.3f} s over "
          f"{len(ends)} freed slots = {statistics.median(ends) / args.poll:.2f} / {max(ends) / args.poll:.2f} "
          f"poll intervals (goal: under 1)")
    print(f"    of which collected -> submitted (reflect, think, dry-run, sbatch): median "
          f"{statistics.median(after_collect) * 1000:.0f} ms, max {max(after_collect) * 1000:.0f} ms; "
          f"the rest is waiting for the next poll")
    print(f"  submission -> running (Slurm's own scheduling): median {statistics.median(to_running):.2f} s, "
          f"max {max(to_running):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
