"""Several trials at once, each on GPUs that were free when it launched (local backend, fake nvidia-smi)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tui_researcher.backends.local import LocalBackend
from tui_researcher.config import load_config
from tui_researcher.controller import Controller
from tui_researcher.events import TrialLaunched

from tests.helpers import latest_trials, make_project, max_concurrency, put_on_path

# index, name, util, mem used, mem total, temp, power, uuid: GPU 2 is busy with someone else's job
FAKE_SMI = """#!/bin/sh
cat <<'CSV'
0, NVIDIA A100-SXM4-80GB, 0, 3, 81920, 31, 62.1, GPU-0000
1, NVIDIA A100-SXM4-80GB, 0, 3, 81920, 30, 60.4, GPU-1111
2, NVIDIA A100-SXM4-80GB, 97, 61234, 81920, 74, 390.0, GPU-2222
3, NVIDIA A100-SXM4-80GB, [N/A], 5, 81920, [N/A], [Not Supported], GPU-3333
CSV
"""


def fake_gpus(tmp_path: Path, monkeypatch) -> None:
    put_on_path(tmp_path, monkeypatch, "nvidia-smi", FAKE_SMI)


def overlaps(trials: list[dict]) -> list[tuple[str, str]]:
    pairs = []
    for i, a in enumerate(trials):
        for b in trials[i + 1:]:
            if a["started"] < b["ended"] and b["started"] < a["ended"]:
                pairs.append((a["id"], b["id"]))
    return pairs


async def run(project: Path, max_cycles: int, backends=None) -> tuple[Controller, list]:
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=max_cycles, backends=backends)
    queue = controller.subscribe()
    events = []

    async def collect():
        while (event := await queue.get()) is not None:
            events.append(event)

    task = asyncio.create_task(collect())
    await asyncio.wait_for(controller.run(), 90)
    await task
    return controller, events


async def test_parallel_trials_never_share_a_gpu_or_take_a_busy_one(tmp_path: Path, monkeypatch):
    fake_gpus(tmp_path, monkeypatch)
    # 3 s trials: three dispatches (dry-run and launch, each in its sandbox) fit in one even on a busy machine
    project = make_project(tmp_path, modes=["sleep"], seconds=3.0, scores=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                           extra={"experiment": {"max_parallel": 4}, "gpu": {"gpus_per_trial": 1}})
    controller, events = await run(project, 6)
    trials = [t for t in latest_trials(project).values()]
    assert len(trials) == 6 and all(t["metric"] is not None for t in trials), [(t["id"], t["status"], t["label"]) for t in trials]
    used = {t["id"]: t["gpus"] for t in trials}
    assert all(len(g) == 1 and g[0] != 2 for g in used.values()), used
    for a, b in overlaps(trials):
        assert used[a] != used[b], f"{a} and {b} ran at once on GPU {used[a]}"
    # three free GPUs (0, 1, 3): max_parallel 4 still runs at most three at once
    assert max_concurrency(trials) == 3
    launches = [e for e in events if isinstance(e, TrialLaunched)]
    for e in launches:
        log = (project / "workspace" / "runs" / e.trial_id / "train.log").read_text()
        assert e.gpus and f"cuda={e.gpus[0]}" in log  # the trial saw only the GPU it was given
    waiting = [e for e in events if getattr(e, "phase", "") == "waiting for GPU"]
    assert waiting, "the fourth slot must wait for a GPU, visibly"


async def test_reserve_last_keeps_the_last_gpu_free(tmp_path: Path, monkeypatch):
    fake_gpus(tmp_path, monkeypatch)
    project = make_project(tmp_path, modes=["sleep"], seconds=0.6, scores=[0.1, 0.2, 0.3, 0.4],
                           extra={"experiment": {"max_parallel": 4}, "gpu": {"gpus_per_trial": 1, "reserve_last": True}})
    await run(project, 4)
    used = {g for t in latest_trials(project).values() for g in t["gpus"]}
    assert used <= {0, 1} and 3 not in used and 2 not in used


async def test_trials_spread_over_two_hosts(tmp_path: Path):
    project = make_project(tmp_path, modes=["sleep"], seconds=0.8, scores=[0.1, 0.2, 0.3, 0.4],
                           extra={"experiment": {"max_parallel": 2}})
    second = tmp_path / "second-host"
    second.mkdir()
    (second / "job.py").write_text((project / "workspace" / "job.py").read_text())
    backends = [LocalBackend(project / "workspace", name="gpu-a"), LocalBackend(second, name="gpu-b")]
    await run(project, 4, backends=backends)
    trials = latest_trials(project)
    hosts = {t["host"] for t in trials.values()}
    assert hosts == {"gpu-a", "gpu-b"}
    assert all(t["metric"] is not None for t in trials.values())


def test_run_gpu_restricts_trials_to_those_gpus(tmp_path: Path, monkeypatch):
    """`run --gpu 1,3` on the real CLI: every trial gets GPU 1 or 3 (2 is busy anyway), never 0."""
    from tests.helpers import cli

    fake_gpus(tmp_path, monkeypatch)
    project = make_project(tmp_path, modes=["ok"], scores=[0.1, 0.2, 0.3], extra={"gpu": {"gpus_per_trial": 1}})
    assert "--gpu: expected GPU indices" in cli("run", str(project), "--no-ui", "--gpu", "0,x").stderr
    assert not (project / "workspace" / "researcher.db").exists()
    cli("run", str(project), "--no-ui", "--max-cycles", "3", "--gpu", "1,3", check=True)
    trials = latest_trials(project).values()
    assert len(trials) == 3 and all(t["gpus"] in ([1], [3]) for t in trials)
    for t in trials:
        log = (project / "workspace" / t["run_dir"] / "train.log").read_text()
        assert f"cuda={t['gpus'][0]}" in log


def test_gpu_only_narrows_a_hosts_own_gpus_key(tmp_path: Path):
    from tui_researcher.backends import only_gpus
    from tui_researcher.backends.ssh import SSHBackend
    from tui_researcher.config import HostConfig

    free, pinned = LocalBackend(tmp_path), SSHBackend(HostConfig(host="gpu-a", gpus=[2, 3]), project_name="p")
    only_gpus([free, pinned], [1, 3])
    assert free.allowed_gpus == [1, 3] and pinned.allowed_gpus == [3]
