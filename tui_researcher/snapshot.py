"""Every trial's code, as it ran: commits in a private git directory the controller owns.

The git directory lives at ``workspace/.tui-researcher/code.git`` whatever the workspace is: a
plain directory (the sample) or part of the user's repository. It is never the user's repository:
their branches, index, working tree, hooks and config are never read or touched, and the
same code path serves both cases. Each trial's commit has its parent's commit as parent and sits
under ``refs/tui-researcher/<trial>``; the workspace's own code is ``refs/tui-researcher/workspace``.
Every command gets its own index file and work tree through the environment, and a config that
ignores the user's and the system's, so no hook or filter runs. Nothing here touches a host:
``trees.py`` moves trees between this machine and the hosts.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ResearcherError

REF = "refs/tui-researcher/"
EXCLUDE = ("/runs/", "/trees/", "/.tui-researcher/", "/directive_archive/", "/journal/", "__pycache__/", "*.pyc",
           ".ipynb_checkpoints/", "/researcher.db*", "/state.json", "/trials.jsonl", "/MEMORY_LOG.md",
           "/HUMAN_DIRECTIVE.md", "/events.jsonl", "/commands.jsonl", "/.lock", "*.migrated", "*.tui-tmp")
"""Never code: the controller's files, run outputs, trees, and caches."""
DIFF_CAP = 4_000
"""The diff kept in the trial's record (read with every page of the trials view, so small); whole in
``runs/<trial>/code.diff`` and from ``tui-researcher diff``."""
_SHA = re.compile(r"^[0-9a-f]{40,64}$")


class SnapshotError(ResearcherError):
    """git failed, or a name given on the command line is not a snapshot."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    commit: str
    diff: str
    files: list[str]


class CodeStore:
    """The private git directory: commit a tree, diff two commits, write a commit's files out."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.meta = workspace / ".tui-researcher"
        self.git_dir = self.meta / "code.git"

    # plumbing --------------------------------------------------------------------------------

    def _env(self, work_tree: Path | None, index: Path | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_DIR=str(self.git_dir), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull,
                   GIT_TERMINAL_PROMPT="0", GIT_AUTHOR_NAME="tui-researcher", GIT_COMMITTER_NAME="tui-researcher",
                   GIT_AUTHOR_EMAIL="tui-researcher@localhost", GIT_COMMITTER_EMAIL="tui-researcher@localhost",
                   LC_ALL="C")
        if work_tree is not None:
            env["GIT_WORK_TREE"] = str(work_tree)
        if index is not None:
            env["GIT_INDEX_FILE"] = str(index)
        return env

    async def git(self, *args: str, work_tree: Path | None = None, index: Path | None = None,
                  check: bool = True) -> str:
        await self._init()
        return await self._run(args, work_tree, index, check)

    async def _run(self, args, work_tree, index, check) -> str:
        try:
            proc = await asyncio.create_subprocess_exec(
                "git", "-c", "core.autocrlf=false", "-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false",
                "-c", "core.looseCompression=0",
                *args, cwd=str(work_tree or self.meta), env=self._env(work_tree, index),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        except FileNotFoundError:
            raise SnapshotError("git is not installed: code snapshots need it (apt install git)") from None
        out, err = await proc.communicate()
        if check and proc.returncode != 0:
            raise SnapshotError(f"git {args[0]} failed: {err.decode(errors='replace').strip()[:300]}")
        return out.decode("utf-8", "replace")

    async def _init(self) -> None:
        if (self.git_dir / "HEAD").exists():
            return
        self.meta.mkdir(parents=True, exist_ok=True)
        (self.meta / ".gitignore").write_text("*\n", encoding="utf-8")   # not the user's: their git ignores it
        await self._run(("init", "-q", "--bare", str(self.git_dir)), None, None, True)
        info = self.git_dir / "info"
        info.mkdir(exist_ok=True)
        (info / "exclude").write_text("\n".join(EXCLUDE) + "\n", encoding="utf-8")

    def index(self, name: str) -> Path:
        return self.meta / "index" / name

    # snapshots -------------------------------------------------------------------------------

    async def commit(self, tree_dir: Path, *, parent: str | None, name: str, index: Path | None = None) -> str:
        """Commit ``tree_dir``'s code on ``parent`` as ``refs/tui-researcher/<name>`` (its index keeps
        unchanged files from being hashed again)."""
        tree = await self._write_tree(tree_dir, index or self.index(name))
        commit = (await self.git("commit-tree", tree, "-m", name, *(["-p", parent] if parent else []))).strip()
        await self.git("update-ref", REF + name, commit)
        return commit

    async def _write_tree(self, tree_dir: Path, index: Path) -> str:
        index.parent.mkdir(parents=True, exist_ok=True)
        await self.git("add", "-A", "--ignore-errors", ".", work_tree=tree_dir, index=index)
        return (await self.git("write-tree", work_tree=tree_dir, index=index)).strip()

    async def workspace_code(self) -> str:
        """The workspace's code now, as a commit: the same commit while it is unchanged."""
        current = await self.resolve("workspace", missing_ok=True)
        if current:
            tree = await self._write_tree(self.workspace, self.index("workspace"))
            if (await self.git("rev-parse", f"{current}^{{tree}}")).strip() == tree:
                return current
        return await self.commit(self.workspace, parent=current or None, name="workspace")

    async def resolve(self, name: str, *, missing_ok: bool = False) -> str:
        """A trial id, ``workspace``, or a commit id, as a full commit id."""
        ref = name if _SHA.match(name) else REF + name
        out = await self.git("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
        if not out.strip():
            if missing_ok:
                return ""
            raise SnapshotError(f"{name}: no code snapshot (trials launched before snapshots have none)")
        return out.strip()

    async def snapshot(self, tree_dir: Path, *, base: str, name: str, index: Path | None = None) -> Snapshot:
        """Commit a trial's tree on top of ``base`` and diff it against ``base``."""
        commit = await self.commit(tree_dir, parent=base, name=name, index=index)
        return Snapshot(commit, await self.diff(base, commit), await self.changed(base, commit))

    async def diff(self, a: str, b: str) -> str:
        return await self.git("diff", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", a, b)

    async def changed(self, a: str, b: str) -> list[str]:
        out = await self.git("diff", "--name-only", "--no-renames", a, b)
        return [line for line in out.splitlines() if line]

    async def blobs(self, commit: str) -> dict[str, str]:
        """Each regular file of ``commit`` and its blob id: what lets a remote host tell code from output."""
        out = await self.git("ls-tree", "-r", "-z", "--full-tree", commit)
        found = {}
        for entry in out.split("\0"):
            meta, _, path = entry.partition("\t")
            parts = meta.split()
            if path and len(parts) == 3 and parts[1] == "blob" and parts[0] in ("100644", "100755"):
                found[path] = parts[2]
        return found

    async def checkout(self, commit: str, target: Path, *, index: Path | None = None) -> None:
        """Write ``commit``'s files into ``target`` (created); ``index`` then describes them, so a later
        ``commit`` of ``target`` hashes only what changed."""
        target.mkdir(parents=True, exist_ok=True)
        index = index or self.index(f"checkout-{os.getpid()}-{id(target)}")
        index.parent.mkdir(parents=True, exist_ok=True)
        await self.git("read-tree", commit, work_tree=target, index=index)
        await self.git("checkout-index", "-a", "-f", "-u", work_tree=target, index=index)   # -u: stat info kept
        if index.name.startswith("checkout-"):
            index.unlink(missing_ok=True)

    async def archive(self, commit: str) -> bytes:
        """The commit's files as one tar (how a remote host's tree gets them in one round trip)."""
        await self._init()
        proc = await asyncio.create_subprocess_exec(
            "git", "archive", "--format=tar", commit, cwd=str(self.meta), env=self._env(None, None),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise SnapshotError(f"git archive failed: {err.decode(errors='replace').strip()[:300]}")
        return out


def capped(diff: str, limit: int = DIFF_CAP) -> str:
    if len(diff) <= limit:
        return diff
    return diff[:limit] + f"\n[... {len(diff) - limit:,} more chars: the whole diff is in runs/<trial>/code.diff]\n"
