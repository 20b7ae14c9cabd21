"""A GPU host (a real sshd) that goes away while its trial runs: one message when it has been unreachable for
``notify.host_down_after``, one when it answers again, and the trial is collected as if nothing happened."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tui_researcher.events import TrialLaunched

from tests.backends.test_ssh_loop import ssh_config
from tests.core.test_notify import fields, start
from tests.helpers import latest_trials, make_project, release
from tests.polling import wait_until
from tests.webhook import Receiver

pytestmark = pytest.mark.sshd


async def test_a_host_down_is_one_message_and_its_return_another(tmp_path: Path, sshd_factory):
    server = sshd_factory("flaky-sshd")
    remote = tmp_path / "remote"
    with Receiver() as receiver:
        project = make_project(tmp_path, modes=["wait"], scores=[0.5],
                               extra={"notify": {"urls": [receiver.url], "host_down_after": 0.5}})
        ssh_config(project, server, remote)
        controller, seen, watcher = await start(project, max_cycles=1)
        run = asyncio.create_task(controller.run())
        try:
            await wait_until(lambda: any(isinstance(e, TrialLaunched) for e in seen), 60, "the launch")
            server.stop()
            await wait_until(lambda: any("unreachable" in t for t in receiver.titles()), 30, "the host-down message")
            server.start()
            await wait_until(lambda: any("is back" in t for t in receiver.titles()), 60, "the host-back message")
            release(remote)
            assert await asyncio.wait_for(run, 60) == 0
        finally:
            server.start()
            release(remote)
        await asyncio.wait_for(watcher, 5)
    assert receiver.titles() == ["proj: host 127.0.0.1 unreachable", "proj: host 127.0.0.1 is back",
                                 "proj: new best t0001", "proj: loop finished"]
    down = receiver.messages[0]
    assert fields(down)["project"] == "proj" and "doctor" in fields(down)["what to do"] and down["type"] == "failure"
    assert latest_trials(project)["t0001"]["status"] == "keep"
