"""Training-log lines made safe to show: ANSI colour kept, every other escape shown as text.

A training script must not be able to clear, repaint or retitle the terminal through the log
pane. SGR sequences (``ESC [ ... m``: colour, bold) survive and are drawn by Rich's decoder;
every other control character, the ESC of any other sequence included, becomes visible
caret text (``^[``, ``^G``) as in ``headless.inert``, and 8-bit C1 controls become ``\\x9b``.
"""

from __future__ import annotations

import re

SGR = re.compile(r"\x1b\[[0-9;:]*m")

_INERT = {c: f"^{chr(c + 64)}" for c in range(32) if c != 9}
_INERT[127] = "^?"
_INERT.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})


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
        out.append(raw[pos:match.start()].translate(_INERT))
        out.append(match.group())
        pos = match.end()
    out.append(raw[pos:].translate(_INERT))
    return "".join(out)


def plain(line: str) -> str:
    """A stored line without its colour codes: what the pane shows, as text."""
    return SGR.sub("", line)
