"""Small drawings in text cells: a progress bar, a sparkline, a params summary. Pure; the panes colour them."""

from __future__ import annotations

import math
from typing import Sequence

from ..formats import format_duration
from .ansi import display_line, plain
from ..progress import Progress

PARAMS_CHARS = 24
"""At most, for the trials table's params column: the detail dialog has them whole."""

EIGHTHS = " ▏▎▍▌▋▊▉█"
SPARKS = "▁▂▃▄▅▆▇█"


def bar(fraction: float, width: int) -> str:
    """``width`` cells, filled to ``fraction`` in eighths of a cell; the rest a faint track."""
    fraction = max(0.0, min(1.0, fraction))
    eighths = round(fraction * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (EIGHTHS[part] if part and full < width else "")
    return text + "·" * (width - len(text))


def sparkline(values: Sequence[float], width: int, *, scale: Sequence[float] = ()) -> str:
    """The newest ``width`` values, low to high in eight steps (flat: the middle step).

    ``scale``: more values the range must cover, so two sparklines drawn with it compare."""
    shown = [v for v in values if math.isfinite(v)][-width:]
    if not shown:
        return ""
    covered = shown + [v for v in scale if math.isfinite(v)]
    low, high = min(covered), max(covered)
    if high == low:
        return SPARKS[3] * len(shown)
    return "".join(SPARKS[round((v - low) / (high - low) * 7)] for v in shown)


def progress_text(progress: Progress | None, width: int = 10, *, short: bool = False) -> str:
    """``████▌····· 12/40 eta 0:31``: bar (when the total is known), count, time left (``short``: no "eta")."""
    if progress is None:
        return ""
    parts = []
    if progress.fraction is not None:
        parts.append(bar(progress.fraction, width))
    parts.append(progress.text().removeprefix("progress=").replace(" eta=", " " if short else " eta "))
    return " ".join(parts)


def short_eta(progress: Progress | None) -> str:
    """``12/40 eta 0:31`` for the status line."""
    if progress is None:
        return ""
    eta = f" eta {format_duration(progress.eta_s)}" if progress.eta_s is not None else ""
    count = progress.text().removeprefix("progress=").split(" ")[0]
    return f"{count}{eta}"


def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def params_text(params: dict) -> str:
    """``lr=0.05 batch=256``: short values, inert, cut to ``PARAMS_CHARS``."""
    parts = []
    for key, value in (params or {}).items():
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={' '.join(plain(display_line(shown)).split())}")
    return cut(" ".join(parts), PARAMS_CHARS) or "–"
