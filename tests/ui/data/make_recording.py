"""Writes ``recording/``: a loop seen mid-run, as its store would show it, for the snapshot tests.

The events are scripted rather than captured, so that one short stream exercises every pane:
two hosts (one with two GPUs, one unreachable), a worker's tool calls (one failing), a plan
and a decision, coloured and hostile log lines, usage and memory. Run it again after changing
an event type: ``python tests/ui/data/make_recording.py``. The trials, the state and the events go
into ``workspace/researcher.db`` through the project's own ``Store``, ``Ledger`` and ``State``, so
the recording is exactly what a controller would have written; the store is checkpointed and
closed, so no ``-wal``/``-shm`` file is left beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tui_researcher.backends.gpu import GpuReading
from tui_researcher.events import (MemoryChanged, MonitorSample, Notice, PhaseChanged, PlanProposed, Reflected,
                                   ToolCalled, ToolReturned, TrialLaunched, UsageChanged)
from tui_researcher.ledger import Ledger
from tui_researcher.state import State
from tui_researcher.store import Store
from tui_researcher.trial import Trial, TrialSample

HERE = Path(__file__).resolve().parent
OUT = HERE / "recording"
NOW = 1767225600.0          # the tests' frozen clock: 2026-01-01 00:00:00 UTC
STARTED = NOW - 83.0        # the running trial has run 1:23

CONFIG = """\
project:
  name: cifar-sweep
execution:
  mode: ssh
  hosts:
    - {host: gpu-a, workspace: /data/cifar}
    - {host: gpu-b, workspace: /data/cifar}
metric:
  name: val_acc
  goal: max
"""

MEMORY = """\
# Memory Log

## Key Results
- t0001: val_acc=0.912 with resnet18 lr=0.1 (baseline)
- t0003: val_acc=0.931 with lr=0.05, label smoothing 0.1

## Recent Decisions
- [01-01 00:10] t0002 crash: batch 1024 runs out of memory on a 24 GB card -> iterate
- [01-01 00:14] t0003 keep: smaller lr and label smoothing beat the baseline -> iterate
"""


def gpu(index: int, util: float, used: float, temp: float, power: float) -> GpuReading:
    return GpuReading(index=index, name="NVIDIA A100-SXM4-80GB", utilization=util, memory_used_mb=used,
                      memory_total_mb=81920.0, temperature_c=temp, power_w=power, uuid=f"GPU-{index}")


def events() -> list:
    t = NOW - 120
    out = [
        Notice(level="info", text="host gpu-a: helper ready (python 3.11.7, workspace /data/cifar)", ts=t),
        Reflected(trial_id="t0003", decision="t0003 keep: smaller lr and label smoothing beat the baseline "
                  "(val_acc 0.931 > 0.912)", next_action="iterate", ts=t + 1),
        PhaseChanged(phase="think", cycle=4, ts=t + 2),
        ToolCalled(call_id="c1", tool="read_file", args={"path": "train.py"}, trial_id="t0004", ts=t + 3),
        ToolReturned(call_id="c1", tool="read_file", ok=True, result="x" * 2345, duration_s=0.01, trial_id="t0004",
                     ts=t + 3),
        ToolCalled(call_id="c2", tool="grep", args={"pattern": "weight_decay", "path": "configs/"}, trial_id="t0004",
                   ts=t + 4),
        ToolReturned(call_id="c2", tool="grep", ok=False, result="configs/: no such directory", duration_s=0.02,
                     trial_id="t0004", ts=t + 4),
        PlanProposed(trial_id="t0004", cycle=4, hypothesis="A cosine schedule with 5 warm-up epochs lets the "
                     "higher peak lr of 0.1 converge without the early divergence seen in t0001.",
                     task="Add --schedule cosine --warmup 5 to train.py and run 30 epochs at lr 0.1.",
                     success_criteria="val_acc above 0.931 (t0003) with no NaN in the first 5 epochs",
                     worker="code", params={"lr": 0.1, "schedule": "cosine"},
                     command="python train.py --lr 0.1 --schedule cosine --warmup 5 --epochs 30", ts=t + 5),
        PhaseChanged(phase="execute", cycle=4, ts=t + 6),
        ToolCalled(call_id="c3", tool="edit_file", args={"path": "train.py", "old": "sched = None",
                                                         "new": "sched = CosineAnnealingLR(opt, T_max=epochs)"},
                   trial_id="t0004", ts=t + 7),
        ToolReturned(call_id="c3", tool="edit_file", ok=True, result="1 replacement", duration_s=0.01,
                     trial_id="t0004", ts=t + 7),
        ToolCalled(call_id="c4", tool="dry_run", args={"argv": ["python", "train.py", "--dry-run"]},
                   trial_id="t0004", ts=t + 8),
        ToolReturned(call_id="c4", tool="dry_run", ok=True, result="dry-run ok: 2 batches, loss 2.30",
                     duration_s=3.21, trial_id="t0004", ts=t + 11),
        TrialLaunched(trial_id="t0004", host="gpu-a", pid=4242, log_path="/data/cifar/runs/t0004/train.log",
                      command="python train.py --lr 0.1 --schedule cosine --warmup 5 --epochs 30", gpus=(0,),
                      ts=STARTED),
        PhaseChanged(phase="monitor", cycle=4, ts=STARTED + 0.1),
        UsageChanged(input_tokens=40110, output_tokens=8103, usd=0.37, usd_today=0.37, tokens_today=48213,
                     ts=STARTED + 0.2),
        MemoryChanged(text=MEMORY, ts=STARTED + 0.3),
        MonitorSample(host="gpu-b", reachable=False, gpu_error="TimeoutError: no answer in 10s", ts=STARTED + 1),
    ]
    utils = [0, 12, 64, 88, 93, 95, 94, 96]
    lines = [
        "\x1b[1mEpoch 1/30\x1b[0m",
        "train: 100%|██████████| 391/391 [00:09<00:00, 41.2it/s]",
        "\x1b[32mval_acc=0.612\x1b[0m loss=1.104 lr=0.0200",
        "\x1b[1mEpoch 2/30\x1b[0m",
        "train:  50%|█████     | 196/391\rtrain: 100%|██████████| 391/391 [00:09<00:00, 42.0it/s]",
        "\x1b[32mval_acc=0.744\x1b[0m loss=0.781 lr=0.0400",
        "\x1b[33mwarning:\x1b[0m grad norm 14.2 clipped to 5.0",
        "\x1b[2J\x1b[H\x1b]0;pwned\x07evil line: cleared the screen?\x1b[10;10H",
        "\x1b[1mEpoch 3/30\x1b[0m",
        "\x1b[32mval_acc=0.803\x1b[0m loss=0.622 lr=0.0600",
    ]
    for k, util in enumerate(utils):
        ts = STARTED + 10 * (k + 1)
        new = lines[k * len(lines) // len(utils):(k + 1) * len(lines) // len(utils)]
        out.append(MonitorSample(
            host="gpu-a", gpus=(gpu(0, util, 1200 + util * 400, 40 + util * 0.4, 60 + util * 3),
                                gpu(1, 0, 412, 31, 58)),
            trials=(TrialSample("t0004", alive=True, elapsed_s=ts - STARTED, log_bytes=900 * (k + 1)),),
            lines=tuple(("t0004", line) for line in new), ts=ts))
    out.append(Notice(level="info", text="t0004 running on gpu-a GPU 0", ts=NOW - 1))
    return out


def trials() -> list[Trial]:
    base = NOW - 3600
    return [
        Trial(id="t0001", cycle=1, hypothesis="baseline: resnet18, lr 0.1, batch 256", status="keep", metric=0.912,
              started=base, ended=base + 1510, duration=1510.0, host="gpu-a", gpus=[0],
              decision="t0001 keep: baseline established"),
        Trial(id="t0002", cycle=2, hypothesis="a larger batch (1024) with lr scaled linearly to 0.4",
              status="crash", label="CUDA out of memory", started=base + 1600, ended=base + 1642, duration=42.0,
              host="gpu-a", gpus=[0], exit_code=1),
        Trial(id="t0003", cycle=3, hypothesis="lr 0.05 with label smoothing 0.1", status="keep", metric=0.931,
              started=base + 1700, ended=base + 3300, duration=1600.0, host="gpu-a", gpus=[1],
              decision="t0003 keep: smaller lr and label smoothing beat the baseline"),
        Trial(id="t0004", cycle=4, hypothesis="A cosine schedule with 5 warm-up epochs lets the higher peak lr "
              "of 0.1 converge without the early divergence seen in t0001.", status="running", started=STARTED,
              host="gpu-a", gpus=[0], pid=4242),
    ]


def state() -> dict:
    return {
        "phase": "monitor", "cycle": 4, "next_trial": 5, "paused": False, "pivot": "",
        "running": {"t0004": {"host": "gpu-a", "gpus": [0], "run_dir": "runs/t0004", "pid": 4242,
                              "start_time": "123456", "log_path": "/data/cifar/runs/t0004/train.log",
                              "log_offset": 7200, "started": STARTED}},
        "best_trial": "t0003", "best_metric": 0.931, "last_decision": "t0003 keep", "no_progress": 0,
        "usage": {"input_tokens": 40110, "output_tokens": 8103, "cache_read_tokens": 0, "cache_write_tokens": 0,
                  "usd": 0.37, "day": "2026-01-01", "usd_today": 0.37, "tokens_today": 48213},
        "controller_pid": None, "updated": NOW,
    }


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    workspace = OUT / "workspace"
    workspace.mkdir(parents=True)
    (OUT / "config.yaml").write_text(CONFIG)
    (OUT / "PROJECT_BRIEF.md").write_text("# CIFAR-10 sweep\n\nMaximise val_acc of a ResNet-18.\n")
    (workspace / "MEMORY_LOG.md").write_text(MEMORY)
    store = Store(workspace / "researcher.db")
    ledger = Ledger(store)
    with store.transaction():
        for trial in trials():
            ledger.record(trial, "launched" if trial.active else "finished")
        State.from_dict(state()).save(store)
        for event in events():
            store.append_event(event.to_dict(), event.ts)
    store.query("PRAGMA wal_checkpoint(TRUNCATE)")
    store.query("VACUUM")
    store.close()


if __name__ == "__main__":
    main()
