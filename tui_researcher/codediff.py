"""A file's change as a unified diff, cut to a size a ledger record, a note and a report can hold."""

from __future__ import annotations

import difflib

MAX_DIFF_CHARS = 20_000


def unified(old: str, new: str, path: str, limit: int = MAX_DIFF_CHARS) -> str:
    """``git diff``-style text from ``old`` to ``new`` ("" when they are equal); the cut is said, never silent."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{path}" if old else "/dev/null", tofile=f"b/{path}")
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    if len(text) > limit:
        text = text[:limit].rsplit("\n", 1)[0] + f"\n... [diff cut at {limit:,} of {len(text):,} chars]\n"
    return text
