"""The core never loads Textual: importing it in a fresh interpreter leaves `textual` out of sys.modules."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEADLESS_IMPORTS = [
    "import tui_researcher.controller",
    "import tui_researcher.cli",
    "import tui_researcher.headless",
    "import tui_researcher.events",
    "import tui_researcher.settings",
    "import tui_researcher.ui",
    "from tui_researcher.cli import build_parser; build_parser().parse_args(['run', '--no-ui'])",
]


@pytest.mark.parametrize("statement", HEADLESS_IMPORTS)
def test_core_imports_do_not_load_textual(statement: str) -> None:
    code = f"{statement}\nimport sys\nprint(','.join(m for m in ('textual',) if m in sys.modules))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    leaked = [m for m in proc.stdout.strip().split(",") if m]
    assert not leaked, f"{statement!r} imported {leaked}"


def test_the_app_module_does_load_textual() -> None:
    """The guard above can fail: the same probe sees Textual once the app itself is imported."""
    code = "import tui_researcher.ui.app, sys; print('textual' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "True"
