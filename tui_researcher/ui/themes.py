"""Themes are data: ``themes/*.toml`` files become Textual themes, validated before use.

Every colour goes through ``Color.parse``; a broken file is collected, not raised, so the app
can report all of them in one notice and fall back to a theme that loaded.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from textual.color import Color, ColorParseError
from textual.theme import Theme

from ..settings import DEFAULT_THEME, config_dir

COLOR_KEYS = ("primary", "secondary", "accent", "foreground", "background", "surface", "panel", "boost",
              "success", "warning", "error")

VARIABLE_DEFAULTS = {
    "trial-keep": "#4EBF71",
    "trial-discard": "#888888",
    "trial-crash": "#BA3C5B",
    "trial-running": "#0178D4",
    "trial-pending": "#A78BFA",
    "gpu-cool": "#4EBF71",
    "gpu-warm": "#FFA62B",
    "gpu-hot": "#BA3C5B",
    "plot-best": "#FFA62B",
}
"""Our own theme variables (``$trial-keep`` in CSS and markup), for themes that do not set them."""

FALLBACK_THEME = "textual-dark"
"""Used only when even the default theme file cannot be loaded."""


class ThemeError(Exception):
    """One theme file that cannot be used; the message names the file and the key."""


@dataclass
class ThemeLoadResult:
    themes: list[Theme] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.themes]


def shipped_themes_dir() -> Path:
    """``tui_researcher.themes`` when installed; the checkout's ``themes/`` when run from source."""
    try:
        return Path(str(resources.files("tui_researcher.themes")))
    except (ModuleNotFoundError, TypeError):
        return Path(__file__).resolve().parents[2] / "themes"


def theme_dirs() -> list[Path]:
    """The themes shipped with the package, then the user's own (which may override them by name)."""
    return [shipped_themes_dir(), config_dir() / "themes"]


def load_themes(dirs: list[Path] | None = None) -> ThemeLoadResult:
    result = ThemeLoadResult()
    by_name: dict[str, Theme] = {}
    for directory in dirs if dirs is not None else theme_dirs():
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.toml")):
            try:
                theme = load_theme_file(path)
            except ThemeError as exc:
                result.failures.append(str(exc))
                continue
            by_name[theme.name] = theme
    result.themes = sorted(by_name.values(), key=_order)
    return result


def _order(theme: Theme) -> tuple[int, str]:
    """The default first, then the rest by name: the order ctrl+t cycles through."""
    return (0 if theme.name == DEFAULT_THEME else 1, theme.name)


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ThemeError(f"{path.name}: {exc}") from None
    unknown = set(data) - {"name", "dark", "colors", "variables"}
    if unknown:
        raise ThemeError(f"{path.name}: unknown key {sorted(unknown)[0]!r} "
                         "(expected name, dark, [colors], [variables])")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f"{path.name}: name: expected a non-empty string")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{path.name}: dark: expected true or false, got {dark!r}")
    colors = _table(path, data, "colors")
    bad = set(colors) - set(COLOR_KEYS)
    if bad:
        raise ThemeError(f"{path.name}: colors.{sorted(bad)[0]}: not a theme colour ({', '.join(COLOR_KEYS)})")
    if "primary" not in colors:
        raise ThemeError(f"{path.name}: colors.primary: required")
    variables = _table(path, data, "variables")
    for section, table in (("colors", colors), ("variables", variables)):
        for key, value in table.items():
            _check_colour(path, f"{section}.{key}", value)
    return Theme(name=name.strip(), dark=dark, variables=dict(variables), **colors)


def _table(path: Path, data: dict, key: str) -> dict[str, str]:
    table = data.get(key, {})
    if not isinstance(table, dict):
        raise ThemeError(f"{path.name}: [{key}]: expected a table")
    return table


def _check_colour(path: Path, key: str, value: object) -> None:
    if not isinstance(value, str):
        raise ThemeError(f"{path.name}: {key}: expected a colour string, got {value!r}")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{path.name}: {key}: {value!r} is not a colour") from None


def choose_theme(wanted: str, available: Iterable[str]) -> tuple[str, str]:
    """The theme to start with, and why it is not the one asked for ("" when it is, or was the default)."""
    available = set(available)
    if wanted in available:
        return wanted, ""
    fallback = DEFAULT_THEME if DEFAULT_THEME in available else FALLBACK_THEME
    return fallback, "" if wanted == DEFAULT_THEME else f"theme {wanted!r} not found; using {fallback}"
