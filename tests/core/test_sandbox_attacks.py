"""The attacks of issue 14 made by a training and its dry-run, each now refused: the real controller,
the real host helper, the real sandbox; the only stand-in is the training script, which is the attack."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import yaml

from tests.helpers import latest_trials
from tests.polling import wait_until
from tui_researcher.config import load_config
from tui_researcher.controller import Controller
from tui_researcher.events import StopTrial, TrialLaunched

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the namespace sandbox is Linux only")

CONTROLLER_FILES = ("researcher.db", "researcher.db-wal", "state.json", "trials.jsonl", "MEMORY_LOG.md",
                    "HUMAN_DIRECTIVE.md", "events.jsonl", "commands.jsonl", ".lock", "../PROJECT_BRIEF.md",
                    "../config.yaml")
FORGED = "FORGED-BY-THE-TRIAL"

ATTACK = textwrap.dedent('''
    import os, subprocess, sys, time
    mode, dry = sys.argv[sys.argv.index("--mode") + 1], "--dry-run" in sys.argv
    marker = sys.argv[sys.argv.index("--marker") + 1]
    def write(path, text, append=False):
        try:
            with open(path, "a" if append else "w") as f:
                f.write(text)
            return True
        except OSError as exc:
            print("refused", path, type(exc).__name__, flush=True)
            return False
    if mode == "controller":
        names = sys.argv[sys.argv.index("--files") + 1].split(",")
        workspace = os.path.dirname(names[0])
        wrote = [n for n in names if write(n, "%s\\n" % marker[::-1], append=n.endswith(".jsonl"))
                 and n.startswith(workspace)]   # outside it: read-only, or (under /tmp) the private /tmp
        runs = os.path.join(workspace, "runs", "forged.log")
        wrote += [n for n in [runs] if write(n, "x")]
        print("wrote", wrote, flush=True)
        sys.exit(1 if wrote else 0)
    if mode == "grandchild":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", marker + ("-dry" if dry else "")],
                         start_new_session=True)
        print("spawned", flush=True)
        if dry:
            sys.exit(0)
        while True:
            print("step", flush=True)
            time.sleep(0.2)
    if dry:
        print("dry-run ok"); sys.exit(0)
    if mode == "forge":
        write("eval.py", "print('val_acc=1.0')")
        write("heldout.json", "[]")
        print("val_acc=0.9999", flush=True)
    if mode == "exitjson":
        write(os.path.join(os.environ["TUI_RESEARCHER_RUN_DIR"], "exit.json"), '{"exit_code": 0}')
        print("val_acc=0.99", flush=True)
        time.sleep(0.5)
        sys.exit(3)
    if mode == "environ":
        seen = leaked = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            seen += 1
            try:
                leaked += marker.encode() in open("/proc/%s/environ" % pid, "rb").read()
            except OSError:
                pass
        print("procs_seen=%d leaked=%d own=%d" % (seen, leaked, marker in str(os.environ)), flush=True)
        print("val_acc=0.5", flush=True)
''')


def project_for(tmp_path: Path, mode: str, marker: str, *, metric: dict | None = None,
                experiment: dict | None = None) -> Path:
    project = tmp_path / "proj"
    (project / "workspace").mkdir(parents=True)
    (project / "workspace" / "attack.py").write_text(ATTACK)
    (project / "workspace" / "eval.py").write_text("print('val_acc=0.42')\n")
    (project / "workspace" / "heldout.json").write_text("[1, 2, 3]\n")
    (project / "PROJECT_BRIEF.md").write_text("# brief\nMaximise val_acc.\n")
    # absolute: a trial runs in its own tree, where these names would only be files of its own
    files = ",".join(str((project / "workspace" / name).resolve()) for name in CONTROLLER_FILES)
    cfg = {"metric": {"name": "val_acc", "goal": "max", **(metric or {})},
           "search": {"strategy": "grid", "space": {"mode": [mode]},
                      "command": f"{sys.executable} attack.py --mode {{mode}} --marker {marker} --files {files}"},
           "gpu": {"gpus_per_trial": 0}, "monitor": {"poll_interval": 0.2, "stall_timeout": 600},
           "experiment": {"max_runtime": 600, **(experiment or {})}}
    (project / "config.yaml").write_text(yaml.safe_dump(cfg))
    return project


async def run(project: Path, until=None, timeout: float = 60.0) -> Controller:
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=1)
    queue = controller.subscribe()

    async def watch():
        while (event := await queue.get()) is not None:
            if until is not None:
                await until(event, controller)

    watcher = asyncio.create_task(watch())
    await asyncio.wait_for(controller.run(), timeout)
    await asyncio.wait_for(watcher, 5)
    return controller


def processes_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes() and int(pid) != os.getpid():
                found.append(int(pid))
        except OSError:
            pass
    return found


def log_of(project: Path, tid: str = "t0001") -> str:
    return (project / "workspace" / "runs" / tid / "train.log").read_text()


async def test_a_forged_metric_line_is_not_the_metric_when_an_evaluator_is_declared(tmp_path):
    project = project_for(tmp_path, "forge", "m", metric={"evaluate": "python3 eval.py --run-dir {run_dir}",
                                                          "protected": ["*.json"]})
    await run(project)
    trial = latest_trials(project)["t0001"]
    assert "val_acc=0.9999" in log_of(project)
    assert trial["metric"] == 0.42 and trial["measured_by"] == "evaluator" and not trial["self_reported"]
    assert log_of(project).count("refused") == 2           # eval.py and the protected glob's heldout.json
    assert (project / "workspace" / "eval.py").read_text() == "print('val_acc=0.42')\n"
    assert (project / "workspace" / "heldout.json").read_text() == "[1, 2, 3]\n"


@pytest.mark.parametrize("stage", ["dry-run", "training"])
async def test_dry_run_and_training_cannot_write_any_controller_file(tmp_path, stage):
    experiment = {} if stage == "dry-run" else {"mandatory_dry_run": False}
    project = project_for(tmp_path, "controller", FORGED, experiment=experiment)
    await run(project)
    trial = latest_trials(project)["t0001"]
    assert trial["status"] == "keep" or trial["status"] == "crash"    # no metric: crash; never dry_run_failed
    assert trial["status"] != "dry_run_failed" and trial["dry_run"].get("ok", True)
    if stage == "training":
        assert trial["exit_code"] == 0 and "wrote []" in log_of(project)
    for name in CONTROLLER_FILES:
        path = project / "workspace" / name
        # reversed: the command that carries FORGED is rightly in the ledger
        assert not path.exists() or FORGED[::-1].encode() not in path.read_bytes(), name
    assert not (project / "workspace" / "runs" / "forged.log").exists()


async def test_a_forged_exit_json_then_a_nonzero_exit_is_a_crash(tmp_path):
    project = project_for(tmp_path, "exitjson", "m")
    await run(project)
    trial = latest_trials(project)["t0001"]
    assert trial["status"] == "crash" and trial["exit_code"] == 3
    sidecar = json.loads((project / "workspace" / "runs" / "t0001" / "exit.json").read_text())
    assert sidecar["exit_code"] == 3 and "refused" in log_of(project)


async def test_training_cannot_read_the_controllers_environ(tmp_path, monkeypatch):
    secret = f"sekrit-{uuid.uuid4().hex}"
    monkeypatch.setenv("TEST_PROVIDER_API_KEY", secret)      # the controller's (this process's) environment
    project = project_for(tmp_path, "environ", secret)
    await run(project)
    log = log_of(project)
    assert "leaked=0 own=0" in log and secret not in log
    assert int(log.split("procs_seen=")[1].split()[0]) <= 3    # its own namespace: init, the training


@pytest.mark.parametrize("how", ["timeout", "stop"])
async def test_a_setsid_grandchild_dies_with_its_trial(tmp_path, how):
    marker = f"grandchild-{uuid.uuid4().hex}"
    project = project_for(tmp_path, "grandchild", marker,
                          experiment={"max_runtime": 1.5 if how == "timeout" else 600})
    seen = {}

    async def until(event, controller):
        if isinstance(event, TrialLaunched):
            await wait_until(lambda: processes_with(marker + "\0") or processes_with(marker), 10, "the grandchild")
            seen["pid"] = event.pid
            seen["cmdline"] = Path(f"/proc/{event.pid}/cmdline").read_bytes()
            if how == "stop":
                controller.send(StopTrial(event.trial_id))

    await run(project, until=until)
    trial = latest_trials(project)["t0001"]
    assert trial["status"] == ("timeout" if how == "timeout" else "cancelled")
    assert b"attack.py" in seen["cmdline"] and trial["training_pid"] == seen["pid"]   # the host's pid
    await wait_until(lambda: not processes_with(marker), 5, "every process of the trial to end")
    assert not processes_with(marker + "-dry")                 # the dry-run's own grandchild died with it


async def test_a_failing_evaluator_makes_the_trial_a_crash_whatever_the_log_says(tmp_path):
    project = project_for(tmp_path, "forge", "m", metric={"evaluate": "python3 -c 'raise SystemExit(4)'"})
    await run(project)
    trial = latest_trials(project)["t0001"]
    assert "val_acc=0.9999" in log_of(project)
    assert trial["status"] == "crash" and trial["metric"] is None and trial["label"].startswith("evaluator exit 4")
