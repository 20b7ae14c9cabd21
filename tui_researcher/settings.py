"""The user's own preferences (theme, keys), shared by every project, in one TOML file.

They live under the XDG config directory, apart from a project's ``config.yaml``: a theme or a
key is a person's choice, not an experiment's. Read with ``tomllib``, written atomically with
``tomli-w``. Nothing here imports Textual; the app applies what this module reads.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project supports 3.10 through the tomli backport
    import tomli as tomllib

import tomli_w

from .fsutil import write_atomic

APP_DIR = "tui-researcher"
DEFAULT_THEME = "researcher-dark"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/tui-researcher``, or ``~/.config/tui-researcher`` when the variable is unset."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / APP_DIR


def settings_path() -> Path:
    return config_dir() / "settings.toml"


@dataclass
class Settings:
    """What a person chose for how the app looks and answers keys."""

    theme: str = DEFAULT_THEME
    """Theme name: one from the ``themes/*.toml`` files (researcher-dark, researcher-light,
    researcher-high-contrast, or a file of your own under ``<config dir>/themes``) or any Textual theme."""

    keymap: dict[str, str] = field(default_factory=dict)
    """Binding id -> keys, overriding the defaults, e.g. ``pause = "space"``. Ids: pause, resume,
    pivot, directive, stop_trial, trials, follow, next_theme, help, quit."""

    log_max_lines: int = 5000
    """Lines the training-log pane keeps; older lines drop off the top (the log file keeps them all)."""

    bell: bool = True
    """Ring the terminal bell on an alert: a new best, a crash streak, the spending cap, the loop's end, a host
    down (the events ``notify.urls`` are sent)."""


def load_settings(path: Path | None = None) -> tuple[Settings, str]:
    """The settings and a one-line problem ("" when none); a broken file never stops the app."""
    path = path or settings_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Settings(), ""
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return Settings(), f"{path}: unreadable ({exc}); using default settings"
    return _from_dict(data, path)


def _from_dict(data: dict[str, Any], path: Path) -> tuple[Settings, str]:
    settings = Settings()
    problems = []
    known = {f.name: f for f in fields(Settings)}
    for key, value in data.items():
        if key not in known:
            problems.append(f"unknown key {key!r}")
            continue
        default = getattr(settings, key)
        if key == "keymap":
            if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                settings.keymap = dict(value)
            else:
                problems.append("keymap: expected a table of binding id = \"keys\"")
        elif type(value) is not type(default):    # strict: true is not a number, 1 is not a boolean
            problems.append(f"{key}: expected {type(default).__name__}, got {value!r}")
        else:
            setattr(settings, key, value)
    if settings.log_max_lines < 100:
        problems.append(f"log_max_lines: {settings.log_max_lines} is below 100; using 100")
        settings.log_max_lines = 100
    problem = f"{path}: {'; '.join(problems)}" if problems else ""
    return settings, problem


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write the whole file atomically: a crash mid-write leaves the previous settings."""
    path = path or settings_path()
    write_atomic(path, tomli_w.dumps(asdict(settings)))
