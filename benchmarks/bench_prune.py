"""Trials per hour with and without ``monitor.prune: median``, on a sample where half the
configurations are hopeless.

Run: python benchmarks/bench_prune.py [--trials 12] [--epochs 20] [--epoch-s 0.15]

The same grid (good and hopeless curves alternating, the hopeless ones first learning nothing) runs
twice on this machine with the offline planner and real subprocesses: once with pruning off, once
with it on. Printed: wall time, trials/hour, and the ratio of the two, plus the best metric each
found (pruning must not lose the best). Ratios only: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import make_project  # noqa: E402
from tui_researcher.config import load_config  # noqa: E402
from tui_researcher.controller import Controller  # noqa: E402
from tui_researcher.events import TrialFinished  # noqa: E402

JOB = textwrap.dedent('''
    import argparse, sys, time
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode"); ap.add_argument("--score", type=float); ap.add_argument("--seconds")
    ap.add_argument("--epochs", type=int); ap.add_argument("--epoch-s", type=float)
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    if a.dry_run:
        sys.exit(0)
    for e in range(1, a.epochs + 1):
        acc = a.score * (1 - 0.5 ** e) if a.mode == "good" else 0.1 + 0.001 * e
        print(f"epoch={e}/{a.epochs} loss={1 - acc:.4f} val_acc={acc:.4f}", flush=True)
        time.sleep(a.epoch_s)
    print(f"val_acc={acc:.4f}", flush=True)
''')


async def run(root: Path, trials: int, epochs: int, epoch_s: float, prune: bool) -> tuple[float, int, float]:
    scores = [round(0.80 + 0.01 * i, 2) for i in range(trials // 2)]
    project = make_project(root, modes=["good", "bad"], scores=scores, extra={
        "monitor": {"poll_interval": 0.25, "prune": "median" if prune else "none", "prune_warmup": 2,
                    "prune_min_trials": 2},
        "search": {"command": f"{sys.executable} job.py --mode {{mode}} --score {{score}} --epochs {epochs} "
                              f"--epoch-s {epoch_s}",
                   "space": {"score": scores, "mode": ["good", "bad"]}}})
    (project / "workspace" / "job.py").write_text(JOB)
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=trials)
    queue = controller.subscribe()
    started = time.monotonic()
    task = asyncio.create_task(controller.run())
    done, best = 0, float("-inf")
    while (event := await queue.get()) is not None:
        if isinstance(event, TrialFinished):
            done += 1
            if event.metric is not None and event.status != "pruned":
                best = max(best, event.metric)
    await task
    return time.monotonic() - started, done, best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--epoch-s", type=float, default=0.15)
    args = ap.parse_args()
    results = {}
    for prune in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            results[prune] = asyncio.run(run(Path(tmp), args.trials, args.epochs, args.epoch_s, prune))
    for prune, (wall, done, best) in results.items():
        print(f"prune={'median' if prune else 'none':6}  trials={done:3d}  wall={wall:7.1f}s  "
              f"trials/hour={done / wall * 3600:8.0f}  best val_acc={best:.4f}")
    (w0, n0, b0), (w1, n1, b1) = results[False], results[True]
    print(f"ratio trials/hour (median / none) = {(n1 / w1) / (n0 / w0):.2f}   best kept: {b1 >= b0}")


if __name__ == "__main__":
    main()
