"""The training-log pane: a flood does not freeze the app, hostile lines stay text, follow mode."""

from __future__ import annotations


from tests.ui.helpers import wait_until

from tui_researcher.events import MonitorSample
from tui_researcher.settings import Settings
from tui_researcher.ui.ansi import display_line, plain
from tui_researcher.ui.app import ResearcherApp
from tui_researcher.ui.screens.help import HelpScreen
from tui_researcher.ui.screens.main import MainScreen
from tui_researcher.ui.screens.trials import TrialsScreen
from tui_researcher.ui.source import QueueSource
from tui_researcher.ui.widgets.training_log import TrainingLog

HOSTILE = "\x1b[2J\x1b[H\x1b]0;pwned\x07evil \x1b[31mred\x1b[0m \x1b[10;10Hmoved\x9b2J\x07"


def lines_sample(lines: list[str], trial_id: str = "t0001") -> MonitorSample:
    return MonitorSample(host="local", lines=tuple((trial_id, line) for line in lines))


def queue_app(xdg_config, **settings) -> tuple[ResearcherApp, QueueSource]:
    source = QueueSource()
    app = ResearcherApp(source, settings=Settings(**settings), settings_path=xdg_config / "settings.toml",
                        animate=False)
    return app, source


async def test_log_flood_keeps_keys_responsive_and_the_pane_bounded(xdg_config):
    """50,000 lines arrive while keys are pressed: every key acts and the pane holds its cap.

    How fast a key acts under the flood is measured by benchmarks/bench_ui.py, never asserted here."""
    app, source = queue_app(xdg_config, log_max_lines=2000)
    presses = [("f", lambda: not log.follow), ("f", lambda: log.follow),
               ("t", lambda: isinstance(app.screen, TrialsScreen)), ("t", lambda: isinstance(app.screen, MainScreen)),
               ("question_mark", lambda: isinstance(app.screen, HelpScreen)),
               ("escape", lambda: isinstance(app.screen, MainScreen))] * 4
    batches_per_press = 50_000 // 500 // len(presses) + 1
    async with app.run_test(size=(120, 40)) as pilot:
        log = app.screen.query_one(TrainingLog)
        sent = 0
        for key, took_effect in presses:
            for _ in range(batches_per_press):
                source.push(lines_sample([f"step={i} loss={1 / (i + 1):.5f}" for i in range(sent, sent + 500)]))
                sent += 500
            await pilot.press(key)
            assert took_effect(), f"{key!r} had no effect during the flood"
        last = f"step={sent - 1} loss={1 / sent:.5f}"
        await wait_until(pilot, lambda: log.lines and plain(log.lines[-1]) == last, what="the flood's last line")
        assert sent >= 50_000
        assert log.line_count <= 2000


async def test_hostile_log_line_is_shown_as_text(xdg_config):
    """Escapes that clear the screen, set the title or move the cursor are drawn as visible text."""
    app, source = queue_app(xdg_config)
    async with app.run_test(size=(120, 40)) as pilot:
        log = app.screen.query_one(TrainingLog)
        source.push(lines_sample(["before", HOSTILE, "after"]))
        await wait_until(pilot, lambda: log.line_count >= 4, what="the lines")
        await pilot.pause()
        shown = [log.render_line(y) for y in range(log.size.height)]
        text = next(strip.text for strip in shown if "evil" in strip.text)
        assert "^[[2J^[[H^[]0;pwned^Gevil red ^[[10;10Hmoved\\x9b2J^G" in text
        assert not any("\x1b" in seg.text or "\x07" in seg.text or "\x9b" in seg.text for s in shown for seg in s)
        red = [seg for s in shown for seg in s if seg.text == "red"]
        assert red and red[0].style.color is not None, "ANSI colour must be kept"
        assert app.title == "tui-researcher"


async def test_scrolling_up_stops_following_and_counts_new_lines(xdg_config):
    app, source = queue_app(xdg_config)
    async with app.run_test(size=(120, 40)) as pilot:
        log = app.screen.query_one(TrainingLog)
        source.push(lines_sample([f"line {i}" for i in range(300)]))
        await wait_until(pilot, lambda: log.line_count == 301 and log.is_vertical_scroll_end, what="the lines")
        log.focus()
        await pilot.press("up", "up")
        await wait_until(pilot, lambda: not log.follow, what="follow to stop")
        source.push(lines_sample([f"more {i}" for i in range(10)]))
        await wait_until(pilot, lambda: log.unseen == 10, what="the count of unseen lines")
        assert "+10 lines" in log.border_subtitle
        assert not log.is_vertical_scroll_end
        await pilot.press("f")
        assert log.follow and log.unseen == 0
        await wait_until(pilot, lambda: log.is_vertical_scroll_end, what="the view to jump to the end")


async def test_log_pane_marks_where_each_trial_starts(xdg_config):
    app, source = queue_app(xdg_config)
    async with app.run_test(size=(120, 40)) as pilot:
        log = app.screen.query_one(TrainingLog)
        source.push(lines_sample(["a1", "a2"], "t0001"))
        source.push(lines_sample(["b1"], "t0002"))
        await wait_until(pilot, lambda: log.line_count == 5, what="the lines")
        assert [plain(line) for line in log.lines] == ["── t0001 ──", "a1", "a2", "── t0002 ──", "b1"]


def test_display_line_keeps_colour_and_neutralises_every_other_control():
    assert display_line("\x1b[1;32mok\x1b[0m") == "\x1b[1;32mok\x1b[0m"
    assert display_line("\x1b]8;;http://x\x1b\\link") == "^[]8;;http://x^[\\link"
    assert display_line("a\tb") == "a   b"
    assert display_line("10%\r50%\r100%") == "100%"
    assert display_line("bell\x07 del\x7f c1\x9b") == "bell^G del^? c1\\x9b"
