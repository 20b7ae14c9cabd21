"""The code snapshot's cost per trial against a plain ``cp -r`` of the same workspace.

Run: python benchmarks/bench_snapshot.py [--files 1000] [--mb 50] [--trials 5]

A workspace of FILES files holding MB megabytes in all (small source files, and a few large
binary ones that carry the bulk) is snapshotted once (the workspace's first commit, hashing
everything), then each trial runs what the controller does per trial with the local host helper:
its tree written from the base snapshot, one file edited, the tree committed with its diff, and
the tree pruned after the trial. The baseline is ``cp -r`` of the workspace to a new directory,
once per trial. Printed: the median of each, and ``snapshot: per_trial_vs_cp_ratio=X``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_researcher.backends.local import LocalBackend  # noqa: E402
from tui_researcher.config import Config  # noqa: E402
from tui_researcher.project import Project  # noqa: E402
from tui_researcher.trees import Trees  # noqa: E402
from tui_researcher.trial import Trial  # noqa: E402


def make_workspace(workspace: Path, files: int, megabytes: int) -> None:
    big = max(1, files // 20)
    small = files - big
    small_bytes = 2_000
    big_bytes = max(1, (megabytes * 1_000_000 - small * small_bytes) // big)
    for i in range(small):
        path = workspace / f"pkg{i % 25}" / f"mod{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((f"# module {i}\n" + f"VALUE_{i} = {i}\n" * 200)[:small_bytes])
    for i in range(big):
        path = workspace / "data" / f"blob{i}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(big_bytes))


async def trial_cost(trees: Trees, backend: LocalBackend, n: int) -> float:
    started = time.perf_counter()
    trial = Trial(id=f"t{n:04d}", cycle=n, run_dir=f"runs/t{n:04d}")
    await trees.prepare(trial, backend)
    tree = trees.local(trial.id, backend)
    (tree / "pkg0" / "mod0.py").write_text(f"# edited by trial {n}\n")
    await trees.snapshot(trial, backend)
    await trees.prune(trial)
    assert trial.files_changed == ["pkg0/mod0.py"], trial.files_changed
    return time.perf_counter() - started


async def main(files: int, megabytes: int, trials: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        workspace = root / "workspace"
        workspace.mkdir()
        make_workspace(workspace, files, megabytes)
        size = sum(p.stat().st_size for p in workspace.rglob("*") if p.is_file())
        print(f"workspace: {files} files, {size / 1e6:.1f} MB")
        project = Project(root, Config())
        trees = Trees(project)
        backend = LocalBackend(project.paths.workspace)
        await backend.start()
        try:
            started = time.perf_counter()
            await trees.store.workspace_code()
            print(f"first snapshot of the workspace: {time.perf_counter() - started:.3f}s (once per project)")
            snap = [await trial_cost(trees, backend, n) for n in range(1, trials + 1)]
        finally:
            await backend.close()
            project.close()
        copies = []
        for n in range(trials):
            started = time.perf_counter()
            subprocess.run(["cp", "-r", str(workspace), str(root / f"copy{n}")], check=True)
            copies.append(time.perf_counter() - started)
    s, c = statistics.median(snap), statistics.median(copies)
    print(f"per trial: snapshot (tree, edit, commit, diff, prune) {s:.3f}s  cp -r {c:.3f}s  (median of {trials})")
    print(f"snapshot: per_trial_vs_cp_ratio={s / c:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.files, args.mb, args.trials))
