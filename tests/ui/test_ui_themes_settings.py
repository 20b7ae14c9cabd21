"""Themes from files, validated, with one notice for every broken file; settings in TOML."""

from __future__ import annotations

from pathlib import Path

from textual.notifications import Notify

from tests.ui.helpers import wait_until

from tui_researcher.events import Pause
from tui_researcher.settings import Settings, load_settings, save_settings, settings_path
from tui_researcher.ui.app import ResearcherApp
from tui_researcher.ui.source import QueueSource
from tui_researcher.ui.themes import load_theme_file, load_themes, shipped_themes_dir, theme_dirs

REPO = Path(__file__).resolve().parents[2]


def test_shipped_themes_load_and_validate():
    result = load_themes([REPO / "themes"])
    assert result.failures == []
    assert result.names[0] == "researcher-dark"
    assert {"researcher-dark", "researcher-light", "researcher-high-contrast"} <= set(result.names)
    assert all("trial-keep" in theme.variables for theme in result.themes)


def test_the_shipped_themes_dir_holds_the_three_themes():
    shipped = shipped_themes_dir()
    assert theme_dirs()[0] == shipped
    assert {p.name for p in shipped.glob("*.toml")} >= {"dark.toml", "light.toml", "high-contrast.toml"}


def test_a_bad_colour_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[colors]\nprimary = "#12345"\n')
    try:
        load_theme_file(path)
    except Exception as exc:   # noqa: BLE001 - the message is what is under test
        assert str(exc) == "mine.toml: colors.primary: '#12345' is not a colour"
    else:
        raise AssertionError("a bad colour was accepted")


async def test_broken_theme_files_are_reported_in_one_notice_and_the_default_is_used(xdg_config):
    user_themes = xdg_config / "tui-researcher" / "themes"
    user_themes.mkdir(parents=True)
    (user_themes / "bad-colour.toml").write_text('name = "bad"\n[colors]\nprimary = "not-a-colour"\n')
    (user_themes / "bad-key.toml").write_text('name = "odd"\nfont = "x"\n[colors]\nprimary = "#fff"\n')
    (user_themes / "bad-toml.toml").write_text('name = "x\n')
    (user_themes / "fine.toml").write_text('name = "fine"\n[colors]\nprimary = "#00aaff"\n')
    notices: list[Notify] = []
    app = ResearcherApp(QueueSource(), settings=Settings(theme="bad"), animate=False)
    hook = lambda message: notices.append(message) if isinstance(message, Notify) else None  # noqa: E731
    async with app.run_test(message_hook=hook) as pilot:
        await pilot.pause()
        assert app.theme == "researcher-dark"
        assert "fine" in app.theme_names
    theme_notices = [n.notification for n in notices if n.notification.title == "Theme files not loaded"]
    assert len(theme_notices) == 1
    text = theme_notices[0].message
    assert "bad-colour.toml" in text and "bad-key.toml" in text and "bad-toml.toml" in text


def test_settings_round_trip_through_the_xdg_config_dir(xdg_config):
    settings = Settings(theme="researcher-light", keymap={"pause": "space"}, log_max_lines=800)
    save_settings(settings)
    assert settings_path() == xdg_config / "tui-researcher" / "settings.toml"
    assert load_settings() == (settings, "")


def test_a_broken_settings_file_gives_defaults_and_one_line_saying_why(xdg_config):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text('theme = 3\ncolour = "red"\n')
    settings, problem = load_settings()
    assert settings == Settings()
    assert problem == f"{path}: theme: expected str, got 3; unknown key 'colour'"


async def test_keymap_in_settings_rebinds_a_key(xdg_config):
    source = QueueSource()
    app = ResearcherApp(source, settings=Settings(keymap={"pause": "space"}), animate=False)
    async with app.run_test() as pilot:
        await pilot.press("p")
        await pilot.press("space")
        await wait_until(pilot, lambda: source.sent, what="the command")
    assert source.sent == [Pause()]


async def test_ctrl_t_cycles_every_theme_file_and_saves_the_choice(xdg_config):
    app = ResearcherApp(QueueSource(), animate=False)
    async with app.run_test() as pilot:
        seen = [app.theme]
        for _ in range(3):
            await pilot.press("ctrl+t")
            seen.append(app.theme)
        assert seen == ["researcher-dark", "researcher-high-contrast", "researcher-light", "researcher-dark"]
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: load_settings()[0].theme == "researcher-high-contrast", what="the save")


async def test_an_alert_rings_the_bell_unless_the_settings_say_not_to(xdg_config):
    from tui_researcher.events import Notice

    rung = {}
    for bell in (True, False):
        source = QueueSource()
        app = ResearcherApp(source, settings=Settings(bell=bell), animate=False)
        rings: list[int] = []
        app.bell = lambda rings=rings: rings.append(1)     # the headless driver has no bell to hear
        async with app.run_test() as pilot:
            source.push(Notice(level="info", text="host ready"))
            source.push(Notice(level="alert", text="demo: new best t0003. t0003 set a new best."))
            source.push(Notice(level="warning", text="after the alert"))
            await wait_until(pilot, lambda: app.status.notice == "after the alert", what="the notices")
        rung[bell] = len(rings)
    assert rung == {True: 1, False: 0}


def test_bell_in_settings_toml_is_a_boolean(xdg_config):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text("bell = false\n")
    assert load_settings() == (Settings(bell=False), "")
    path.write_text("bell = 0\n")
    assert load_settings()[1] == f"{path}: bell: expected bool, got 0"


def _contrast(a, b) -> float:
    """WCAG 2 contrast ratio of two opaque colours."""
    def luminance(colour) -> float:
        def channel(c: int) -> float:
            c = c / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        return 0.2126 * channel(colour.r) + 0.7152 * channel(colour.g) + 0.0722 * channel(colour.b)
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


async def test_pane_borders_and_the_focused_one_are_visible_in_every_theme(xdg_config):
    """A pane's border against what lies beside it (the screen) and inside it (its surface): 3:1 at least, the
    WCAG minimum for a component's edge; the focused pane's border differs from the others'."""
    app = ResearcherApp(QueueSource(), animate=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3):
            await pilot.pause()
            log, memory = app.screen.query_one("#log"), app.screen.query_one("#memory")
            log.focus()
            await pilot.pause()
            screen_bg = app.screen.styles.background
            for pane in (log, memory):
                inside = screen_bg + pane.styles.background
                edge = inside + pane.styles.border_top[1]
                assert _contrast(edge, screen_bg) >= 3.0 and _contrast(edge, inside) >= 3.0, (app.theme, pane.id)
            assert log.styles.border_top[1] != memory.styles.border_top[1], app.theme
            await pilot.press("ctrl+t")
