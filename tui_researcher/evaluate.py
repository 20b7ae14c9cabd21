"""``metric.evaluate``: the controller's own measurement of a trial that exited 0.

The worker can change the training and what it prints, but not the evaluator: its files and
``metric.protected`` are read-only to every command of the worker's side (``sandbox.py``), and
it runs in the same sandbox as everything else, writing nothing but its private /tmp. Its output
is parsed by the same ``metric`` rules as a log; it is the trial's metric.
"""

from __future__ import annotations

import posixpath
import shlex

from .backends.base import Backend, RunResult
from .config import Config
from .config.models import PLACEHOLDER
from .errors import BackendError
from .paths import ProjectPaths
from .sandbox import Kind, isolation, sandbox_for
from .trial import Trial


def evaluate_argv(template: str, *, root: str, trial: Trial) -> list[str]:
    """The template's words with {run_dir}, {trial} and {workspace} filled (host paths); each stays one word."""
    fields = {"run_dir": posixpath.join(root, trial.run_dir), "trial": trial.id, "workspace": root}
    return [PLACEHOLDER.sub(lambda m: fields[m.group(1)], word) for word in shlex.split(template)]


class Evaluator:
    def __init__(self, config: Config, paths: ProjectPaths) -> None:
        self.config = config
        self.paths = paths

    @property
    def declared(self) -> bool:
        return bool(self.config.metric.evaluate)

    async def run(self, backend: Backend, trial: Trial) -> RunResult:
        """The evaluator's output on the trial's host; a failure to run it is a failed result, never a raise."""
        found = await isolation(backend)
        sandbox = sandbox_for(Kind.EVAL, self.config, self.paths, root=backend.root, isolate=found.available)
        argv = evaluate_argv(self.config.metric.evaluate or "", root=backend.root, trial=trial)
        try:
            return await backend.run(sandbox.argv(backend.python or "python3", argv=argv),
                                     timeout=self.config.metric.evaluate_timeout)
        except BackendError as exc:
            return RunResult(exit_code=None, stderr=str(exc))
