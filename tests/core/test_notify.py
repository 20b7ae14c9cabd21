"""Notifications through Apprise to a real HTTP receiver on 127.0.0.1 (``json://``), from a real loop."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tui_researcher.config import load_config
from tui_researcher.controller import Controller
from tui_researcher.events import MonitorSample, Notice

from tests.helpers import latest_trials, make_project, record_events, release
from tests.polling import wait_until
from tests.webhook import Receiver


def fields(message: dict) -> dict[str, str]:
    """The ``key: value`` lines of a message's body."""
    return dict(line.split(": ", 1) for line in message["message"].splitlines() if ": " in line)


async def start(project: Path, *, max_cycles: int, retry_delays=(0.05,) * 5, flush_s: float = 5.0):
    controller = Controller(project, load_config(project / "config.yaml"), max_cycles=max_cycles)
    controller.outreach.retry_delays, controller.outreach.flush_s = retry_delays, flush_s
    seen, watcher = record_events(controller)
    return controller, seen, watcher


async def test_a_new_best_a_crash_streak_and_the_end_each_deliver_one_message(tmp_path: Path):
    with Receiver() as receiver:
        project = make_project(tmp_path, modes=["ok", "crash"], scores=[0.9, 0.5],
                               extra={"notify": {"urls": [receiver.url], "crash_streak": 2}})
        controller, seen, watcher = await start(project, max_cycles=4)
        assert await asyncio.wait_for(controller.run(), 60) == 0
        await asyncio.wait_for(watcher, 5)
        trials = latest_trials(project)
        assert [trials[t]["status"] for t in sorted(trials)] == ["keep", "discard", "crash", "crash"]
        assert receiver.titles() == ["proj: new best t0001", "proj: 2 failed trials in a row", "proj: loop finished"]
        best, streak, end = receiver.messages
        assert fields(best) == {"project": "proj", "trial": "t0001", "metric": "val_acc = 0.9 (goal max)",
                                "what to do": fields(best)["what to do"]} and best["type"] == "success"
        assert fields(streak)["trial"] == "t0004" and "t0003, t0004 all failed" in streak["message"]
        assert "CUDA out of memory" in streak["message"] and "runs/t0004/train.log" in fields(streak)["what to do"]
        assert streak["type"] == "failure"
        assert fields(end)["project"] == "proj" and "report" in fields(end)["what to do"]
        assert fields(end)["trial"] == "t0001 (the best)" and fields(end)["metric"] == "val_acc = 0.9 (goal max)"
        alerts = [e.text for e in seen if isinstance(e, Notice) and e.level == "alert"]
        assert [a.split(".")[0] for a in alerts] == receiver.titles()   # the same alerts reach the faces


async def test_a_receiver_answering_500_is_retried_until_it_takes_the_message(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", "s3cr3t-token")
    with Receiver(fail_first=2) as receiver:
        url = receiver.url.replace("json://", "json://user:${HOOK_SECRET}@")
        project = make_project(tmp_path, modes=["ok"], scores=[0.9], extra={"notify": {"urls": [url]}})
        controller, seen, watcher = await start(project, max_cycles=1)
        assert await asyncio.wait_for(controller.run(), 60) == 0
        await asyncio.wait_for(watcher, 5)
    assert receiver.attempts == 4 and receiver.titles() == ["proj: new best t0001", "proj: loop finished"]
    failed = [e.text for e in seen if isinstance(e, Notice) and "retrying in" in e.text]
    assert len(failed) == 2 and all("failed" in text for text in failed)
    assert "${HOOK_SECRET}" in (project / "config.yaml").read_text()
    db = sqlite3.connect(project / "workspace" / "researcher.db")
    stored = "\n".join(r for (r,) in db.execute("SELECT record FROM events"))
    db.close()
    assert "retrying in" in stored and "s3cr3t-token" not in stored   # the secret is never written


async def test_a_receiver_that_never_answers_does_not_hold_the_loop(tmp_path: Path):
    """The send is held open far longer than this test's deadline: the loop monitors, finishes a second trial and
    ends meanwhile, which it could not do if the send ran on the loop."""
    with Receiver(hang=True) as receiver:
        project = make_project(tmp_path, modes=["ok", "wait"], scores=[0.9],
                               extra={"notify": {"urls": [receiver.url + "?rto=120&cto=5"]}})
        controller, seen, watcher = await start(project, max_cycles=2, flush_s=0.2)
        run = asyncio.create_task(controller.run())
        await wait_until(lambda: receiver.attempts == 1, 30, "the first send to reach the receiver")
        held_from = len(seen)
        await wait_until(lambda: sum(isinstance(e, MonitorSample) and bool(e.trials) for e in seen[held_from:]) >= 3,
                         30, "the monitor to keep polling while the send hangs")
        release(project / "workspace")
        assert await asyncio.wait_for(run, 30) == 0
        await asyncio.wait_for(watcher, 5)
        assert receiver.messages == [] and receiver.attempts == 1
        assert [t["status"] for t in latest_trials(project).values()] == ["keep", "discard"]
        assert any(isinstance(e, Notice) and "not sent before the end" in e.text for e in seen)


async def test_a_send_that_times_out_is_retried(tmp_path: Path):
    from tui_researcher.alerts import Alert
    from tui_researcher.notify import Notifier, load_targets

    with Receiver(hang=True) as receiver:
        targets, problems = load_targets([receiver.url + "?rto=0.3&cto=2"], None)
        notices: list[str] = []
        notifier = Notifier(targets, lambda text, level: notices.append(text), retry_delays=(0.05,) * 20)
        task = asyncio.create_task(notifier.run())
        notifier.put(Alert("best", "p: new best", "p", "happened", "todo"))
        await wait_until(lambda: receiver.attempts >= 2, 30, "a retry after the timeout")
        receiver.release.set()
        await wait_until(lambda: notifier.sent == 1, 30, "the message to go through once released")
        task.cancel()
    assert problems == [] and notifier.failures >= 1 and "p: new best" in receiver.titles()
    assert any("retrying in 0.05s" in text for text in notices)


async def test_a_pause_by_the_spending_cap_is_an_alert_and_the_users_own_pause_is_not(tmp_path: Path):
    from tui_researcher.bus import EventBus
    from tui_researcher.events import PhaseChanged
    from tui_researcher.outreach import Outreach
    from tui_researcher.phase import Phase
    from tui_researcher.project import Project

    project = make_project(tmp_path, modes=["ok"], extra={"agent": {"max_usd_per_day": 1.0}})
    state = Project(project, load_config(project / "config.yaml"))
    bus = EventBus(None)
    outreach, heard = Outreach(state, bus), bus.subscribe()

    def alerts() -> list[str]:
        said = []
        while not heard.empty():
            event = heard.get_nowait()
            said += [event.text] if isinstance(event, Notice) and event.level == "alert" else []
        return said

    state.state.paused = True
    state.state.usage.add(1, usd=1.5)
    await outreach.handle(PhaseChanged(Phase.PAUSED, 1))            # the user paused: not news
    state.state.paused = False
    await outreach.handle(PhaseChanged(Phase.THINK, 1))
    await outreach.handle(PhaseChanged(Phase.PAUSED, 1))            # the cap paused it
    [capped] = alerts()
    assert capped.startswith("proj: paused by the spending cap.") and "agent.max_usd_per_day" in capped
    state.close()


async def test_urls_kept_in_an_apprise_config_file_are_notified_too(tmp_path: Path):
    from tui_researcher.alerts import Alert
    from tui_researcher.notify import Notifier, load_targets

    with Receiver() as receiver:
        config = tmp_path / "apprise.txt"
        config.write_text(receiver.url + "\n")
        targets, problems = load_targets([], str(config))
        assert problems == [] and len(targets) == 1
        assert load_targets([], str(tmp_path / "missing.yml"))[1] == [
            f"notify.apprise_config: {tmp_path / 'missing.yml'} gives no URL Apprise understands"]
        notifier = Notifier(targets, lambda text, level: None)
        task = asyncio.create_task(notifier.run())
        notifier.put(Alert("finished", "p: loop finished", "p", "The loop finished.", "read the report"))
        assert await notifier.flush(30)
        task.cancel()
    assert receiver.titles() == ["p: loop finished"] and fields(receiver.messages[0])["what to do"] == "read the report"


async def test_a_stop_by_quit_delivers_one_message_naming_the_best(tmp_path: Path):
    from tui_researcher.events import Quit, TrialLaunched

    with Receiver() as receiver:
        project = make_project(tmp_path, modes=["ok", "wait"], scores=[0.9], extra={"notify": {"urls": [receiver.url]}})
        controller, seen, watcher = await start(project, max_cycles=2)
        run = asyncio.create_task(controller.run())
        await wait_until(lambda: sum(isinstance(e, TrialLaunched) for e in seen) == 2, 30, "the second launch")
        controller.send(Quit(leave_training_running=False))
        assert await asyncio.wait_for(run, 30) == 0
        await asyncio.wait_for(watcher, 5)
    assert receiver.titles() == ["proj: new best t0001", "proj: loop stopped"]
    stop = receiver.messages[1]
    assert fields(stop)["trial"] == "t0001 (the best)" and "was stopped at cycle 2" in stop["message"]
