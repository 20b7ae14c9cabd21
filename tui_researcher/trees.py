"""Each trial's own tree: its parent's code plus its worker's edits, on the host where it runs.

Before EXECUTE the trial gets ``.tui-researcher/trees/<id>``, written from its base snapshot (the parent the plan
names, else the best, else the workspace's code); the worker edits there, the dry-run and the
training run there, so parallel trials never share a mutable tree and a discarded trial's edits
never reach the next one. At launch the tree is committed (``snapshot.py``) and its diff against
the base recorded. ``keep`` makes a trial the best, and the best's snapshot is the next base.

On this machine (a backend that does not ``seeds_code``) git works on the tree directly. A remote
host gets the base as one tar through the helper (``unpack_tree``) and sends back only the files
its worker changed (``pack_tree``); the controller applies them to its own copy and commits. After the
trial each host drops the files whose content git holds (``prune_tree``, by blob id) and keeps the outputs.
"""

from __future__ import annotations

import base64
import io
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .backends.base import Backend
from .project import Project
from .snapshot import CodeStore, capped
from .trial import Trial

TREES = ".tui-researcher/trees"
"""Beside the private git dir, in a directory the user's own git ignores (``.tui-researcher/.gitignore``)."""


class Trees:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.workspace = project.paths.workspace
        self.store = CodeStore(self.workspace)

    @staticmethod
    def rel(trial_id: str) -> str:
        return f"{TREES}/{trial_id}"

    def local(self, trial_id: str, backend: Backend | None = None) -> Path:
        """The tree on this machine: the host's own where its workspace is here, else a staging copy."""
        root = Path(backend.root) if backend is not None and not backend.seeds_code else self.workspace
        return root / TREES / trial_id

    async def base_for(self, trial: Trial) -> str:
        """The parent the plan names, else the best, else the workspace's code as it is now."""
        ledger = self.project.ledger
        parent = ledger.get(trial.parent) if trial.parent else None
        if parent is not None and parent.snapshot:
            return parent.snapshot
        best = ledger.best(self.project.config.metric.goal)
        if best is not None and best.snapshot:
            return best.snapshot
        return await self.store.workspace_code()

    async def prepare(self, trial: Trial, backend: Backend) -> None:
        """Write the trial's tree from its base, where its worker edits (the first host)."""
        trial.base_snapshot = trial.base_snapshot or await self.base_for(trial)
        trial.tree = self.rel(trial.id)
        await self._place(trial.base_snapshot, trial.id, backend, index=True)

    async def _place(self, commit: str, trial_id: str, backend: Backend, *, index: bool) -> None:
        target = self.local(trial_id, backend)
        if target.exists():
            shutil.rmtree(target)
        if not backend.seeds_code:
            await self.store.checkout(commit, target, index=self.store.index(trial_id) if index else None)
            return
        with tempfile.NamedTemporaryFile(suffix=".tar") as tmp:
            tmp.write(await self.store.archive(commit))
            tmp.flush()
            await backend.put_file(tmp.name, f"{TREES}/.{trial_id}.tar")
        await backend.unpack_tree(self.rel(trial_id), f"{TREES}/.{trial_id}.tar")

    async def snapshot(self, trial: Trial, backend: Backend) -> str:
        """Commit the tree as its worker left it; the diff against its base goes to the record
        (capped); the whole diff is returned, for ``write_diff``."""
        if not trial.tree or not trial.base_snapshot:
            return ""
        local = self.local(trial.id, backend)
        if backend.seeds_code:
            await self._fetch_edits(trial, backend, local)
        snap = await self.store.snapshot(local, base=trial.base_snapshot, name=trial.id,
                                         index=self.store.index(trial.id))
        trial.snapshot, trial.diff, trial.files_changed = snap.commit, capped(snap.diff), snap.files
        trial.code_changed = bool(snap.files)   # what its tree holds, not which tools the worker called
        return snap.diff

    @staticmethod
    async def write_diff(trial: Trial, backend: Backend, diff: str) -> None:
        """The whole diff beside the trial's log, on the host that runs it (``runs/<id>/code.diff``)."""
        if trial.snapshot:
            await backend.write_file(f"{trial.run_dir}/code.diff", diff)

    async def _fetch_edits(self, trial: Trial, backend: Backend, local: Path) -> None:
        """The remote tree's changed files over the base, applied to this machine's copy of the base."""
        await self.store.checkout(trial.base_snapshot, local, index=self.store.index(trial.id))
        packed = await backend.pack_tree(trial.tree)
        for rel in packed["deleted"]:
            (local / rel).unlink(missing_ok=True)
        root = local.resolve()
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(packed["tar"])), mode="r") as tar:
            for member in tar.getmembers():
                if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
                    continue
                dest = local / member.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                if dest.is_symlink():
                    dest.unlink()
                if not dest.parent.resolve().is_relative_to(root):   # never through a link out of the copy
                    continue
                dest.write_bytes(tar.extractfile(member).read())

    async def place(self, trial: Trial, backend: Backend, editing: Backend) -> None:
        """The launch host needs the tree too when it is not where the worker edited it."""
        if not trial.snapshot or backend is editing or (
                not backend.seeds_code and self.local(trial.id, backend) == self.local(trial.id, editing)):
            return
        await self._place(trial.snapshot, trial.id, backend, index=False)

    async def prune(self, trial: Trial, hosts: Iterable[Backend] = ()) -> None:
        """After the trial: the code git holds goes from its trees, on this machine and on each remote host
        in ``hosts`` (where it was edited, where it ran); what the training wrote stays.
        ``tui-researcher checkout`` writes the code out again."""
        remote = [b for b in dict.fromkeys(hosts) if b.seeds_code]
        if trial.snapshot and trial.tree and remote:
            blobs = await self.store.blobs(trial.snapshot)
            for backend in remote:
                await backend.prune_tree(trial.tree, blobs)
        local = self.local(trial.id)
        index = self.store.index(trial.id)
        if not trial.snapshot or not index.exists() or not local.is_dir():
            return
        tracked = (await self.store.git("ls-files", "-z", work_tree=local, index=index)).split("\0")
        changed = set((await self.store.git("diff-files", "--name-only", "-z", work_tree=local,
                                            index=index)).split("\0"))
        for rel in tracked:
            if rel and rel not in changed:
                (local / rel).unlink(missing_ok=True)
        for path in sorted(local.rglob("*"), key=lambda p: -len(p.parts)):
            if path.name == "__pycache__" and path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)      # compiled from the code that went
            elif path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
        if not any(local.iterdir()):
            local.rmdir()
        index.unlink(missing_ok=True)
