"""Enter on a past trial: its params as a table, its code diff against its parent, and the end of its log."""

from __future__ import annotations

from pathlib import Path

from tests.ui.helpers import open_trials_view, settle, wait_until

from tui_researcher.ledger import Ledger
from tui_researcher.store import Store
from tui_researcher.trial import Trial, TrialStatus
from tui_researcher.ui.screens.detail import DetailScreen
from tui_researcher.ui.screens.trials import code_diff, params_table
from tui_researcher.ui.widgets.trials_table import TrialsTable


def add_past_trial(project: Path) -> None:
    """A finished trial with params, an edit and a log on this machine, as a controller records it."""
    store = Store(project / "workspace" / "researcher.db")
    ledger = Ledger(store)
    trial = Trial(id="t0005", cycle=5, hypothesis="wider", params={"lr": 0.05, "width": 2}, host="local",
                  status=TrialStatus.DISCARD, metric=0.92, log_path="runs/t0005/train.log",
                  command="python train.py --lr 0.05 --width 2",
                  diff="--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-width = 1\n+width = args.width\n")
    ledger.record(trial, "finished")
    store.close()
    log = project / "workspace" / "runs" / "t0005" / "train.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"epoch={e} val_acc=0.{80 + e}\n" for e in range(1, 61)))


async def test_enter_on_a_past_trial_opens_its_params_diff_and_log(recording: Path, replay_app):
    add_past_trial(recording)
    app = replay_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        table = await open_trials_view(pilot, TrialsTable)
        await wait_until(pilot, lambda: table.count == 5 and table.trial_at(4), what="the past trial's row")
        table.move_cursor(4)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail")
        body = app.screen.body
        assert "params\n  lr     0.05\n  width  2\n" in body
        assert "--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-width = 1\n+width = args.width" in body
        assert "log (last 40 lines)" in body and body.rstrip().endswith("epoch=60 val_acc=0.140")
        assert "epoch=20 val_acc" not in body


def test_params_table_and_the_diff_of_a_trial_from_before_trees():
    assert params_table({}) == ["  –"]
    assert params_table({"a": 1, "long_name": "x"}) == ["  a          1", "  long_name  x"]
    old = Trial(id="t0001", cycle=1, tool_calls=[{"tool": "read_file", "args": {"path": "x"}},
                                        {"tool": "write_file", "diff": "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"}])
    assert code_diff(old) == (["--- a/x", "+++ b/x", "@@ -1 +1 @@", "-a", "+b"], "its worker's file writes")
    assert code_diff(Trial(id="t0002", cycle=2)) == ([], "its worker's file writes")
