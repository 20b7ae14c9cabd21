"""The ledger's facts and the claims of a reflection checked against them (pure, one row per case)."""

from __future__ import annotations

import pytest

from tui_researcher.facts import contradictions, fact_line
from tui_researcher.trial import Trial, TrialStatus

BEST = Trial(id="t0001", cycle=1, status=TrialStatus.KEEP, metric=0.9512, params={"lr": 0.1, "hidden": 8})
WORSE = Trial(id="t0002", cycle=2, status=TrialStatus.DISCARD, metric=0.65, parent="t0001",
              params={"lr": 0.3, "hidden": 8}, files_changed=["train.py"])
LEDGER = {t.id: t for t in (BEST, WORSE)}


@pytest.mark.parametrize("text, subject, wrong", [
    ("lr 0.1 reaches val_acc 0.95", BEST, []),                             # agrees at the stated precision
    ("val_acc=0.9512 with lr=0.1", BEST, []),
    ("val_acc = 0.96", BEST, ["t0001: val_acc=0.96 (the ledger has 0.9512)"]),
    ("t0002: val_acc=0.995 (new best)", BEST,
     ["t0002: val_acc=0.995 (the ledger has 0.65)", "t0002: new best (the ledger has discard)"]),
    ("t0001 stays best at val_acc=0.95; t0002 got val_acc 0.65", WORSE, []),
    ("t0002 is at 0.995 overall", WORSE, []),                              # no metric named: not a claim
    ("the new best", BEST, []),
    ("t0003 reached val_acc 0.9", BEST, ["t0003: val_acc=0.9 (the ledger has -)"]),   # no such trial
    ("VAL_ACC reached 9.95e-1", BEST, ["t0001: val_acc=9.95e-1 (the ledger has 0.9512)"]),
])
def test_claims_are_checked_against_the_ledger(text, subject, wrong):
    assert [str(c) for c in contradictions(text, "val_acc", subject, LEDGER.get)] == wrong


def test_the_fact_line_says_what_changed_from_the_parent():
    assert fact_line(WORSE, "val_acc", BEST) == "t0002 discard val_acc=0.65: lr 0.1->0.3 code: train.py"
    assert fact_line(BEST, "val_acc", None) == "t0001 keep val_acc=0.9512: lr=0.1 hidden=8"
