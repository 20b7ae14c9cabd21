"""Early stops by the monitor, zero LLM: a NaN seen in the log, a curve worse than the median."""

from __future__ import annotations

import io
import os
import re
import textwrap
from pathlib import Path

from tui_researcher.headless import format_event
from tui_researcher.status import print_summary, summary, where
from tui_researcher.events import MonitorSample, Notice, TrialFinished, TrialLaunched

from tests.core.test_loop import run_controller
from tests.helpers import latest_trials, make_project, pid_alive

CURVES = textwrap.dedent('''
    """Epochs with a loss and val_acc; --mode picks the curve and the pace."""
    import argparse, sys, time
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="good")
    ap.add_argument("--seconds", type=float, default=0.0)
    ap.add_argument("--score", type=float, default=0.5)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    if a.dry_run:
        print("dry-run ok"); sys.exit(0)
    if a.mode == "nan":   # NaN at epoch 2 of a 60 s trial
        print("epoch=1 loss=0.9", flush=True); print("epoch=2 loss: nan", flush=True)
        time.sleep(60); print("val_acc=0.9"); sys.exit(0)
    if a.mode == "slow":   # says its total itself, as Epoch 3/40
        for e in range(1, 41):
            print(f"Epoch {e}/40 loss={1 / e:.3f}", flush=True); time.sleep(0.1)
        print("val_acc=0.7"); sys.exit(0)
    for e in range(1, (a.epochs if a.mode == "good" else 40) + 1):
        acc = 0.5 + 0.04 * e if a.mode == "good" else 0.2 + 0.001 * e
        print(f"epoch={e} loss={1 / e:.3f} val_acc={acc:.3f}", flush=True)
        time.sleep(0.01 if a.mode == "good" else 0.5)
    print(f"val_acc={acc:.3f}", flush=True)
''')


def curves_project(tmp_path: Path, modes: list[str], extra: dict | None = None) -> Path:
    project = make_project(tmp_path, modes=modes, extra=extra)
    (project / "workspace" / "job.py").write_text(CURVES)
    return project


async def test_nan_at_epoch_two_stops_the_trial_within_one_poll_and_its_group_is_gone(tmp_path: Path):
    project = curves_project(tmp_path, ["nan"], {"monitor": {"poll_interval": 0.3}})
    code, events, _ = await run_controller(project, max_cycles=1)
    [launch] = [e for e in events if isinstance(e, TrialLaunched)]
    [finished] = [e for e in events if isinstance(e, TrialFinished)]
    assert code == 0 and finished.status == "nan"
    assert finished.label.startswith("loss became nan at epoch 2")
    saw_nan = next(i for i, e in enumerate(events)
                   if isinstance(e, MonitorSample) and any("nan" in text for _, text in e.lines))
    stopping = next(i for i, e in enumerate(events) if isinstance(e, Notice) and e.text.startswith("stopping t0001"))
    assert stopping < saw_nan, "the kill was sent in the poll that read the NaN"
    assert not [e for e in events[stopping:saw_nan] if isinstance(e, MonitorSample)]
    assert not pid_alive(launch.pid)
    try:
        os.killpg(launch.pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError("the trial's process group survived")
    trial = latest_trials(project)["t0001"]
    assert trial["training_pid"] and not pid_alive(trial["training_pid"])
    assert trial["curve"]["unit"] == "epoch"


async def test_median_pruning_stops_the_hopeless_curve_with_its_numbers(tmp_path: Path):
    project = curves_project(tmp_path, ["good", "bad"], {
        "monitor": {"poll_interval": 0.2, "prune": "median", "prune_warmup": 2, "prune_min_trials": 3},
        "search": {"space": {"mode": ["good", "bad"], "score": [0.1, 0.2, 0.3]}}})
    code, events, _ = await run_controller(project, max_cycles=4, timeout=90)
    finished = [e for e in events if isinstance(e, TrialFinished)]
    trials = latest_trials(project)
    assert [trials[e.trial_id]["params"]["mode"] for e in finished] == ["good"] * 3 + ["bad"]
    assert [str(e.status) for e in finished] == ["keep", "discard", "discard", "pruned"]
    label = finished[3].label
    m = re.fullmatch(r"val_acc (\S+) \(its best by epoch (\d+)\) is worse than the median (\S+) of 3 finished "
                     r"trials at epoch \2 \(monitor.prune: median\)", label)
    assert m, label
    epoch = int(m.group(2))
    assert epoch >= 2 and float(m.group(1)) == round(0.2 + 0.001 * epoch, 3)
    assert float(m.group(3)) == round(0.5 + 0.04 * epoch, 3)
    assert trials[finished[3].trial_id]["status"] == "pruned"
    assert all(len(trials[e.trial_id]["curve"]["points"]) == 11 for e in finished[:3])


async def test_progress_reaches_the_headless_line_and_status(tmp_path: Path):
    project = curves_project(tmp_path, ["slow"], {"monitor": {"poll_interval": 0.2}})
    seen_status = []

    async def until(event, controller):
        if isinstance(event, MonitorSample) and any(t.progress for t in event.trials) and not seen_status:
            seen_status.append(summary(where(project, None)))

    code, events, _ = await run_controller(project, max_cycles=1, until=until)
    lines = [line for e in events if isinstance(e, MonitorSample) for line in format_event(e)]
    shown = [line for line in lines if "MONITOR" in line and "progress=" in line]
    assert shown and re.search(r"progress=\d+/40 eta=\d+:\d\d ", shown[-1]), shown[-1:]
    [running] = seen_status[0]["running"]
    assert running["progress"]["total"] == 40 and running["progress"]["unit"] == "epoch"
    out = io.StringIO()
    print_summary(seen_status[0], out)
    assert re.search(r"running   t0001 .* progress=\d+/40", out.getvalue()), out.getvalue()
