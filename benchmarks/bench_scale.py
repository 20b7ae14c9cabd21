"""Flat costs at 100,000 trials: what a month of 24/7 runs costs per cycle, against the same run at 100.

Run: python benchmarks/bench_scale.py [--quick]

Builds projects of 100, 1,000, 10,000 and 100,000 trials through the project's own store (the
same records a real run writes: planned, dry-run with its output, launched, finished, reflected),
then, for each, runs the real controller with the offline planner for a few cycles in a child
process and measures:
- controller CPU per cycle (between THINKs, the child's own CPU: no training in it);
- trial end -> next launch (wall, median);
- the controller's peak RSS;
- store bytes per trial;
- `tui-researcher status` wall time (a fresh process, best of 3);
- the app (attached): first frame, and opening the trials view (Pilot), medians of 3 fresh processes.
Figures are compared as ratios of the largest size over 100, in the same run (the machine is
noisy). ``--quick`` stops at 10,000. The last line is the one to compare:
``scale: cycle_cpu_ratio=X launch_gap_ratio=Y status_s=Z rss_mb=R bytes_per_trial=B view_open_s=V``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

CYCLES = 6
LR = [round(0.0001 * (i + 1), 6) for i in range(400)]
HIDDEN = list(range(4, 404))
JOB = """import argparse, sys
p = argparse.ArgumentParser(); p.add_argument('--lr', type=float); p.add_argument('--hidden', type=int)
p.add_argument('--dry-run', action='store_true'); a = p.parse_args()
if a.dry_run:
    print('dry-run ok'); sys.exit(0)
for epoch in range(3):
    print(f'epoch={epoch} loss={1 / (epoch + 1):.3f}')
print(f'val_acc={0.5 + (a.hidden % 97) / 1000 + a.lr:.5f}')
"""


def make(root: Path, trials: int) -> Path:
    project = root / f"p{trials}"
    (project / "workspace").mkdir(parents=True)
    (project / "workspace" / "job.py").write_text(JOB)
    (project / "PROJECT_BRIEF.md").write_text("# Scale\nMaximise val_acc.\n")
    (project / "config.yaml").write_text(yaml.safe_dump({
        "project": {"name": f"scale{trials}"}, "metric": {"name": "val_acc", "goal": "max"},
        "search": {"strategy": "best_neighbour", "command": f"{sys.executable} job.py --lr {{lr}} --hidden {{hidden}}",
                   "space": {"lr": LR, "hidden": HIDDEN}, "exploration": 0.2},
        "gpu": {"gpus_per_trial": 0}, "monitor": {"poll_interval": 0.2, "stall_timeout": 600},
        "experiment": {"max_runtime": 600, "max_parallel": 1}}))
    fill(project, trials)
    return project


def fill(project: Path, trials: int) -> None:
    """The records a real run of ``trials`` trials leaves, written through the project's own store."""
    from tui_researcher.config import load_config
    from tui_researcher.project import Project
    from tui_researcher.trial import Trial, TrialStatus

    p = Project(project, load_config(project / "config.yaml"))
    rng = random.Random(trials)
    best = None
    with p.store.transaction():
        for i in range(1, trials + 1):
            tid = f"t{i:04d}"
            params = {"lr": LR[(i - 1) % len(LR)], "hidden": HIDDEN[(i - 1) // len(LR) % len(HIDDEN)]}
            argv = [sys.executable, "job.py", "--lr", str(params["lr"]), "--hidden", str(params["hidden"])]
            t = Trial(id=tid, cycle=i, hypothesis="refine the best: move lr", task="train", command=" ".join(argv),
                      argv=argv, params=params, run_dir=f"runs/{tid}", success_criteria="val_acc above the best")
            p.ledger.record(t, "planned")
            t.dry_run = {"argv": [*argv, "--dry-run"], "exit_code": 0, "ok": True, "duration": 0.05}
            p.ledger.dry_run_output(t, {**t.dry_run, "output": "dry-run ok\n"})
            p.ledger.record(t, "dry_run")
            t.status, t.host, t.pid, t.start_time, t.log_path = TrialStatus.RUNNING, "local", 1000 + i, "123", \
                f"runs/{tid}/train.log"
            t.started = time.time() - 60
            p.ledger.record(t, "launched")
            metric = round(rng.uniform(0.5, 0.99), 5)
            keep = best is None or metric > best
            best = metric if keep else best
            t.status, t.metric, t.metrics = (TrialStatus.KEEP if keep else TrialStatus.DISCARD), metric, {"val_acc": metric}
            t.ended, t.exit_code, t.duration = time.time(), 0, 60.0
            p.ledger.record(t, "finished")
            t.decision = f"{tid} discard: val_acc={metric} did not beat the best"
            p.ledger.record(t, "reflected")
            if keep:
                p.state.best_trial, p.state.best_metric = tid, metric
        p.state.cycle, p.state.next_trial = trials, trials + 1
        p.save_state()
    p.store.query("PRAGMA wal_checkpoint(TRUNCATE)")
    p.close()


def store_bytes(project: Path) -> int:
    ws = project / "workspace"
    return sum(f.stat().st_size for f in ws.glob("researcher.db*"))


# the child process: the real controller for a few cycles --------------------------------------------

async def drive(project: Path, cycles: int) -> dict:
    from tui_researcher.config import load_config
    from tui_researcher.controller import Controller
    from tui_researcher.events import Phase, PhaseChanged, TrialFinished, TrialLaunched

    config = load_config(project / "config.yaml")
    controller = Controller(project, config, max_cycles=controller_cycles(project) + cycles)
    thinks, finished, gaps = [], None, []
    queue = controller.subscribe()
    task = asyncio.create_task(controller.run())
    while (event := await queue.get()) is not None:
        if isinstance(event, PhaseChanged) and event.phase == Phase.THINK:
            thinks.append(time.process_time())
        elif isinstance(event, TrialFinished):
            finished = event.ts
        elif isinstance(event, TrialLaunched) and finished is not None:
            gaps.append(event.ts - finished)
    await task
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"cycle_cpu": (thinks[-1] - thinks[0]) / (len(thinks) - 1), "launch_gap": statistics.median(gaps),
            "rss_mb": rss, "thinks": len(thinks)}


def controller_cycles(project: Path) -> int:
    from tui_researcher.state import State
    from tui_researcher.store import Store

    store = Store.reader(project / "workspace" / "researcher.db")
    cycle = State.load(store).cycle
    store.close()
    return cycle


async def app_times(project: Path) -> dict:
    """First frame of an attached app, and how long the trials view takes to show the rows it opens on."""
    from tui_researcher.config import load_config
    from tui_researcher.ui.app import ResearcherApp
    from tui_researcher.ui.screens.trials import TrialsScreen
    from tui_researcher.ui.source import FileSource

    config = load_config(project / "config.yaml")
    began = time.perf_counter()
    app = ResearcherApp(FileSource(project, config, follow=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        first = time.perf_counter() - began
        opened = time.perf_counter()
        await pilot.press("t")
        while not (isinstance(app.screen, TrialsScreen) and trials_shown(app.screen)):
            await pilot.pause(0.01)
            if time.perf_counter() - opened > 120:
                raise SystemExit("the trials view did not show its rows in 120 s")
        view = time.perf_counter() - opened
    return {"first_frame_s": first, "view_open_s": view}


def trials_shown(screen) -> bool:
    """Rows visible: the virtual table knows the count and every row on screen has arrived (no placeholder)."""
    from tui_researcher.ui.widgets.trials_table import TrialsTable

    table = screen.query_one(TrialsTable)
    rows = table.visible_trials()
    return table.count > 0 and bool(rows) and all(rows)


def child(args: argparse.Namespace) -> None:
    project = Path(args.child)
    out = asyncio.run(drive(project, CYCLES)) if args.what == "loop" else asyncio.run(app_times(project))
    print(json.dumps(out))


def run_child(project: Path, what: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", str(project), "--what", what],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"{what} at {project.name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def app_median(project: Path, runs: int = 3) -> dict:
    """The app's figures, each the median over fresh processes: one open is a single sample on a noisy machine."""
    samples = [run_child(project, "app") for _ in range(runs)]
    return {key: statistics.median(sample[key] for sample in samples) for key in samples[0]}


def status_seconds(project: Path) -> float:
    times = []
    for _ in range(3):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tui_researcher.cli", "status", str(project)], check=True,
                       capture_output=True, timeout=60)
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="stop at 10,000 trials (ratios 10,000 over 100)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--what", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    sizes = [100, 1_000, 10_000] if args.quick else [100, 1_000, 10_000, 100_000]
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        for n in sizes:
            began = time.perf_counter()
            project = make(Path(tmp), n)
            built = time.perf_counter() - began
            row = {"build_s": built, "bytes_per_trial": store_bytes(project) / n}
            row.update(run_child(project, "loop"))
            row["status_s"] = status_seconds(project)
            row.update(app_median(project))
            rows[n] = row
            print(f"{n:>7} trials: cycle CPU {row['cycle_cpu'] * 1000:7.1f} ms  end->launch {row['launch_gap']:.3f} s  "
                  f"status {row['status_s']:.3f} s  RSS {row['rss_mb']:5.1f} MiB  {row['bytes_per_trial']:6.0f} B/trial  "
                  f"app first frame {row['first_frame_s']:.2f} s  trials view {row['view_open_s']:.2f} s  "
                  f"(built in {built:.1f} s)", flush=True)
    small, big = rows[sizes[0]], rows[sizes[-1]]
    print(f"scale: cycle_cpu_ratio={big['cycle_cpu'] / small['cycle_cpu']:.2f} "
          f"launch_gap_ratio={big['launch_gap'] / small['launch_gap']:.2f} status_s={big['status_s']:.3f} "
          f"rss_mb={big['rss_mb']:.1f} bytes_per_trial={big['bytes_per_trial']:.0f} view_open_s={big['view_open_s']:.2f}")


if __name__ == "__main__":
    main()
