"""The bridge: events in, few messages out; snapshots replace, deltas accumulate."""

from __future__ import annotations

from tui_researcher.backends.gpu import GpuReading
from tui_researcher.events import MonitorSample, PhaseChanged, ToolCalled, ToolReturned
from tui_researcher.ui.bridge import Bridge
from tui_researcher.ui.messages import HostSampled, LogLines, LoopPhase, LoopState, SourceEnded, ToolActivity
from tui_researcher.ui.source import QueueSource


class Recorder:
    """Stands in for the app: the bridge only ever posts messages to it."""

    def __init__(self) -> None:
        self.messages: list = []

    def post_message(self, message) -> bool:
        self.messages.append(message)
        return True

    def of(self, kind: type) -> list:
        return [m for m in self.messages if isinstance(m, kind)]


def test_snapshot_messages_replace_queued_ones_and_deltas_do_not():
    assert LoopPhase("think", 1, "").can_replace(LoopPhase("execute", 1, ""))
    assert HostSampled(MonitorSample(host="a")).can_replace(HostSampled(MonitorSample(host="a")))
    assert not HostSampled(MonitorSample(host="a")).can_replace(HostSampled(MonitorSample(host="b")))
    assert not LogLines([("t1", "x")]).can_replace(LogLines([("t1", "y")]))
    assert not ToolActivity([]).can_replace(ToolActivity([]))


async def test_a_burst_of_events_becomes_one_message_per_kind_with_a_bounded_log():
    source = QueueSource()
    for k in range(100):
        source.push(MonitorSample(host="local", lines=tuple(("t1", f"line {k * 500 + i}") for i in range(500))))
    source.push(ToolCalled(call_id="c1", tool="read_file", args={"path": "x"}))
    source.push(ToolReturned(call_id="c1", tool="read_file", ok=True, result="abc"))
    source.push(PhaseChanged(phase="monitor", cycle=1))
    source.close()
    app = Recorder()

    await Bridge(app, source, max_pending_lines=1000).run()

    [log] = app.of(LogLines)
    assert len(log.lines) == 1000 and log.dropped == 49_000
    assert log.lines[-1] == ("t1", "line 49999")
    [tools] = app.of(ToolActivity)
    assert [type(e).__name__ for e in tools.events] == ["ToolCalled", "ToolReturned"]
    assert all(not m.sample.lines for m in app.of(HostSampled)), "log lines travel only as LogLines"
    assert app.of(HostSampled)[-1].utilisation == {}
    assert app.of(LoopState) and isinstance(app.messages[-1], SourceEnded)


async def test_sparkline_history_survives_replaced_samples():
    source = QueueSource()
    for util in (10, 50, 90):
        source.push(MonitorSample(host="g", gpus=(GpuReading(index=0, utilization=util),)))
    source.close()
    app = Recorder()
    await Bridge(app, source).run()
    assert app.of(HostSampled)[-1].utilisation == {0: (10.0, 50.0, 90.0)}
