"""Helpers the tests share: projects to run, the real CLI, bounded waits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import yaml

from tui_researcher.backends.helper import pid_alive  # noqa: F401  (the package's one check, for the tests)

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_projects" / "spirals"


JOB = textwrap.dedent('''
    """A training stand-in whose behaviour the test picks with --mode."""
    import argparse, os, sys, time
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("--score", type=float, default=0.5)
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    if a.dry_run:
        print("dry-run ok"); sys.exit(1 if a.mode == "baddry" else 0)
    env = os.environ.get
    print("starting", a.mode, "cuda=" + env("CUDA_VISIBLE_DEVICES", "-"), "gpus=" + env("SLURM_JOB_GPUS", "-"),
          "job=" + env("SLURM_JOB_ID", "-"), flush=True)
    if a.mode == "crash":
        raise RuntimeError("CUDA out of memory (simulated)")
    if a.mode == "nan":
        print("epoch=1 loss=0.9", flush=True); print("epoch=2 loss: nan", flush=True); sys.exit(0)
    if a.mode == "json":
        import json
        with open(os.path.join(os.environ["TUI_RESEARCHER_RUN_DIR"], "results.json"), "w") as f:
            json.dump({"eval": {"val_acc": a.score}}, f)
        with open("results.json", "w") as f:   # a copy outside the run directory must be ignored
            json.dump({"eval": {"val_acc": 99.0}}, f)
        sys.exit(0)
    if a.mode == "hang":
        time.sleep(3600)
    if a.mode in ("sleep", "wait"):   # wait: also until a file named "release" appears
        end = time.time() + a.seconds
        i = 0
        while time.time() < end or (a.mode == "wait" and not os.path.exists("release")):
            i += 1
            print(f"step={i} loss={1.0 / i:.4f}", flush=True)
            time.sleep(0.2)
    print(f"val_acc={a.score}", flush=True)
''')


def make_project(root: Path, *, modes: list, extra: dict | None = None, seconds: float = 0.0,
                 scores: list | None = None) -> Path:
    """A project whose trials run tests' job.py with each --mode in turn (grid search)."""
    project = root / "proj"
    (project / "workspace").mkdir(parents=True)
    (project / "workspace" / "job.py").write_text(JOB)
    (project / "PROJECT_BRIEF.md").write_text("# Test brief\nMaximise val_acc.\n")
    cfg = {
        "metric": {"name": "val_acc", "goal": "max"},
        "search": {"strategy": "grid", "command": f"{sys.executable} job.py --mode {{mode}} --seconds {seconds} --score {{score}}",
                   "space": {"mode": modes, "score": scores or [0.5]}},
        "gpu": {"gpus_per_trial": 0},
        "monitor": {"poll_interval": 0.2, "stall_timeout": 600},
        "experiment": {"max_runtime": 600},
    }
    for section, values in (extra or {}).items():
        cfg.setdefault(section, {}).update(values)
    (project / "config.yaml").write_text(yaml.safe_dump(cfg))
    return project


def cli(*args: str, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess."""
    proc = subprocess.run([sys.executable, "-m", "tui_researcher.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def start_cli(*args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tui_researcher.cli", *args], stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
                            env=None if env is None else {**os.environ, **env})


def _store(project: Path):
    from tui_researcher.store import Store

    path = project / "workspace" / "researcher.db"
    return Store.reader(path) if path.exists() else None


def read_ledger(project: Path) -> list[dict]:
    """The ledger's audit trail, oldest first: one {"id", "event"} per record the controller wrote."""
    store = _store(project)
    if store is None:
        return []
    try:
        return [{"id": tid, "event": event} for tid, event in
                store.query("SELECT trial_id, event FROM trial_events ORDER BY rowid")]
    finally:
        store.close()


def read_state(project: Path) -> dict:
    """The controller's state as it is on disk now ({} before the first save), running trials as dicts."""
    from tui_researcher.state import State

    store = _store(project)
    if store is None:
        return {}
    try:
        fields, running = store.load_state()
        return State.from_dict({**fields, "running": running}).to_dict() if fields else {}
    finally:
        store.close()


def edit_state(project: Path, **changes) -> None:
    """Change the stored state as a user's tool would between two runs (no controller running)."""
    from tui_researcher.state import State

    store = _store(project)
    try:
        state = State.load(store)
        for key, value in changes.items():
            setattr(state, key, value)
        state.save(store)
    finally:
        store.close()


def latest_trials(project: Path) -> dict[str, dict]:
    """Every trial's current record, with its tool calls (a stream of their own in the store)."""
    store = _store(project)
    if store is None:
        return {}
    try:
        return {r["id"]: {**r, "tool_calls": store.tool_calls(r["id"])} for r in store.iter_trials()}
    finally:
        store.close()


def release(workspace: Path) -> None:
    """Let every `--mode wait` job end: the release file in the workspace and in each trial's own tree (the
    training runs there, in a sandbox whose private /tmp hides the rest of a workspace under /tmp)."""
    for where in [workspace, *(workspace / ".tui-researcher" / "trees").glob("*")]:
        if where.is_dir():
            (where / "release").write_text("")


def record_events(controller) -> tuple[list, "asyncio.Task"]:
    """Every event the controller emits, in order, into a list; the task ends when the controller closes its bus."""
    import asyncio

    seen: list = []
    queue = controller.subscribe()

    async def watch() -> None:
        while (event := await queue.get()) is not None:
            seen.append(event)

    return seen, asyncio.create_task(watch())


def put_on_path(tmp_path: Path, monkeypatch, name: str, script: str) -> Path:
    """An executable ``name`` (a fake nvidia-smi, say) in ``tmp_path/bin``, first on this test's PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(script)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return tool


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll a condition with a bound; the tests' only waiting primitive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, 9)
    except (ProcessLookupError, PermissionError):
        pass


def max_concurrency(trials: list[dict]) -> int:
    """The most trials running at one moment, from their ledger start and end times."""
    edges = sorted([(t["started"], 1) for t in trials] + [(t["ended"], -1) for t in trials],
                   key=lambda e: (e[0], e[1]))
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most
