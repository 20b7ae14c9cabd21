"""A host where namespaces cannot be built: the run still works and starts with a one-line warning
naming what is unprotected there, never silently. The host is real: the helper runs as an
unprivileged user inside a chroot, where Linux refuses to create a user namespace."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.helpers import cli, latest_trials

SYSTEM_PYTHON = "/usr/bin/python3"
HOST_PYTHON = """#!/bin/sh
# the host's python: as root, become nobody inside a chroot of / (no user namespace can be made there)
[ "$(id -u)" = 0 ] || exec {python} "$@"
rootbind=$(mktemp -d {base}/rootbind-XXXXXX)
exec unshare -m --propagation private sh -c \
  'mount --rbind / "$0" && exec chroot "$0" setpriv --reuid=65534 --regid=65534 --clear-groups {python} "$@"' \
  "$rootbind" "$@"
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.getuid() != 0 or not shutil.which("setpriv")
                    or not shutil.which("unshare") or not os.path.exists(SYSTEM_PYTHON),
                    reason="needs root, setpriv, unshare and a system python3")
def test_a_host_without_namespaces_is_warned_about_at_start_and_still_runs():
    base = Path(tempfile.mkdtemp(prefix="tui-nons-"))
    try:
        project, workspace = base / "proj", base / "proj" / "workspace"
        workspace.mkdir(parents=True)
        (workspace / "job.py").write_text("import sys\nif '--dry-run' in sys.argv: sys.exit(0)\nprint('val_acc=0.5')\n")
        (project / "PROJECT_BRIEF.md").write_text("# brief\n")
        python = base / "host-python"
        python.write_text(HOST_PYTHON.format(python=SYSTEM_PYTHON, base=base))
        python.chmod(0o755)
        (project / "config.yaml").write_text(yaml.safe_dump({
            "metric": {"name": "val_acc", "goal": "max"}, "execution": {"python": str(python)},
            "search": {"strategy": "grid", "command": f"{SYSTEM_PYTHON} job.py --x {{x}}", "space": {"x": [1]}},
            "gpu": {"gpus_per_trial": 0}, "monitor": {"poll_interval": 0.2}}))
        for path in (base, project, workspace):
            path.chmod(0o777)
        proc = cli("run", str(project), "--no-ui", "--max-cycles", "1", timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        warnings = [line for line in proc.stdout.splitlines() if "NOT sandboxed" in line]
        assert len(warnings) == 1, proc.stdout
        assert "host local: commands are NOT sandboxed (sandbox unavailable: unshare: Operation not permitted)" \
               in warnings[0] and "can write the controller's files" in warnings[0]
        assert latest_trials(project)["t0001"]["metric"] == 0.5
    finally:
        shutil.rmtree(base, ignore_errors=True)
