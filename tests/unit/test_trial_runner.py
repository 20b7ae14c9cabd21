"""The one trial runner (local, SSH and Slurm): exit code sidecar, and no secret reaches training."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tui_researcher.backends.helper import TRIAL_RUNNER


def spec_for(tmp_path: Path, code: str) -> dict:
    return {"argv": [sys.executable, "-c", code], "cwd": str(tmp_path), "env": {"EXTRA": "given"},
            "log": str(tmp_path / "train.log"), "exit": str(tmp_path / "exit.json"),
            "pidfile": str(tmp_path / "pid.json")}


def test_wrapper_drops_secrets_from_its_own_environment_and_records_the_exit_code(tmp_path: Path):
    code = "import os, sys; print(sorted(k for k in os.environ if 'KEY' in k or k == 'EXTRA')); sys.exit(3)"
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-secret", "HF_TOKEN": "hf-secret"}
    argv = [sys.executable, "-c", TRIAL_RUNNER, json.dumps(spec_for(tmp_path, code))]
    proc = subprocess.run(argv, env=env, timeout=30)
    assert proc.returncode == 3
    log = (tmp_path / "train.log").read_text()
    assert "EXTRA" in log and "API_KEY" not in log and "sk-secret" not in log
    sidecar = json.loads((tmp_path / "exit.json").read_text())
    assert sidecar["exit_code"] == 3 and sidecar["signal"] is None
    assert json.loads((tmp_path / "pid.json").read_text())["child"] > 0
