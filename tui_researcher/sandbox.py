"""What each command the loop runs for the worker may touch: one policy, one wrapper, four kinds.

``run_shell``, every dry-run, every training and every evaluator go through the same wrapper
(``sandbox_wrapper.py``, sent to the host as ``python -c``); they differ only in the mounts this
module lists for them:

- the trial's tree (where the command runs) is writable, except for the controller's files,
  ``runs/``, the evaluator's files and ``metric.protected``, which are read-only to all four;
- a training also writes its own run directory (results, checkpoints), never the sidecars the
  trial runner writes there (pid, exit code, log), and ``experiment.writable`` (caches, /dev/shm);
  a dry-run may fill the same caches;
- an evaluator writes nothing but its private /tmp;
- ``run_shell`` has rlimits (memory, processes) and no network unless ``agent.tool_network``;
  the others have network as ``experiment.network`` says;
- ``run_shell``, whose output goes to the model's provider, sees only the system's directories
  (/usr, /etc, /opt, /var...), the workspace, the tools on PATH and ``agent.tool_readable``: the
  home, /srv, /mnt, data disks and whatever lies beside the project are out of its sight.

Everything else on the host (the installed package included) is read-only, /tmp is private, the
credential stores in the home (``SECRET_STORES``) and the host's own secrets in /etc
(``SYSTEM_SECRETS``) are empty, and /proc shows only the command's own processes.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .trial import StrEnum

if TYPE_CHECKING:
    from .backends.base import Backend
    from .config import Config
    from .paths import ProjectPaths

WRAPPER_SOURCE = Path(__file__).with_name("sandbox_wrapper.py").read_text(encoding="utf-8")
SANDBOX_EXIT = 97
"""The wrapper's exit code when it cannot build the sandbox (its stderr says why)."""
SANDBOXED_ENV = "TUI_RESEARCHER_SANDBOX"
"""Set in a launch's env: the trial runner then learns the training's host pid from the wrapper."""
SIDECARS = ("pid.json", "exit.json", "train.log", "launch.lock", "job.sh", "job.json")
"""The files the trial runner (and Slurm) write in a run directory: never the trial's to write."""
SEALED = ("HUMAN_DIRECTIVE.md", "commands.jsonl", "MEMORY_LOG.md", "state.json", "trials.jsonl", "events.jsonl",
          ".lock")
"""Controller files that may be absent when a command starts: an empty placeholder is made, bound read-only
and removed after the command if still empty (an empty directive, memory or legacy file means nothing)."""
PROTECTED_DIRS = ("runs/", "directive_archive/")
SECRET_STORES = ("~/.ssh", "~/.aws", "~/.azure", "~/.gnupg", "~/.kube", "~/.docker/config.json", "~/.netrc",
                 "~/.git-credentials", "~/.pypirc", "~/.config/gcloud", "~/.config/gh", "~/.anthropic", "~/.claude",
                 "~/.claude.json", "~/.codex", "~/.config/tui-researcher", "~/.huggingface/token",
                 "~/.cache/huggingface/token")
"""Credential stores in the host's home: empty to every command the worker's side runs, as the API keys are
absent from its environment (a training that needs a token gets it through ``experiment`` env, knowingly)."""
SYSTEM_SECRETS = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/ssh/ssh_host_rsa_key",
                  "/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_dsa_key",
                  "/etc/munge/munge.key", "/etc/slurm/slurmdbd.conf")
"""The host's own secrets in /etc, which a controller run as root would otherwise let its commands read (a
host key, munge's key that forges Slurm credentials): empty to every kind, as no training needs them."""


class Kind(StrEnum):
    SHELL = "run_shell"
    DRY_RUN = "dry-run"
    TRAIN = "training"
    EVAL = "evaluator"


def evaluator_files(config: Config) -> list[str]:
    """The workspace-relative files named in ``metric.evaluate`` (``eval.py`` of ``python3 eval.py ...``)."""
    template = config.metric.evaluate or ""
    try:
        words = shlex.split(template)
    except ValueError:
        return []
    return [posixpath.normpath(w) for w in words[1:] if "{" not in w and not w.startswith(("-", "/", ".."))
            and "." in posixpath.basename(w)]


def worker_protected(paths: ProjectPaths, config: Config) -> list[str]:
    """Workspace-relative paths (``dir/`` for directories, globs allowed) no worker-side command may write."""
    names = list(paths.protected()) + list(PROTECTED_DIRS)
    metric_file = config.metric.file
    if metric_file and not metric_file.startswith(("/", "..")):
        names.append(posixpath.normpath(metric_file))
    return names + evaluator_files(config) + list(config.metric.protected) + _user_files_inside(paths, config)


def _user_files_inside(paths: ProjectPaths, config: Config) -> list[str]:
    """The brief and config.yaml where they lie inside the workspace (``project.workspace: .``)."""
    found = []
    for path in (paths.root / config.project.brief, config.path):
        if path is None:
            continue
        rel = posixpath.relpath(str(Path(path).resolve()), str(paths.workspace))
        if not rel.startswith(".."):
            found.append(rel)
    return found


@dataclass(frozen=True)
class Isolation:
    """Whether a host can build the namespaces, and what is unprotected where it cannot."""

    available: bool
    reason: str = ""

    def warning(self, host: str) -> str:
        return (f"host {host}: commands are NOT sandboxed ({self.reason}): training, dry-runs, the evaluator and "
                f"run_shell can write the controller's files, other processes' /proc and everything the "
                f"user can; setsid children can outlive a stop")


@dataclass(frozen=True)
class Sandbox:
    """The mounts, network and limits of one kind of command, in the host's absolute paths."""

    kind: Kind
    tree: str
    mounts: tuple[tuple[str, str], ...]
    network: bool
    rlimits: dict[str, int] = field(default_factory=dict)
    isolate: bool = True
    degrade: bool = False
    """Where namespaces fail at run time, run unprotected with a warning in the output rather than not at
    all: a scheduler's compute node is not the machine the controller probed."""
    conceal: bool = False
    """Cover the top-level directories outside the system's (home, data disks) but for what is mounted."""

    def argv(self, python: str, *, cmd: str | None = None, argv: list[str] | None = None,
             cwd: str | None = None) -> list[str]:
        """``python -I -S -c WRAPPER SPEC``: the command ``cmd`` (shell text) or ``argv``, inside this sandbox
        (the wrapper's interpreter skips site and PYTHON* variables: a third of its start-up)."""
        spec = {"kind": str(self.kind), "tree": self.tree, "cwd": cwd or self.tree, "mounts": self.mounts,
                "network": self.network, "rlimits": self.rlimits, "isolate": self.isolate, "degrade": self.degrade,
                "conceal": self.conceal, "cmd": cmd, "argv": argv}
        return [python, "-I", "-S", "-c", WRAPPER_SOURCE, json.dumps(spec)]   # stdlib only: no site, no env

    def describe(self) -> str:
        """One line for doctor: what this kind may write and reach."""
        writable = [p for op, p in self.mounts if op == "rw"]
        limits = ", ".join(f"{k} {v}" for k, v in self.rlimits.items())
        sees = "; sees only the system, the workspace and its tools" if self.conceal else ""
        return (f"writes {', '.join(writable) or 'nothing'} and a private /tmp; "
                f"network {'yes' if self.network else 'no'}" + (f"; limits: {limits}" if limits else "") + sees)


def sandbox_for(kind: Kind, config: Config, paths: ProjectPaths, *, root: str, tree: str | None = None,
                run_dir: str | None = None, isolate: bool = True, degrade: bool = False) -> Sandbox:
    """The sandbox of one command; ``root`` is the workspace as the host sees it, ``tree`` the
    directory the command runs in and may write (the workspace until trials get trees of their own),
    ``run_dir`` (workspace-relative) the training's own run directory."""
    tree = tree or root
    mounts: list[tuple[str, str]] = [("ro" if kind == Kind.EVAL else "rw", tree)]
    if tree != root:   # the rest of the workspace stays in view, read-only, wherever it lies (under /tmp too)
        mounts.insert(0, ("ro", root))
    if kind in (Kind.TRAIN, Kind.DRY_RUN):
        mounts += [("rw", p) for p in config.experiment.writable]
    for name in worker_protected(paths, config):
        op = "ro_glob" if any(c in name for c in "*?[") else ("seal" if name in SEALED else "ro")
        mounts.append((op, posixpath.join(root, name.rstrip("/")) if op != "ro_glob" else name))
    if tree != root:   # a trial's own tree holds copies of the evaluator's files: read-only there too
        mounts += [("ro", posixpath.join(tree, name)) for name in evaluator_files(config) + list(config.metric.protected)
                   if not any(c in name for c in "*?[")]
    if kind == Kind.TRAIN and run_dir:
        own = posixpath.join(root, run_dir)
        mounts.append(("rw", own))
        mounts += [("seal" if name in ("exit.json", "pid.json") else "ro", posixpath.join(own, name))
                   for name in SIDECARS]
    shell = kind == Kind.SHELL
    if shell:
        mounts += [("ro", p) for p in config.agent.tool_readable]
    mounts += [("hide", p) for p in SECRET_STORES + SYSTEM_SECRETS]
    network = config.agent.tool_network if shell else config.experiment.network
    rlimits = {"memory_mb": config.agent.tool_memory_mb, "processes": config.agent.tool_max_processes} if shell else {}
    return Sandbox(kind, tree, tuple(mounts), network, rlimits, isolate, degrade, conceal=shell)


async def isolation(backend: Backend, python: str | None = None) -> Isolation:
    """Probe once per host (cached on the backend) whether the namespaces can be built there."""
    if backend.isolation is not None:
        return backend.isolation
    from .errors import BackendError
    probe = Sandbox(Kind.SHELL, backend.root, (("rw", backend.root),), False)
    try:
        result = await backend.run(probe.argv(python or backend.python or "python3", cmd="true"), timeout=30)
    except BackendError as exc:
        return Isolation(False, str(exc)[:200])   # not cached: the host may come back
    if result.exit_code == 0:
        found = Isolation(True)
    else:
        found = Isolation(False, (result.stderr or result.stdout).strip()[:200] or f"exit {result.exit_code}")
    backend.isolation = found
    return found


def launch_env(sandboxed: bool) -> dict[str, Any]:
    return {SANDBOXED_ENV: "1"} if sandboxed else {}
