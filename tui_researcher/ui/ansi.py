"""Training-log lines made safe to show: ANSI colour kept, every other escape shown as text.

A training script must not be able to clear, repaint or retitle the terminal through the log
pane. SGR sequences (``ESC [ ... m``: colour, bold) survive and are drawn by Rich's decoder;
every other control character, the ESC of any other sequence included, is made visible by
``textsafe.inert``, the one table both faces share.
"""

from __future__ import annotations

import re

from ..textsafe import inert

SGR = re.compile(r"\x1b\[[0-9;:]*m")


def display_line(raw: str) -> str:
    """The line as the pane stores it: SGR kept, all other control characters inert."""
    if "\r" in raw:
        # a progress bar redraws itself with carriage returns: keep what a terminal would show
        segments = [s for s in raw.split("\r") if s]
        raw = segments[-1] if segments else ""
    raw = raw.expandtabs(4)
    out = []
    pos = 0
    for match in SGR.finditer(raw):
        out.append(inert(raw[pos:match.start()]))
        out.append(match.group())
        pos = match.end()
    out.append(inert(raw[pos:]))
    return "".join(out)


def plain(line: str) -> str:
    """A stored line without its colour codes: what the pane shows, as text."""
    return SGR.sub("", line)
