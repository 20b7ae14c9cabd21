"""The real `tui-researcher run` on the sample project, in a real terminal (tmux), driven by keys.

Skipped only where tmux is missing, and never when REQUIRE_TMUX=1 (CI installs tmux).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SAMPLE, read_state, wait_for

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.tmux


@pytest.fixture
def tmux(tmp_path: Path):
    """A private tmux server (its own socket), killed at the end whatever happens."""
    if shutil.which("tmux") is None:
        if os.environ.get("REQUIRE_TMUX") == "1":
            pytest.fail("REQUIRE_TMUX=1 but tmux is not installed")
        pytest.skip("tmux is not installed (.ci/run installs it)")
    socket = f"tuir-test-{os.getpid()}-{tmp_path.name}"
    # the server passes its environment to the app: COLUMNS/LINES from a test runner would pin it to 80x24
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}

    def run(*args: str) -> str:
        return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, timeout=10,
                              check=True, env=env).stdout

    yield run
    path = subprocess.run(["tmux", "-L", socket, "display-message", "-p", "#{socket_path}"], capture_output=True,
                          text=True, timeout=10, env=env).stdout.strip()
    subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=10, env=env)
    if path:
        Path(path).unlink(missing_ok=True)


def test_real_app_in_tmux_shows_the_panes_pauses_and_quits(tmux, tmp_path, xdg_config):
    project = tmp_path / "spirals"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))
    command = (f"cd {shlex.quote(str(REPO))} && XDG_CONFIG_HOME={shlex.quote(str(xdg_config))} "
               f"{shlex.quote(sys.executable)} -m tui_researcher.cli run {shlex.quote(str(project))} --max-cycles 40; "
               "echo EXIT=$?; sleep 60")
    tmux("new-session", "-d", "-s", "app", "-x", "160", "-y", "48", command)

    def screen() -> str:
        return tmux("capture-pane", "-p", "-t", "app")

    def paused() -> bool:
        return bool(read_state(project).get("paused"))

    wait_for(lambda: "val_acc=" in screen() and "keep" in screen(), timeout=30, what="a finished trial on screen")
    shown = screen()
    for pane in ("Leader plan", "GPUs", "Training log", "Memory log", "Hypothesis",
                 "no GPU", "best val_acc", "p Pause"):
        assert pane in shown, f"{pane!r} not on screen:\n{shown}"
    assert "Worker tool calls" not in shown, "the offline planner calls no tool: its empty pane collapses"

    tmux("send-keys", "-t", "app", "p")
    wait_for(paused, timeout=15, what="the store to say paused")
    wait_for(lambda: "PAUSED" in screen() and "p Resume" in screen(), timeout=10, what="PAUSED on screen")

    tmux("send-keys", "-t", "app", "t")
    wait_for(lambda: "hypothesis" in screen() and "over trials" in screen(), timeout=10, what="the trials view")
    tmux("send-keys", "-t", "app", "t")
    wait_for(lambda: "Training log" in screen(), timeout=10, what="the dashboard again")

    tmux("send-keys", "-t", "app", "q")
    wait_for(lambda: "Leave training running" in screen(), timeout=10, what="the quit dialog")
    tmux("send-keys", "-t", "app", "Enter")
    wait_for(lambda: "EXIT=0" in screen(), timeout=90, what="the app to exit with 0")
    assert read_state(project)["phase"] == "stopped"


def test_attach_in_tmux_steers_a_headless_run_and_detaching_leaves_it_running(tmux, tmp_path, xdg_config,
                                                                               slow_project):
    """`run --no-ui` in one tmux window, `attach` in another: the keys reach the loop through files."""
    python, project = shlex.quote(sys.executable), shlex.quote(str(slow_project))
    env = f"cd {shlex.quote(str(REPO))} && XDG_CONFIG_HOME={shlex.quote(str(xdg_config))}"
    tmux("new-session", "-d", "-s", "loop", "-x", "120", "-y", "30",
         f"{env} {python} -m tui_researcher.cli run {project} --no-ui; echo LOOP-EXIT=$?; sleep 60")

    def running() -> dict:
        return read_state(slow_project).get("running") or {}

    wait_for(lambda: any(p.get("pid") for p in running().values()), timeout=30, what="the headless trial")
    trial_pid = next(iter(running().values()))["pid"]
    try:
        tmux("new-session", "-d", "-s", "app", "-x", "160", "-y", "48",
             f"{env} {python} -m tui_researcher.cli attach {project}; echo APP-EXIT=$?; sleep 60")

        def screen() -> str:
            return tmux("capture-pane", "-p", "-t", "app")

        wait_for(lambda: "attached" in screen() and "step=" in screen(), timeout=30, what="the attached app")
        tmux("send-keys", "-t", "app", "p")
        wait_for(lambda: read_state(slow_project).get("paused"), timeout=15, what="the loop to pause")
        wait_for(lambda: "PAUSED" in screen(), timeout=10, what="PAUSED in the attached app")

        tmux("send-keys", "-t", "app", "q")
        wait_for(lambda: "Detach" in screen(), timeout=10, what="the detach dialog")
        tmux("send-keys", "-t", "app", "Enter")
        wait_for(lambda: "APP-EXIT=0" in screen(), timeout=15, what="the attached app to exit")
        loop_screen = tmux("capture-pane", "-p", "-t", "loop")
        assert "LOOP-EXIT" not in loop_screen, "detaching must not stop the loop"
        assert running(), "the trial must still be running"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(trial_pid, signal.SIGKILL)
