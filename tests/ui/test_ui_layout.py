"""The screen at 80x24 and at 200x60: what stays, what grows, what collapses."""

from __future__ import annotations

from tests.ui.helpers import sweep_app, wait_until

from tui_researcher.events import ToolCalled
from tui_researcher.ui.widgets.gpu_meters import GpuMeters
from tui_researcher.ui.widgets.memory_log import MemoryPane
from tui_researcher.ui.widgets.metric_plot import MetricPlot
from tui_researcher.ui.widgets.tool_calls import ToolCallsTable
from tui_researcher.ui.widgets.trials_table import TrialsTable

LONG_MEMORY = "# Memory Log\n\n## Key Results\n" + "".join(
    f"- t{i:04d}: val_acc=0.{900 + i} with lr={i / 100}\n" for i in range(1, 30)) + \
    "\n## Recent Decisions\n- [01-01 00:14] t0029 keep: the newest decision -> iterate\n"


async def started(app, pilot):
    await wait_until(pilot, lambda: app.source_ended, what="the script to end")
    await pilot.pause()


def footer_keys(app) -> dict[str, object]:
    from tui_researcher.ui.widgets.key_bar import KeyBar

    return {key.display: key for key in app.screen.query_one(KeyBar).shown()}


async def test_80x24_keeps_help_and_quit_compacts_gpus_and_gives_the_table_half(xdg_config):
    app = sweep_app(xdg_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(app, pilot)
        keys = footer_keys(app)
        for key in ("?", "q"):
            assert keys[key].end <= 80 and keys[key].end > keys[key].start, f"{key} is cut from the footer"
        meters = app.screen.query_one(GpuMeters)
        lines = meters.render().plain.splitlines()
        assert len(lines) == 5 and lines[0].startswith("gpu-a  4× H100 80GB HBM3")
        for line in lines[1:]:
            assert "util" in line and "%" in line and "/80 GB" in line and "…" not in line
            assert len(line) <= meters.content_size.width
        assert "H100" not in "".join(lines[1:]), "the model is named once, on the host's line"
        # no room for processes on the lines: every process of every GPU is in the pane's tooltip, biggest first
        assert "4121" not in "".join(lines)
        assert str(meters.tooltip).splitlines() == [
            "gpu-a GPU 0  pid 4121    python3                            59.1 GB",
            "gpu-a GPU 0  pid 4180    tensorboard                         0.3 GB",
            "gpu-a GPU 2  pid 700     python                             39.2 GB"]
        await pilot.press("question_mark")
        keys_table = app.screen.query_one("#help-keys")
        await pilot.pause()
        assert keys_table.row_count >= 14 and keys_table.max_scroll_y == 0, "the help's key table is whole"
        assert {row[0] for row in app.screen.keys} >= {"/", "s / S", "r", "enter", "?", "q"}
        await pilot.press("escape", "t")
        table = await wait_until(pilot, lambda: app.screen.query(TrialsTable).first()
                                 if app.screen.query(TrialsTable) else None, what="the trials view")
        plot = app.screen.query_one(MetricPlot)
        await pilot.pause()
        body = table.parent.region.height
        assert table.region.height >= body / 2 and plot.region.height >= 7
        visible = [t.id for t in table.visible_trials() if t]
        assert len(visible) >= 8, visible


async def test_200x60_gives_the_space_to_the_table_and_the_log(xdg_config):
    app = sweep_app(xdg_config)
    async with app.run_test(size=(200, 60)) as pilot:
        await started(app, pilot)
        log = app.screen.query_one("#log")
        assert log.region.height >= 40
        meters = app.screen.query_one(GpuMeters)   # wide enough for each GPU's processes, whole
        lines = meters.render().plain.splitlines()
        assert "python3 4121" in lines[1] and "+1" in lines[1] and "python 700" in lines[3], lines
        assert "…" not in "".join(lines) and all(len(line) <= meters.content_size.width for line in lines)
        await pilot.press("t")
        table = await wait_until(pilot, lambda: app.screen.query(TrialsTable).first()
                                 if app.screen.query(TrialsTable) else None, what="the trials view")
        await pilot.pause()
        plot = app.screen.query_one(MetricPlot)
        assert plot.region.height == 16 and table.region.height >= 38
        await wait_until(pilot, lambda: len([t for t in table.visible_trials() if t]) == 30, what="all 30 rows")


async def test_memory_opens_at_its_newest_and_the_empty_tool_pane_collapses(xdg_config):
    app = sweep_app(xdg_config)
    app.source.memory = LONG_MEMORY
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        memory = app.screen.query_one(MemoryPane)
        await memory.rendered()
        await wait_until(pilot, lambda: memory.max_scroll_y > 0 and memory.scroll_y == memory.max_scroll_y,
                         what="the memory pane at its end")
        tools = app.screen.query_one(ToolCallsTable)
        assert not tools.display, "no tool call (the offline planner): no pane"
        tools.add_events([ToolCalled(call_id="c1", tool="read_file", args={"path": "train.py"}, trial_id="t0030")])
        await wait_until(pilot, lambda: tools.display and tools.row_count == 1, what="the tool pane shown, one row")


async def test_an_empty_memory_pane_is_one_line_and_grows_with_its_first_entry(xdg_config):
    from tui_researcher.memory import Memory

    app = sweep_app(xdg_config)
    app.source.memory = ""
    async with app.run_test(size=(120, 40)) as pilot:
        await started(app, pilot)
        memory, plan = app.screen.query_one(MemoryPane), app.screen.query_one("#plan")
        empty = Memory(path=None).render()   # a new project's file: headings, no entry
        memory.show(empty)
        await memory.rendered()
        await pilot.pause()
        assert memory.has_class("-empty") and memory.region.height == 3, "the border and one line"
        assert plan.region.height > 20, "the plan has the room"
        memory.show(LONG_MEMORY)
        await memory.rendered()
        await pilot.pause()
        assert not memory.has_class("-empty") and memory.region.height > 8


def test_the_plans_command_comes_right_under_its_heading():
    from tui_researcher.ui.widgets.plan import plan_markdown

    text = plan_markdown(3, "t0003", "a long hypothesis " * 20, "task", "criteria", "python train.py --lr 0.1")
    assert text.splitlines()[:3] == ["**Cycle 3 · t0003**", "", "`python train.py --lr 0.1`"]


async def test_toasts_keep_off_the_logs_last_lines(xdg_config):
    from textual.geometry import Region

    app = sweep_app(xdg_config)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await started(app, pilot)
        for k in range(3):
            app.notify(f"note {k}: a toast with some words in it", timeout=30)
        toasts = await wait_until(pilot, lambda: list(app.screen.query("Toast")), what="the toasts")
        await pilot.pause()
        log = app.screen.query_one("#log").region
        last_lines = Region(log.x, log.bottom - 6, log.width, 5)
        for toast in toasts:
            assert toast.region.height and not toast.region.overlaps(last_lines), (toast.region, last_lines)
