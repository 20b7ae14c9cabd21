"""A trial's tree on the host that runs it: made from a snapshot, edited there, committed with its diff.

Over the local helper and over a real sshd (where the tree travels as one tar and only the
worker's changes come back). And the user's own git repository is never touched.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tui_researcher.config import Config
from tui_researcher.project import Project
from tui_researcher.trees import Trees
from tui_researcher.trial import Trial


def project_for(backends, tmp_path: Path) -> Project:
    """The controller's project: over the local helper its workspace is the backend's own."""
    root = tmp_path if backends.kind == "local" else tmp_path / "laptop"
    workspace = root / "workspace"
    (workspace / "data").mkdir(parents=True)
    (workspace / "train.py").write_text("print('val_acc=0.1')\n")
    (workspace / "data" / "big.bin").write_bytes(bytes(range(256)) * 400)
    (workspace / "runs").mkdir()
    (workspace / "runs" / "old.log").write_text("never code\n")
    return Project(root, Config())


async def test_a_tree_is_made_edited_on_the_host_and_committed_with_its_diff(backends, tmp_path):
    backend = await backends.open()
    project = project_for(backends, tmp_path)
    trees = Trees(project)
    first = Trial(id="t0001", cycle=1, run_dir="runs/t0001")
    await trees.prepare(first, backend)
    tree = first.tree
    assert await backend.read_file(f"{tree}/train.py") == "print('val_acc=0.1')\n"
    assert not await backend.exists(f"{tree}/runs")                      # run outputs are not code
    await backend.write_file(f"{tree}/train.py", "print('val_acc=0.2')\n")
    await backend.write_file(f"{tree}/new.py", "x = 1\n" * 2000)
    assert (await backend.run(["rm", f"{tree}/data/big.bin"])).ok

    diff = await trees.snapshot(first, backend)

    assert first.files_changed == ["data/big.bin", "new.py", "train.py"]
    assert "-print('val_acc=0.1')\n+print('val_acc=0.2')" in diff and diff.count("+x = 1") == 2000
    assert first.diff == diff[:4000] + f"\n[... {len(diff) - 4000:,} more chars: the whole diff is in " \
                                      "runs/<trial>/code.diff]\n"             # capped in the record
    assert (project.paths.workspace / "train.py").read_text() == "print('val_acc=0.1')\n"   # workspace untouched

    second = Trial(id="t0002", cycle=2, run_dir="runs/t0002", base_snapshot=first.snapshot)
    await trees.prepare(second, backend)
    assert await backend.read_file(f"{second.tree}/train.py") == "print('val_acc=0.2')\n"
    assert not await backend.exists(f"{second.tree}/data/big.bin")
    assert await trees.snapshot(second, backend) == "" and second.files_changed == []
    project.close()


async def test_the_users_git_repository_is_never_touched(tmp_path):
    repo = tmp_path / "repo"
    (repo / "workspace").mkdir(parents=True)
    (repo / "workspace" / "train.py").write_text("print('val_acc=0.1')\n")
    (repo / "notes.md").write_text("mine\n")

    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout
        return "".join(line for line in out.splitlines(True) if "researcher.db" not in line)   # the store's own

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "mine")
    (repo / "workspace" / "train.py").write_text("print('val_acc=0.15')  # my uncommitted edit\n")
    git("add", "workspace/train.py")                                        # staged, not committed
    before = (git("for-each-ref"), git("status", "--porcelain"), (repo / ".git" / "index").read_bytes(),
              git("stash", "list"), git("log", "--all", "--oneline"))

    project = Project(repo, Config())
    trees = Trees(project)
    from tui_researcher.backends.local import LocalBackend
    backend = LocalBackend(project.paths.workspace, op_timeout=15)
    await backend.start()
    try:
        trial = Trial(id="t0001", cycle=1, run_dir="runs/t0001")
        await trees.prepare(trial, backend)
        await backend.write_file(f"{trial.tree}/train.py", "print('val_acc=0.3')\n")
        await trees.snapshot(trial, backend)
        await trees.prune(trial)
    finally:
        await backend.close()
        project.close()

    assert "+print('val_acc=0.3')" in trial.diff and "-print('val_acc=0.15')" in trial.diff   # from the working copy
    assert (git("for-each-ref"), git("status", "--porcelain"), (repo / ".git" / "index").read_bytes(),
            git("stash", "list"), git("log", "--all", "--oneline")) == before
    assert (repo / "workspace" / "train.py").read_text() == "print('val_acc=0.15')  # my uncommitted edit\n"
    assert not (repo / "workspace" / ".tui-researcher" / "trees" / "t0001").exists()   # pruned: git holds it


def test_without_git_trials_run_in_the_workspace_and_the_run_says_so(tmp_path, sample_project):
    import os
    import sys

    from tests.helpers import REPO, latest_trials

    import shutil
    import tempfile

    # python3 and nothing else: no git (not under /tmp, which the sandbox replaces with a private one)
    bin_dir = Path(tempfile.mkdtemp(dir="/var/tmp"))
    try:
        os.symlink(sys.executable, bin_dir / "python3")
        done = subprocess.run([sys.executable, "-m", "tui_researcher.cli", "run", str(sample_project), "--no-ui",
                               "--max-cycles", "1"], capture_output=True, text=True, timeout=120, cwd=REPO,
                              env={**os.environ, "PATH": str(bin_dir)})
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert done.stdout.count("no code snapshots: git is not installed") == 1
    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "keep" and isinstance(trial["metric"], float)
    assert trial["tree"] == "" and trial["snapshot"] == ""


async def test_a_link_in_the_code_never_carries_a_write_out_of_a_tree(backends, tmp_path):
    import os

    import pytest

    from tui_researcher.errors import BackendError

    backend = await backends.open()
    project = project_for(backends, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, project.paths.workspace / "link")                 # committed with the code, as a link
    trees = Trees(project)
    trial = Trial(id="t0001", cycle=1, run_dir="runs/t0001")
    await trees.prepare(trial, backend)
    if backends.kind == "local":                                          # the helper refuses the write itself
        with pytest.raises(BackendError, match="outside the workspace"):
            await backend.write_file(f"{trial.tree}/link/planted.txt", "x")
    else:                                                                 # the host has no link: a real directory
        await backend.write_file(f"{trial.tree}/link/planted.txt", "x")
    await trees.snapshot(trial, backend)                                  # ... whose file comes back here
    assert list(outside.iterdir()) == []
    project.close()


async def test_after_the_trial_its_code_goes_from_every_host_and_its_outputs_stay(backends, tmp_path):
    """The tree on the host that ran it (and this machine's copy of a remote one) keeps only what the training
    wrote: git holds the code. A directory swapped for a link to files just like the code is never followed."""
    import os

    backend = await backends.open()
    project = project_for(backends, tmp_path)
    trees = Trees(project)
    trial = Trial(id="t0001", cycle=1, run_dir="runs/t0001")
    await trees.prepare(trial, backend)
    host_tree = backends.workspace / trial.tree
    await backend.write_file(f"{trial.tree}/train.py", "print('val_acc=0.2')\n")   # the worker's edit
    await trees.snapshot(trial, backend)
    # the training: a checkpoint, a code file overwritten, compiled code, and the data directory made a link
    await backend.write_file(f"{trial.tree}/ckpt/model.pt", "weights")
    (host_tree / "__pycache__").mkdir()
    (host_tree / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"\0")
    lookalike = tmp_path / "lookalike"
    lookalike.mkdir()
    (lookalike / "big.bin").write_bytes((host_tree / "data" / "big.bin").read_bytes())
    (host_tree / "data" / "big.bin").unlink()
    (host_tree / "data").rmdir()
    os.symlink(lookalike, host_tree / "data")

    await trees.prune(trial, (backend,))

    left = sorted(str(p.relative_to(host_tree)) for p in host_tree.rglob("*"))
    assert left == ["ckpt", "ckpt/model.pt", "data"], left
    assert (host_tree / "data").is_symlink() and (lookalike / "big.bin").exists()
    assert not (project.paths.workspace / trial.tree).exists() or backends.kind == "local"   # the copy here went
    assert await trees.store.blobs(trial.snapshot) and trial.snapshot                         # git still holds it
    project.close()
