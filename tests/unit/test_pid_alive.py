"""The package's one pid-alive check: a zombie is not alive, and a pid with another start time is not ours."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import pid_alive as helpers_pid_alive
from tests.helpers import wait_for
from tui_researcher.backends.helper import pid_alive, proc_start_time


def test_a_running_process_is_alive_and_ours_only_with_its_own_start_time():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        start = proc_start_time(proc.pid)[1]
        assert pid_alive(proc.pid) and pid_alive(proc.pid, start)
        assert not pid_alive(proc.pid, start + "1"), "a reused pid (another start time) is not our process"
    finally:
        proc.kill()
        proc.wait()
    assert not pid_alive(proc.pid)


def test_a_zombie_is_not_alive():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        wait_for(lambda: not pid_alive(proc.pid), what="the child to exit (unreaped: a zombie)")
        assert os.path.exists(f"/proc/{proc.pid}"), "still in the process table, not yet reaped"
    finally:
        proc.wait()


def test_no_pid_is_not_alive_and_the_tests_use_the_same_check():
    assert not any(pid_alive(p) for p in (None, 0, -1))
    assert pid_alive(os.getpid())
    assert helpers_pid_alive is pid_alive
