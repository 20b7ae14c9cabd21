"""The typed core crosses into JSON at one edge each way, and every background task is supervised."""

from __future__ import annotations

import asyncio
import json

from tui_researcher.backends.gpu import GpuReading
from tui_researcher.events import MonitorSample, Phase, PhaseChanged, TrialFinished, event_from_dict
from tui_researcher.state import State
from tui_researcher.store import Store
from tui_researcher.supervisor import Supervisor
from tui_researcher.trial import KillOrder, RunningTrial, Trial, TrialSample, TrialStatus


def test_state_round_trips_its_running_trials(tmp_path):
    state = State(phase=Phase.MONITOR)
    state.running["t0003"] = RunningTrial(id="t0003", host="gpu-1", run_dir="runs/t0003", gpus=(0, 2), pid=41,
                                          start_time="99", started=5.0,
                                          kill=KillOrder(TrialStatus.STALLED, "no growth"))
    store = Store(tmp_path / "researcher.db")
    state.save(store)
    fields, running = Store.reader(tmp_path / "researcher.db").load_state()
    assert running["t0003"]["kill"] == {"status": "stalled", "label": "no growth"}
    assert fields["phase"] == "monitor"
    loaded = State.load(store)
    assert loaded.running == state.running and loaded.phase is Phase.MONITOR
    assert loaded.running["t0003"].kill.status is TrialStatus.STALLED


def test_a_sample_survives_the_event_log():
    sample = MonitorSample(host="h", gpus=(GpuReading(index=1, utilization=40.0),),
                           trials=(TrialSample("t1", elapsed_s=3.5, state="RUNNING"),), lines=(("t1", "epoch=1"),))
    back = event_from_dict(json.loads(json.dumps(sample.to_dict())))
    assert back == sample and isinstance(back.trials[0], TrialSample) and back.gpus[0].utilization == 40.0


def test_statuses_and_phases_are_enums_that_read_as_their_values():
    finished = event_from_dict(json.loads(json.dumps(TrialFinished(trial_id="t", status=TrialStatus.KEEP).to_dict())))
    assert finished.status is TrialStatus.KEEP and f"{finished.status}" == "keep"
    phase = event_from_dict(PhaseChanged(phase=Phase.WAITING_GPU, cycle=1).to_dict())
    assert phase.phase is Phase.WAITING_GPU and phase.phase == "waiting for GPU"
    assert Trial.from_dict({"id": "t", "cycle": 1, "status": "gated"}).status is TrialStatus.GATED
    assert Trial.from_dict({"id": "t", "cycle": 1, "status": "from-the-future"}).status == "from-the-future"


async def test_a_crashed_task_is_said_and_restarted():
    notices, runs = [], []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("boom")

    supervisor = Supervisor(lambda text, level: notices.append((level, text)))
    supervisor.start("monitor", flaky)
    for _ in range(200):              # a deadline of 10 s for the restart after its 1 s delay
        if len(runs) >= 2:
            break
        await asyncio.sleep(0.05)
    await supervisor.stop()
    assert notices == [("error", "monitor task failed: RuntimeError: boom; restarting in 1s")]
    assert supervisor.crashes == {"monitor": 1}


async def test_a_task_whose_cancellation_was_swallowed_is_stopped_all_the_same():
    """A quit hung for ever (CI, two SSH hosts): the monitor's cancellation met a helper reply that arrived in
    the same instant, 3.11's wait_for returned the reply, and the monitor polled on while stop() awaited it."""
    answered: list[asyncio.Future] = []
    polls: list[int] = []

    async def monitor():
        while True:
            fut = asyncio.get_running_loop().create_future()
            answered.append(fut)
            await asyncio.wait_for(fut, 30)
            polls.append(1)
            await asyncio.sleep(0.01)

    supervisor = Supervisor(lambda text, level: None)
    task = supervisor.start("monitor", monitor)
    await asyncio.sleep(0.05)
    answered[-1].set_result("probe")     # the reply lands as the quit cancels: the cancellation is lost on 3.11
    stopping = asyncio.ensure_future(supervisor.stop())
    await asyncio.wait({stopping}, timeout=10)      # a deadline, not a duration: stop() ends, or this fails
    if not stopping.done():
        task.cancel()
        await stopping
        raise AssertionError("stop() still waited for the monitor after 10 s")
    assert task.done() and task.cancelled()
    assert polls                         # the reply was taken, and yet the task ended


def test_the_project_lock_says_whether_a_controller_holds_it(tmp_path):
    from tui_researcher.state import ProjectLock

    path = tmp_path / ".lock"
    assert not ProjectLock.held(path)
    with ProjectLock(path):
        assert ProjectLock.held(path)
    assert not ProjectLock.held(path)
