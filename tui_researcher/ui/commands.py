"""The loop's commands in the command palette (ctrl+p), next to Textual's own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from textual.app import SystemCommand

if TYPE_CHECKING:
    from .app import ResearcherApp


def loop_commands(app: "ResearcherApp") -> Iterable[SystemCommand]:
    """Every key's action, titled as a person would search for it."""
    if app.paused:
        yield SystemCommand("Resume planning", "Plan and launch trials again (p)", app.action_resume)
    else:
        yield SystemCommand("Pause planning", "No new planning; running training goes on (p)", app.action_pause)
    yield SystemCommand("Pivot", "The next THINK must change direction; give an optional reason (v)",
                        app.action_pivot)
    yield SystemCommand("Directive", "Write a directive for the leader's next THINK (d)", app.action_directive)
    yield SystemCommand("Stop running trial", "Stop the running trial, after a confirmation (k)",
                        app.action_stop_trial)
    yield SystemCommand("Trials view" if app.current_mode == "main" else "Dashboard",
                        "Switch between the dashboard and the table and plot of trials (t)", app.action_trials)
    yield SystemCommand("Toggle log follow", "Keep the newest training-log line in view, or stop (f)",
                        app.action_follow)
    yield SystemCommand("Next theme", "Switch to the next theme file and remember it (ctrl+t)", app.action_next_theme)
    yield SystemCommand("Help", "Every key and what it does (?)", app.action_help)
    yield SystemCommand("Detach" if app.source.attached else "Quit tui-researcher",
                        "Leave, choosing what happens to training (q)", app.action_request_quit)
