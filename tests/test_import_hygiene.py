"""Import boundaries, read from the code itself.

- The core never loads Textual: every module outside ``tui_researcher.ui`` (and ``ui/__init__``,
  which imports the app only when called) leaves ``textual`` out of sys.modules.
- MONITOR is zero-LLM by construction: ``monitor``, ``collect`` and ``verdict`` reach no planner,
  agent or provider SDK, neither at import time nor through a lazy import inside a function.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tui_researcher"


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


CORE_MODULES = sorted(module_name(p) for p in PACKAGE.rglob("*.py")
                      if "prompts" not in p.parts and (not module_name(p).startswith("tui_researcher.ui.")))
ZERO_LLM = ["tui_researcher.monitor", "tui_researcher.collect", "tui_researcher.verdict"]
LLM_MODULES = ("tui_researcher.planner", "tui_researcher.agents", "tui_researcher.reflect", "anthropic", "openai")


def loaded_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return set(proc.stdout.split())


def test_every_core_module_is_listed() -> None:
    assert "tui_researcher.controller" in CORE_MODULES and "tui_researcher.backends.ssh" in CORE_MODULES
    assert "tui_researcher.agents.leader" in CORE_MODULES and "tui_researcher.ui" in CORE_MODULES
    assert not any(m.startswith("tui_researcher.ui.") for m in CORE_MODULES)


def test_core_modules_do_not_load_textual() -> None:
    statement = "\n".join(f"import {m}" for m in CORE_MODULES)
    statement += "\nfrom tui_researcher.cli import build_parser; build_parser().parse_args(['run', '--no-ui'])"
    assert "textual" not in loaded_after(statement)


def test_the_app_module_does_load_textual() -> None:
    """The guard above can fail: the same probe sees Textual once the app itself is imported."""
    assert "textual" in loaded_after("import tui_researcher.ui.app")


def imports_of(module: str) -> set[str]:
    """Every tui_researcher module ``module`` imports anywhere in its file (function bodies included)."""
    path = PACKAGE.parent / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(0, node.level - 1)):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else (node.module or base)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = PACKAGE.parent / Path(*module.split("."))
        if module.startswith("tui_researcher") and (path.with_suffix(".py").exists() or path.is_dir()):
            todo.extend(imports_of(module))
    return seen


@pytest.mark.parametrize("module", ZERO_LLM)
def test_monitoring_reaches_no_planner_agent_or_provider(module: str) -> None:
    graph = reachable(module)
    assert "tui_researcher.backends.base" in graph or module == "tui_researcher.verdict"
    bad = sorted(m for m in graph if m.startswith(LLM_MODULES))
    assert not bad, f"{module} reaches {bad}"
    at_runtime = loaded_after(f"import {module}")
    assert not sorted(m for m in at_runtime if m.startswith(LLM_MODULES))


def test_the_graph_check_can_fail() -> None:
    """The controller does reach the planner: the same walk sees it."""
    assert "tui_researcher.planner" in reachable("tui_researcher.controller")
