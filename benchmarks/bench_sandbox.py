"""What the one sandbox costs per command: run_shell, a dry-run and a launch, each against the same
command unsandboxed, through the real local host helper, in the same run (ratios, never absolutes).

    python benchmarks/bench_sandbox.py [N]

run_shell and the dry-run are ``backend.run`` of ``true`` and ``python -c pass``; a launch is
``backend.launch`` of ``python -c pass`` (the time until the helper answers with the training's
pid) and then until its exit code is readable. (The code snapshot's cost per trial is measured by
the snapshot's own half of this benchmark, in the branch that builds trees per trial.)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.polling import probe_until  # noqa: E402
from tui_researcher.backends.base import TrialRef  # noqa: E402
from tui_researcher.backends.local import LocalBackend  # noqa: E402
from tui_researcher.config import Config  # noqa: E402
from tui_researcher.paths import ProjectPaths  # noqa: E402
from tui_researcher.sandbox import Kind, launch_env, sandbox_for  # noqa: E402
from timing import timed  # noqa: E402  (benchmarks/timing.py)


def row(name: str, plain: list[float], boxed: list[float]) -> None:
    p, b = statistics.median(plain), statistics.median(boxed)
    print(f"{name:<22} plain {p * 1000:8.2f} ms   sandboxed {b * 1000:8.2f} ms   ratio {b / p:5.2f}x   "
          f"(+{(b - p) * 1000:.2f} ms)")


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "workspace" / "runs").mkdir(parents=True)
        config, paths = Config(), ProjectPaths.at(project, "workspace")
        backend = LocalBackend(paths.workspace)
        await backend.start()
        root, py = backend.root, backend.python
        try:
            shell = sandbox_for(Kind.SHELL, config, paths, root=root)
            dry = sandbox_for(Kind.DRY_RUN, config, paths, root=root)
            row("run_shell (true)", await timed(lambda: backend.run(["sh", "-c", "true"]), n),
                await timed(lambda: backend.run(shell.argv(py, cmd="true")), n))
            row("dry-run (python)", await timed(lambda: backend.run([py, "-c", "pass"]), n),
                await timed(lambda: backend.run(dry.argv(py, argv=[py, "-c", "pass"])), n))
            counter = iter(range(10 ** 6))

            async def launch(sandboxed: bool) -> None:
                run_dir = f"runs/b{next(counter)}"
                argv = [py, "-c", "pass"]
                if sandboxed:
                    argv = sandbox_for(Kind.TRAIN, config, paths, root=root, run_dir=run_dir).argv(py, argv=argv)
                info = await backend.launch(argv, run_dir=run_dir, env=launch_env(sandboxed))
                await probe_until(backend, TrialRef(id="b", run_dir=run_dir, pid=info.pid,
                                                    start_time=info.start_time), lambda t: t.exit_code is not None)

            row("launch to exit code", await timed(lambda: launch(False), n), await timed(lambda: launch(True), n))
        finally:
            await backend.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
