"""Text from a training script or a model made inert: control characters become visible, so no face can be repainted.

Both faces show text they do not control (training logs, tool results, a model's words, a
provider's error). A clear-screen, a cursor move, an OSC 52 clipboard write or a new window
title must reach the person as text, never as an action on the terminal: every C0 control but
tab, DEL and every 8-bit C1 control are replaced by caret or hex text (``^[``, ``^G``, ``^?``,
``\\x9b``). Events apply it where they are made (``events.py``); the log pane keeps SGR colour
(``ui/ansi.py``). Pure Python, so ``--no-ui`` never imports Textual.
"""

from __future__ import annotations

import re

INERT: dict[int, str] = {c: f"^{chr(c + 64)}" for c in range(32) if c != 9}
INERT[127] = "^?"
INERT.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})
"""Code point -> visible text, for ``str.translate``: the one table."""

INERT_LINES: dict[int, str] = {c: text for c, text in INERT.items() if c != 10}
"""The same table for text of several lines: newlines stay."""

SGR = re.compile(r"\x1b\[[0-9;:]*m")
"""Colour and weight (``ESC [ ... m``): the only sequence worth keeping, and only in the log pane."""


def inert(text: str) -> str:
    """One line: every control character as visible text; tabs stay."""
    return text.translate(INERT)


def inert_lines(text: str) -> str:
    """Several lines: newlines and tabs stay (``\\r\\n`` becomes ``\\n``), every other control is visible."""
    return text.replace("\r\n", "\n").translate(INERT_LINES)


def plain(text: str) -> str:
    """A one-line label from a coloured log: colour dropped, the rest inert."""
    return inert(SGR.sub("", text))


def inert_value(value: object, lines: bool = False) -> object:
    """Strings inside a value (a dict of params, a tool's arguments) made inert; other values as they are."""
    if isinstance(value, str):
        return inert_lines(value) if lines else inert(value)
    if isinstance(value, dict):
        return {inert_value(k): inert_value(v, lines) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(inert_value(v, lines) for v in value)
    return value
