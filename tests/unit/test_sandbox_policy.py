"""The sandbox's policy, per kind of command: pure (no process), so each rule is one check."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_researcher.config import Config, load_config
from tui_researcher.errors import ConfigError
from tui_researcher.paths import ProjectPaths
from tui_researcher.sandbox import Kind, sandbox_for, worker_protected

ROOT = "/host/ws"


def policy(kind: Kind, **metric):
    config = Config()
    for key, value in metric.items():
        setattr(config.metric, key, value)
    return sandbox_for(kind, config, ProjectPaths.at(Path("/p"), "ws"), root=ROOT, run_dir="runs/t0001")


def test_a_training_writes_its_tree_caches_and_own_run_dir_never_its_sidecars():
    box = policy(Kind.TRAIN)
    mounts = list(box.mounts)
    assert mounts[0] == ("rw", ROOT) and ("rw", "~/.cache/huggingface") in mounts and ("rw", "/dev/shm") in mounts
    runs, own = mounts.index(("ro", f"{ROOT}/runs")), mounts.index(("rw", f"{ROOT}/runs/t0001"))
    assert runs < own                                               # runs/ read-only, then its own dir writable
    assert mounts.index(("seal", f"{ROOT}/runs/t0001/exit.json")) > own   # and its sidecars sealed on top
    assert ("ro", f"{ROOT}/runs/t0001/train.log") in mounts and ("seal", f"{ROOT}/HUMAN_DIRECTIVE.md") in mounts
    assert box.network and not box.rlimits


def test_run_shell_has_limits_and_no_network_an_evaluator_writes_nothing():
    shell, evaluator = policy(Kind.SHELL), policy(Kind.EVAL, evaluate="python3 eval.py --run-dir {run_dir}")
    assert not shell.network and shell.rlimits == {"memory_mb": 8192, "processes": 256}
    assert not any(op == "rw" for op, _ in evaluator.mounts) and evaluator.mounts[0] == ("ro", ROOT)
    assert ("ro", f"{ROOT}/eval.py") in evaluator.mounts


def test_only_run_shell_is_concealed_and_tool_readable_opens_a_path_to_it_alone():
    config = Config()
    config.agent.tool_readable = ["~/datasets/cifar"]
    paths = ProjectPaths.at(Path("/p"), "ws")
    shell = sandbox_for(Kind.SHELL, config, paths, root=ROOT)
    assert shell.conceal and ("ro", "~/datasets/cifar") in shell.mounts
    for kind in (Kind.DRY_RUN, Kind.TRAIN, Kind.EVAL):   # training reads its data wherever it lies
        box = sandbox_for(kind, config, paths, root=ROOT, run_dir="runs/t0001")
        assert not box.conceal and ("ro", "~/datasets/cifar") not in box.mounts
    assert "sees only the system" in shell.describe()


def test_the_credential_stores_are_hidden_from_every_kind_after_the_writable_caches():
    for kind in Kind:
        mounts = list(policy(kind).mounts)
        assert ("hide", "~/.ssh") in mounts and ("hide", "~/.netrc") in mounts
        assert ("hide", "/etc/shadow") in mounts and ("hide", "/etc/munge/munge.key") in mounts
        token = mounts.index(("hide", "~/.cache/huggingface/token"))
        assert all(i < token for i, (op, _) in enumerate(mounts) if op == "rw"), "a writable cache cannot unhide it"


def test_protected_globs_and_the_evaluators_files_are_read_only_to_every_kind():
    for kind in Kind:
        box = policy(kind, evaluate="python3 tools/eval.py --data held/x.npz {run_dir}", protected=["data/test_*"])
        assert ("ro_glob", "data/test_*") in box.mounts
        assert ("ro", f"{ROOT}/tools/eval.py") in box.mounts and ("ro", f"{ROOT}/held/x.npz") in box.mounts


def test_the_brief_and_config_are_protected_when_the_workspace_is_the_project(tmp_path):
    (tmp_path / "config.yaml").write_text("project: {workspace: .}\n")
    config = load_config(tmp_path / "config.yaml")
    names = worker_protected(ProjectPaths.of(tmp_path, config), config)
    assert "PROJECT_BRIEF.md" in names and "config.yaml" in names


def test_an_unknown_placeholder_in_metric_evaluate_is_a_config_error(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("metric:\n  evaluate: python3 eval.py {checkpoint}\n")
    with pytest.raises(ConfigError, match=r"metric.evaluate: \{checkpoint\} is not a placeholder here .* \(line 2\)"):
        load_config(path)
