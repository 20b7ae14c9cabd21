"""Text from a training script made inert: control characters become visible, so no face can be repainted.

Both faces show text they do not control (training logs, tool results). A clear-screen, a
cursor move or a new window title must reach the person as text, never as an action on the
terminal: every C0 control but tab, DEL and every 8-bit C1 control are replaced by caret or
hex text (``^[``, ``^G``, ``^?``, ``\\x9b``). Pure Python, so ``--no-ui`` never imports Textual.
"""

from __future__ import annotations

INERT: dict[int, str] = {c: f"^{chr(c + 64)}" for c in range(32) if c != 9}
INERT[127] = "^?"
INERT.update({c: f"\\x{c:02x}" for c in range(0x80, 0xA0)})
"""Code point -> visible text, for ``str.translate``."""


def inert(text: str) -> str:
    """Every control character as visible text; tabs stay."""
    return text.translate(INERT)
