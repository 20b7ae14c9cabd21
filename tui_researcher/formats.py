"""How times and counts are written: one formatter each, so the app and the --no-ui lines agree."""

from __future__ import annotations


def format_duration(seconds: float, *, always_hours: bool = False) -> str:
    """h:mm:ss, or m:ss under an hour unless ``always_hours`` (a column of them then lines up)."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours or always_hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def format_tokens(tokens: int) -> str:
    """12, 48.2k, 1.3M: short enough for the status line."""
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:.1f}M"
    if tokens >= 1_000:
        return f"{tokens / 1_000:.1f}k"
    return str(tokens)
