"""Free text is made inert where events are made, with the one table in textsafe; log lines keep their colour."""

from __future__ import annotations

import dataclasses
import re

import pytest

from tui_researcher.events import (EVENT_TYPES, MonitorSample, Notice, PlanProposed, Reflected, ToolCalled,
                                   TrialFinished, event_from_dict)
from tui_researcher.headless import format_event
from tui_researcher.metrics import failure_label
from tui_researcher.textsafe import INERT, inert, inert_lines

EVIL = "\x1b]52;c;ZXZpbA==\x07\x1b]0;owned\x07\x1b[2J\x1b[H\x9b2J\x08\r\x85 boom"
ONE_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_the_table_covers_c0_del_and_c1_but_tab():
    assert set(INERT) == set(range(32)) - {9} | {127} | set(range(0x80, 0xA0))
    assert inert(EVIL) == "^[]52;c;ZXZpbA==^G^[]0;owned^G^[[2J^[[H\\x9b2J^H^M\\x85 boom"
    assert inert_lines("a\r\nb\n\x1b[2Jc") == "a\nb\n^[[2Jc" and inert(inert(EVIL)) == inert(EVIL)


@pytest.mark.parametrize("cls", [c for c in EVENT_TYPES.values() if c.TEXT or c.LINES], ids=lambda c: c.kind)
def test_every_free_text_field_of_every_event_is_inert(cls):
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in cls.TEXT or f.name in cls.LINES:
            values[f.name] = {EVIL: [EVIL]} if f.name in ("params", "args") else EVIL + "\nsecond line"
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            values[f.name] = 1 if f.name in ("cycle", "pid") else "x"
    event = cls(**values)
    for name in cls.TEXT:
        assert not ONE_LINE.search(str(getattr(event, name))), name
    for name in cls.LINES:
        assert not LINES.search(str(getattr(event, name))), name
    assert event_from_dict(event.to_dict()) == event                       # inert twice is inert once


def test_the_no_ui_lines_and_the_stored_events_carry_no_escape():
    events = [TrialFinished(trial_id="t0001", status="crash", label=EVIL), Reflected(trial_id="t0001", decision=EVIL),
              Notice(level="error", text=EVIL), PlanProposed(trial_id="t0002", cycle=2, hypothesis=EVIL,
                                                             params={"lr": EVIL}, command=EVIL),
              ToolCalled(call_id="c1", tool="write_file", args={"content": EVIL})]
    for event in events:
        for line in format_event(event, verbose=True):
            assert not ONE_LINE.search(line), line


def test_log_lines_keep_their_colour_for_the_pane():
    sample = MonitorSample(host="local", lines=(("t0001", "\x1b[31mred\x1b[0m"),), gpu_error=EVIL)
    assert sample.lines == (("t0001", "\x1b[31mred\x1b[0m"),)              # ui/ansi.py renders these
    assert not ONE_LINE.search(sample.gpu_error)


def test_the_failure_label_is_plain_and_inert():
    log = "step=1 loss=0.5\n\x1b[31mworking\x1b[0m\n\x1b]52;c;ZXZpbA==\x07\x1b]0;owned\x07\x1b[2J\x9b2J boom\n"
    assert failure_label(log) == "^[]52;c;ZXZpbA==^G^[]0;owned^G^[[2J\\x9b2J boom"
    assert failure_label("Traceback (most recent call last):\n  x\n\x1b[31mRuntimeError: boom\x1b[0m\n") == \
        "RuntimeError: boom"
