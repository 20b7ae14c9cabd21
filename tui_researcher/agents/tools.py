"""The workers' tools, safe by default: every path stays in the workspace, protected files stay the
controller's, shell commands run sandboxed with no secrets, and every limit comes from config.

A tool returns text for the model or raises ``ToolError``, whose message tells the model what
was refused and why; nothing a model sends can crash the loop.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Awaitable, Callable

from ..backends.base import Backend
from ..codediff import unified
from ..errors import BackendError, ResearcherError
from ..planner import TrialRunner
from ..sandbox import SEALED, Kind, isolation, sandbox_for, worker_protected
from ..trial import Trial
from ..workbench import Workbench
from .papers import ARXIV_URL, PaperSearchError, search_arxiv
from .providers import ToolSpec
from .sandbox import SANDBOX_EXIT, ProtectedGuard

MAX_WRITE_CHARS = 1_000_000


class ToolError(Exception):
    """A refusal or failure the model should read (it is sent back as the tool's error result)."""


def cut(text: str, limit: int) -> str:
    """Keep the head and the (usually more telling) tail; say how much was cut."""
    if limit <= 0 or len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit:,} chars cut (agent.max_tool_output_chars={limit}) ...]\n{text[-tail:]}"


# schemas ---------------------------------------------------------------------------------

def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


_PATH = {"type": "string", "description": "relative to the workspace"}

SPECS: dict[str, ToolSpec] = {s.name: s for s in (
    ToolSpec("run_shell", "Run a shell command in the workspace (sandboxed: protected files and runs/ are "
             "read-only, no secrets, time-limited). Not for training: use launch_experiment.",
             _schema({"command": {"type": "string"}}, ["command"])),
    ToolSpec("launch_experiment", "dry_run=true: run the command's dry-run and show its output. dry_run=false: "
             "start the training in the background (only after a successful dry-run of the same command); "
             "this ends your turn.",
             _schema({"command": {"type": "string", "description": "e.g. python train.py --lr 0.1"},
                      "dry_run": {"type": "boolean"}}, ["command", "dry_run"])),
    ToolSpec("write_file", "Create or replace a text file.",
             _schema({"path": _PATH, "content": {"type": "string"}}, ["path", "content"])),
    ToolSpec("read_file", "Read a text file.", _schema({"path": _PATH}, ["path"])),
    ToolSpec("list_files", "List files under a directory.",
             _schema({"path": {**_PATH, "default": "."}, "depth": {"type": "integer", "minimum": 1, "maximum": 4}},
                     [])),
    ToolSpec("search_papers", "Search arXiv; returns titles, years, links and abstracts.",
             _schema({"query": {"type": "string"}, "max_results": {"type": "integer", "minimum": 1, "maximum": 10}},
                     ["query"])),
)}


# limits and policy shared by every dispatch -------------------------------------------------

@dataclass
class ShellMode:
    isolated: bool
    reason: str = ""


@dataclass
class ToolPolicy:
    """What every toolbox of one planner shares: limits, secrets to strip, the sandbox probe per host."""

    output_chars: int = 4000
    shell_timeout: float = 120.0
    search_url: str = ARXIV_URL
    search_timeout: float = 20.0
    secret_env: tuple[str, ...] = ()
    sandbox: bool = True
    """False only to exercise the fallback; the sandbox is used wherever the host allows it."""
    modes: dict[str, ShellMode] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Any, secret_env: tuple[str, ...] = ()) -> "ToolPolicy":
        agent = config.agent
        return cls(output_chars=agent.max_tool_output_chars,
                   shell_timeout=float(agent.tool_timeout),
                   search_url=agent.paper_search_url or ARXIV_URL,
                   search_timeout=min(30.0, float(agent.tool_timeout)),
                   secret_env=tuple(n for n in secret_env if n))


def protected_paths(bench: Workbench) -> list[str]:
    """Workspace-relative paths (globs allowed) no tool may write: the controller's, the evaluator's."""
    return worker_protected(bench.paths, bench.config)


# the toolbox -------------------------------------------------------------------------------

Handler = Callable[[dict[str, Any]], Awaitable[str]]


class Toolbox:
    """The tools of one dispatch, bound to the workbench, a backend and (for the code worker) a trial's runner."""

    def __init__(self, bench: Workbench, backend: Backend, policy: ToolPolicy, names: tuple[str, ...], *,
                 runner: TrialRunner | None = None) -> None:
        self.bench = bench
        self.backend = backend
        self.policy = policy
        self.runner = runner
        self.tree = runner.trial.tree if runner is not None else ""
        """The trial's own tree (workspace-relative): the code worker's paths and commands are in it."""
        self.protected = protected_paths(bench)
        self.last_diff = ""
        """The unified diff of the last write_file, for its ledger record (``workers._run_call`` takes it)."""
        handlers: dict[str, Handler] = {
            "run_shell": self.run_shell, "launch_experiment": self.launch_experiment,
            "write_file": self.write_file, "read_file": self.read_file, "list_files": self.list_files,
            "search_papers": self.search_papers}
        self.handlers = {n: handlers[n] for n in names}
        self.specs = [SPECS[n] for n in names]

    async def call(self, name: str, args: dict[str, Any] | None, error: str = "") -> tuple[bool, str]:
        """(ok, text for the model); never raises for anything the model did."""
        if args is None:
            return False, f"{name}: {error or 'arguments missing'}; call it again with a JSON object"
        handler = self.handlers.get(name)
        if handler is None:
            return False, f"no tool named {name!r}; your tools: {', '.join(self.handlers)}"
        known = SPECS[name].schema["properties"]
        unknown = sorted(set(args) - set(known))
        if unknown:
            return False, (f"{name}: unknown argument {', '.join(unknown)}; arguments: {', '.join(known)} "
                           f"(limits such as timeouts come from the config)")
        try:
            return True, cut(await handler(args), self.policy.output_chars)
        except ToolError as exc:
            return False, cut(str(exc), self.policy.output_chars)
        except BackendError as exc:
            return False, cut(f"{name} failed: {_helper_message(str(exc))}", self.policy.output_chars)
        except (OSError, ValueError, KeyError, TypeError) as exc:   # a tool's own fault must not end the loop
            self.bench.notice(f"tool {name} failed: {type(exc).__name__}: {exc}", "error")
            return False, f"{name} failed: {type(exc).__name__}: {exc}"

    # paths -----------------------------------------------------------------------------------

    def path(self, raw: Any, *, write: bool = False, default: str | None = None) -> str:
        """A normalised workspace-relative path, or a ToolError that says why not."""
        if raw is None and default is not None:
            raw = default
        if not isinstance(raw, str) or not raw.strip():
            raise ToolError("path must be a non-empty string relative to the workspace")
        text = raw.strip()
        if text.startswith(("/", "~")) or re.match(r"^[A-Za-z]:[\\/]", text):
            raise ToolError(f"{text!r} refused: absolute paths leave the workspace; give a path relative to it")
        if ".." in PurePosixPath(text.replace("\\", "/")).parts:
            raise ToolError(f"{text!r} refused: '..' would leave the workspace")
        rel = posixpath.normpath(text)
        real = self._local_real(rel)
        if write:
            for candidate in {rel, real or rel}:
                self._refuse_protected(candidate)
        return posixpath.join(self.tree, rel) if self.tree else rel

    def _local_real(self, rel: str) -> str | None:
        """For a workspace on this machine, the path with symlinks resolved (escapes refused)."""
        if self.backend.kind != "local":
            return None
        root = Path(self.bench.paths.workspace) / self.tree
        real = os.path.realpath(root / rel)
        base = os.path.realpath(root)
        if real != base and not real.startswith(base + os.sep):
            raise ToolError(f"{rel!r} refused: it resolves outside the workspace (through a symlink)")
        return os.path.relpath(real, base)

    def _refuse_protected(self, rel: str) -> None:
        for name in self.protected:
            if rel == name.rstrip("/") or (name.endswith("/") and (rel + "/").startswith(name)) or (
                    fnmatch.fnmatchcase(rel, name)):
                raise ToolError(f"{rel} is protected: the controller owns it (protected: "
                                f"{', '.join(self.protected)})")

    # files ------------------------------------------------------------------------------------

    async def write_file(self, args: dict[str, Any]) -> str:
        rel = self.path(args.get("path"), write=True)
        content = args.get("content")
        if not isinstance(content, str):
            raise ToolError("content must be a string")
        if len(content) > MAX_WRITE_CHARS:
            raise ToolError(f"content is {len(content):,} chars; the limit is {MAX_WRITE_CHARS:,}")
        self._changed()
        before = await self._old_text(rel)
        await self.backend.write_file(rel, content)
        shown = posixpath.relpath(rel, self.tree) if self.tree else rel   # the path as the worker sees it
        self.last_diff = unified(before, content, shown)
        if self.runner is not None:
            self.bench.add_diff(self.runner.trial, shown, before, content)
        return f"wrote {args['path'].strip()} ({len(content.encode('utf-8')):,} bytes)"

    async def _old_text(self, rel: str) -> str:
        """What a trial's write replaces ("" for a new file): its diff goes into the lineage."""
        try:
            return await self.backend.read_file(rel, max_bytes=MAX_WRITE_CHARS * 4)
        except (BackendError, OSError):
            return ""

    async def read_file(self, args: dict[str, Any]) -> str:
        rel = self.path(args.get("path"))
        limit = self.policy.output_chars
        text = await self.backend.read_file(rel, max_bytes=200_000)
        if len(text) > limit:
            return (f"{text[:limit]}\n[... {len(text) - limit:,} more chars not shown "
                    f"(agent.max_tool_output_chars={limit}); use run_shell with sed -n or tail for other parts]")
        return text or "(empty file)"

    async def list_files(self, args: dict[str, Any]) -> str:
        rel = self.path(args.get("path"), default=".")
        depth = args.get("depth", 2)
        if not isinstance(depth, int) or isinstance(depth, bool) or not 1 <= depth <= 4:
            raise ToolError("depth must be an integer from 1 to 4")
        entries = await self.backend.list_files(rel, depth=depth)
        shown = [posixpath.relpath(e["path"], self.tree) if self.tree else e["path"] for e in entries]
        lines = [f"{path}  {e['size']:,} B" for path, e in zip(shown[:300], entries)]
        more = f"\n[... {len(entries) - 300} more entries]" if len(entries) > 300 else ""
        return "\n".join(lines) + more if lines else f"{args.get('path') or '.'}: no files"

    # shell ------------------------------------------------------------------------------------

    async def run_shell(self, args: dict[str, Any]) -> str:
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("command must be a non-empty string")
        mode = await self.shell_mode()
        guard = self._guard(mode)
        if guard is not None:
            guard.snapshot(self.bench)
        tree = posixpath.join(self._root(), self.tree) if self.tree else None   # the trial's own tree
        sandbox = sandbox_for(Kind.SHELL, self.bench.config, self.bench.paths, root=self._root(), tree=tree,
                              isolate=mode.isolated)
        self._changed()
        result = await self.backend.run(sandbox.argv(self._python(), cmd=command),
                                        timeout=self.policy.shell_timeout, env=self._env())
        touched = guard.repair(self.bench) if guard else []
        if result.exit_code == SANDBOX_EXIT and result.stderr.startswith("sandbox unavailable"):
            raise ToolError(f"run_shell could not start its sandbox: {result.stderr.strip()[:300]}")
        output = _format_run(result, self.policy.shell_timeout)
        if touched:
            self.bench.notice(f"run_shell changed protected files ({', '.join(touched)}): restored", "warning")
            raise ToolError(f"refused: the command changed protected files ({', '.join(touched)}); they were "
                            f"restored. The controller owns them; do not write them.\n{output}")
        return output

    def _guard(self, mode: ShellMode) -> ProtectedGuard | None:
        """The after-command check of the controller's files, where they live on this machine.

        Sandboxed, only the two gaps of the mounts need it (see sandbox.py): files absent now,
        and the files the controller replaces by rename. Without the sandbox, every protected file.
        """
        if self.backend.kind != "local":
            return None
        workspace = Path(self.bench.paths.workspace)
        files = [p for p in self.protected if not p.endswith("/")]
        files += [os.path.relpath(p, workspace) for p in self._outside()]
        if mode.isolated:
            if not self.bench.paths.memory.exists():
                self.bench.rewrite_memory()             # so it exists to be mounted read-only
            files = [p for p in files if p in ProtectedGuard.FROM_MEMORY or (
                p not in SEALED and p not in ProtectedGuard.STORE and not (workspace / p).exists())]
        return ProtectedGuard(workspace, files)

    async def shell_mode(self) -> ShellMode:
        """Probe once per host whether the namespace sandbox can be built there."""
        name = self.backend.name
        mode = self.policy.modes.get(name)
        if mode is None:
            if not self.policy.sandbox:
                mode = ShellMode(False, "sandbox disabled")
            else:
                mode = await self._probe()
            if not mode.isolated:
                self.bench.notice(
                    f"run_shell on {name} is not sandboxed ({mode.reason}): protected files are checked and "
                    f"restored after each command instead", "warning")
            self.policy.modes[name] = mode
        return mode

    async def _probe(self) -> ShellMode:
        found = await isolation(self.backend, self._python())
        return ShellMode(found.available, found.reason)

    def _changed(self) -> None:
        """The worker may have changed the trial's code: without an evaluator its metric is self-reported."""
        if self.runner is not None:
            self.runner.trial.code_changed = True

    def _python(self) -> str:
        """The host's interpreter: the local backend's, an SSH host's ``python``, else python3."""
        return self.backend.python or "python3"

    def _outside(self) -> tuple[str, ...]:
        """The user's files beside the workspace (brief, config.yaml), where they share a machine."""
        if self.backend.kind != "local":
            return ()
        config = self.bench.config
        paths = [self.bench.paths.root / config.project.brief] + ([config.path] if config.path else [])
        return tuple(str(Path(p).resolve()) for p in paths)

    def _root(self) -> str:
        return self.backend.root or str(self.bench.paths.workspace)

    def _env(self) -> dict[str, Any]:
        return {name: None for name in self.policy.secret_env}

    # experiments --------------------------------------------------------------------------------

    async def launch_experiment(self, args: dict[str, Any]) -> str:
        if self.runner is None:
            raise ToolError("launch_experiment is only available to the code worker of a trial")
        command, dry = args.get("command"), args.get("dry_run")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("command must be a non-empty string")
        if not isinstance(dry, bool):
            raise ToolError("dry_run must be true or false")
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ToolError(f"cannot split the command into arguments: {exc}") from None
        if not argv:
            raise ToolError("command is empty")
        if dry:
            return await self._dry_run(argv)
        try:
            trial = await self.runner.launch(argv)     # the runner's gate: a passing dry-run of this very command
        except ResearcherError as exc:
            raise ToolError(f"{exc}; call launch_experiment with dry_run=true and the same command first") from None
        if trial is None:
            raise ToolError("not launched: the controller is stopping")
        return (f"launched {trial.id} on {trial.host} (pid {trial.pid}); the controller monitors it and "
                f"measures {self.bench.config.metric.name}. Your turn ends here.")

    @property
    def launched(self) -> Trial | None:
        return self.runner.launched if self.runner is not None else None

    async def _dry_run(self, argv: list[str]) -> str:
        result = await self.runner.dry_run(argv)   # a failure the worker may still fix
        dry_argv = self.runner.dry_run_argv(argv)
        status = "ok" if result.ok else ("timed out" if result.timed_out else f"FAILED (exit {result.exit_code})")
        output = (result.stdout + result.stderr).strip() or "(no output)"
        return f"dry-run {status} in {result.duration:.1f}s: {shlex.join(dry_argv)}\n{output}"

    # papers ---------------------------------------------------------------------------------------

    async def search_papers(self, args: dict[str, Any]) -> str:
        query = args.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolError("query must be a non-empty string")
        count = args.get("max_results", 5)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10:
            raise ToolError("max_results must be an integer from 1 to 10")
        try:
            return await search_arxiv(self.policy.search_url, query.strip(), count, self.policy.search_timeout)
        except PaperSearchError as exc:
            raise ToolError(str(exc)) from None


def _format_run(result: Any, timeout: float) -> str:
    if result.timed_out:
        head = f"timed out after {timeout:g}s (agent.tool_timeout) and was killed"
    else:
        head = f"exit {result.exit_code} in {result.duration:.1f}s"
    parts = [head]
    if result.stdout.strip():
        parts.append(result.stdout.rstrip())
    if result.stderr.strip():
        parts.append("[stderr]\n" + result.stderr.rstrip())
    return "\n".join(parts)


def _helper_message(text: str) -> str:
    """The host helper's refusal without the transport prefix (``local: write_file: PermissionError: ...``)."""
    return re.sub(r"^[\w.-]+: \w+: ", "", text)


def summarize_args(args: dict[str, Any] | None, limit: int = 200) -> dict[str, Any]:
    """Arguments as recorded in events and the ledger: long strings cut, so a file's content is not copied."""
    if not isinstance(args, dict):
        return {}
    out = {}
    for key, value in args.items():
        if isinstance(value, str) and len(value) > limit:
            value = value[:limit] + f"… [{len(value):,} chars]"
        out[str(key)] = value
    return out


def elapsed(started: float) -> float:
    return round(time.monotonic() - started, 3)
