"""The full-screen face. Textual is imported only when a function here is called, never at import.

``run_app`` runs the loop inside the app (``tui-researcher run``); ``attach_app`` opens the same
app on a loop that runs elsewhere (``tui-researcher attach``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..config import Config


def run_app(project: Path, config: "Config", *, max_cycles: int | None = None,
            planner_factory: Callable | None = None) -> int:
    """Run the loop with the app as its face; the exit code follows the quit choice and the loop."""

    async def main() -> int:
        from ..controller import Controller
        from .app import ResearcherApp
        from .source import LiveSource

        controller = Controller(project, config, max_cycles=max_cycles)
        if planner_factory is not None:
            controller.planner = planner_factory(controller.bench)
        app = ResearcherApp(LiveSource(controller))
        await app.run_async()
        return app.return_code or 0

    return asyncio.run(main())


def attach_app(project: Path, config: "Config", *, read_only: bool = False) -> int:
    """Open the app on a loop that runs elsewhere; quitting it never stops that loop (read-only: sends nothing)."""
    from .app import ResearcherApp
    from .source import FileSource

    app = ResearcherApp(FileSource(project, config, read_only=read_only))
    app.run()
    return app.return_code or 0
