"""The sandbox wrapper on its own (as root, and as an unprivileged user through a user namespace), and
the host helper's file tools against a directory swapped for a symlink while they run."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
from tests.helpers import wait_for

from tui_researcher.backends.helper import Helper
from tui_researcher.sandbox import Kind, Sandbox

LINUX = sys.platform.startswith("linux")
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture
def unprivileged_user() -> None:
    """Root (to drop to uid 65534), setpriv and unshare (util-linux) and a system python3 that user can run;
    their absence is a skip that says so here, and a failure under REQUIRE_SANDBOX_USERS=1 (set by .ci/run)."""
    missing = [what for what, ok in (("Linux", LINUX), ("root", os.getuid() == 0), ("setpriv", shutil.which("setpriv")),
                                     ("unshare", shutil.which("unshare")), (SYSTEM_PYTHON, os.path.exists(SYSTEM_PYTHON)))
               if not ok]
    if missing:
        why = f"needs {', '.join(missing)} to run the wrapper as an unprivileged user"
        if os.environ.get("REQUIRE_SANDBOX_USERS") == "1":
            pytest.fail(why)
        pytest.skip(why)


def box(tree: Path, *extra: tuple[str, str]) -> Sandbox:
    return Sandbox(Kind.TRAIN, str(tree), (("rw", str(tree)), ("ro", str(tree / "runs")),
                                           ("seal", str(tree / "HUMAN_DIRECTIVE.md")), *extra), network=False)


def alive_with(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


ATTEMPTS = ("id -u; ls /proc | grep -c '^[0-9]'; echo ok > mine.txt; echo forged > runs/exit.json; "
            "echo forged > HUMAN_DIRECTIVE.md; mv runs elsewhere; "
            "setsid python3 -c 'import time; time.sleep(600)' {marker} & echo started")


def check_outcome(tree: Path, proc: subprocess.CompletedProcess, marker: str, uid: int) -> None:
    lines = proc.stdout.split()
    assert lines[0] == str(uid) and int(lines[1]) <= 4, proc.stdout + proc.stderr   # its own /proc
    assert (tree / "mine.txt").read_text() == "ok\n" and "started" in proc.stdout
    assert proc.stderr.count("Read-only file system") == 2 and "Device or resource busy" in proc.stderr
    assert not (tree / "runs" / "exit.json").exists() and (tree / "runs").is_dir()
    assert not (tree / "HUMAN_DIRECTIVE.md").exists()                 # the placeholder went with the command
    assert not alive_with(marker)                                      # the setsid child died with it


@pytest.mark.skipif(not LINUX, reason="the namespace sandbox is Linux only")
def test_the_wrapper_as_root_seals_the_tree_and_ends_every_process(tmp_path):
    tree = tmp_path / "ws"
    (tree / "runs").mkdir(parents=True)
    marker = f"sbx-{uuid.uuid4().hex}"
    proc = subprocess.run(box(tree).argv(sys.executable, cmd=ATTEMPTS.format(marker=marker)),
                          capture_output=True, text=True, timeout=60)
    check_outcome(tree, proc, marker, os.getuid())


@contextlib.contextmanager
def nobody_workspace():
    """A workspace owned by nobody under a fresh /tmp directory (/tmp/pytest-of-root is not reachable by nobody)."""
    base = Path(tempfile.mkdtemp(prefix="tui-sbx-"))
    try:
        tree = base / "ws"
        (tree / "runs").mkdir(parents=True)
        base.chmod(0o755)
        for path in (base, tree, tree / "runs"):
            os.chown(path, 65534, 65534)
        yield tree
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_as_nobody(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv],
                          capture_output=True, text=True, timeout=60, cwd="/", **kwargs)
    if "sandbox unavailable: unshare" in proc.stderr:
        pytest.skip("unprivileged user namespaces are disabled on this host")
    return proc


def test_the_wrapper_as_an_unprivileged_user_uses_a_user_namespace(unprivileged_user):
    with nobody_workspace() as tree:
        marker = f"sbx-{uuid.uuid4().hex}"
        argv = box(tree).argv(SYSTEM_PYTHON, cmd=ATTEMPTS.format(marker=marker).replace("python3", SYSTEM_PYTHON))
        check_outcome(tree, run_as_nobody(argv), marker, 65534)


@pytest.mark.skipif(not LINUX, reason="renameat2 is Linux's")
def test_write_file_never_follows_a_directory_swapped_for_a_symlink(tmp_path):
    root, outside = tmp_path / "ws", tmp_path / "outside"
    (root / "d").mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, root / "d_link")
    helper = Helper(str(root))
    stop = threading.Event()

    libc = ctypes.CDLL(None, use_errno=True)
    d, link = str(root / "d").encode(), str(root / "d_link").encode()

    def swap():   # renameat2(RENAME_EXCHANGE): d is always there, a directory or a symlink out of the workspace
        while not stop.is_set():
            assert libc.renameat2(-100, d, -100, link, 2) == 0, os.strerror(ctypes.get_errno())

    swapper = threading.Thread(target=swap)
    swapper.start()
    wrote = refused = 0
    try:
        for i in range(3000):
            try:
                helper.op_write_file({"path": f"d/f{i}.txt", "content": "x"})
                wrote += 1
            except OSError:
                refused += 1
    finally:
        stop.set()
        swapper.join()
    assert list(outside.iterdir()) == []                  # zero escapes
    assert wrote > 0 and refused > 0                       # the race really ran both ways
    where = root / "d" if (root / "d").is_dir() and not (root / "d").is_symlink() else root / "d_link"
    assert len(list(where.iterdir())) == wrote


async def test_an_exit_code_is_not_read_while_its_trial_runner_lives(tmp_path):
    """Even a training outside the sandbox (no seal on exit.json) cannot end its trial early by forging it."""
    from tests.polling import probe_until
    from tui_researcher.backends.base import TrialRef
    from tui_researcher.backends.local import LocalBackend

    backend = LocalBackend(tmp_path)
    code = ("import json, os, time\nrun = os.environ['TUI_RESEARCHER_RUN_DIR']\n"
            "json.dump({'exit_code': 0}, open(os.path.join(run, 'exit.json'), 'w'))\n"
            "print('forged', flush=True)\nwhile not os.path.exists('release'): time.sleep(0.05)\nraise SystemExit(3)\n")
    try:
        info = await backend.launch([sys.executable, "-c", code], run_dir="runs/t1",
                                    env={"TUI_RESEARCHER_RUN_DIR": str(tmp_path / "runs" / "t1")})
        ref = TrialRef(id="t1", run_dir="runs/t1", pid=info.pid, start_time=info.start_time)
        running = await probe_until(backend, ref, lambda t: "forged" in t.data)
        assert running.alive and running.exit_code is None and (tmp_path / "runs/t1/exit.json").exists()
        (tmp_path / "release").touch()
        done = await probe_until(backend, ref, lambda t: t.exit_code is not None)
        assert done.exit_code == 3 and not done.alive
    finally:
        await backend.close()


@pytest.mark.skipif(not LINUX, reason="the namespace sandbox is Linux only")
def test_a_protected_file_cannot_be_carried_away_by_renaming_its_directory(tmp_path):
    tree = tmp_path / "ws"
    (tree / "data" / "held").mkdir(parents=True)
    (tree / "runs").mkdir()
    (tree / "data" / "held" / "test.json").write_text("[1]")
    sandbox = box(tree, ("ro_glob", "data/held/*.json"))
    proc = subprocess.run(sandbox.argv(sys.executable, cmd=(
        "mv data elsewhere; mv data/held data/h2; mkdir -p data/new && echo ok > data/new/f && echo made; "
        "echo '[]' > data/held/test.json; rm data/held/test.json")), capture_output=True, text=True, timeout=60)
    assert proc.stderr.count("Device or resource busy") == 3, proc.stderr       # both renames, the removal
    assert "Read-only file system" in proc.stderr and "made" in proc.stdout      # the rest stays writable
    assert (tree / "data" / "held" / "test.json").read_text() == "[1]"


@pytest.mark.skipif(not LINUX, reason="the namespace sandbox is Linux only")
def test_a_placeholder_shared_by_parallel_commands_stays_until_the_last_one_ends(tmp_path):
    """Three Slurm jobs starting at once crashed one with 'sandbox unavailable: mount .../state.json': the first
    job out removed the sealed file's placeholder while another was between finding it and mounting over it."""
    tree = tmp_path / "ws"
    (tree / "runs").mkdir(parents=True)
    directive = tree / "HUMAN_DIRECTIVE.md"
    wait = "echo up > up_{0}; while [ ! -e release_{0} ]; do sleep 0.05; done"
    a = subprocess.Popen(box(tree).argv(sys.executable, cmd=wait.format("a")), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (tree / "up_a").exists(), what="the first command runs")
    assert directive.exists() and directive.stat().st_size == 0          # its placeholder
    b = subprocess.Popen(box(tree).argv(sys.executable, cmd=wait.format("b")), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (tree / "up_b").exists(), what="the second command runs")
    (tree / "release_a").touch()
    assert a.wait(timeout=60) == 0, a.stderr.read()
    assert directive.exists()                                            # the other one still stands on it
    (tree / "release_b").touch()
    assert b.wait(timeout=60) == 0, b.stderr.read()
    assert not directive.exists()                                        # the last one out removed it
    for p in (a, b):
        p.stdout.close(), p.stderr.close()


@pytest.mark.parametrize("isolate", [True, False])
async def test_a_sandboxed_launch_reports_the_trainings_host_pid(tmp_path, isolate):
    """Isolated, the training has another pid in its namespace; without namespaces (a host that has
    none) the wrapper becomes the training. Either way the ledger gets the pid the host knows it by."""
    from tests.polling import probe_until
    from tui_researcher.backends.base import TrialRef
    from tui_researcher.backends.local import LocalBackend
    from tui_researcher.sandbox import launch_env

    marker = f"pid-{uuid.uuid4().hex}"
    backend = LocalBackend(tmp_path)
    code = f"import os, time\nprint('{marker}', os.getpid(), flush=True)\nwhile not os.path.exists('release'): " \
           f"time.sleep(0.05)\n"
    sandbox = Sandbox(Kind.TRAIN, str(tmp_path), (("rw", str(tmp_path)),), network=True, isolate=isolate)
    try:
        info = await backend.launch(sandbox.argv(sys.executable, argv=[sys.executable, "-c", code, marker]),
                                    run_dir="runs/t1", env=launch_env(True))
        ref = TrialRef(id="t1", run_dir="runs/t1", pid=info.pid, start_time=info.start_time)
        said = await probe_until(backend, ref, lambda t: marker in t.data)
        assert marker.encode() in Path(f"/proc/{info.training_pid}/cmdline").read_bytes()
        own = int(said.data.split(marker)[1].split()[0])
        assert (own != info.training_pid) is isolate          # the namespace's pid is not the host's
        (tmp_path / "release").touch()
        await probe_until(backend, ref, lambda t: t.exit_code is not None)
    finally:
        await backend.close()


@pytest.mark.parametrize("degrade", [False, True])
def test_where_namespaces_fail_the_wrapper_refuses_or_runs_with_a_warning_never_silently(degrade, unprivileged_user):
    """A real host without user namespaces: an unprivileged user in a chroot may not create one."""
    base = Path(tempfile.mkdtemp(prefix="tui-deg-"))
    rootbind = Path(tempfile.mkdtemp(prefix="tui-rootbind-"))
    try:
        base.chmod(0o755)
        os.chown(base, 65534, 65534)
        argv = Sandbox(Kind.TRAIN, str(base), (("rw", str(base)),), True, degrade=degrade).argv(
            SYSTEM_PYTHON, cmd="echo RAN")
        script = 'mount --rbind / "$0" && exec chroot "$0" setpriv --reuid=65534 --regid=65534 --clear-groups "$@"'
        proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(rootbind), *argv],
                              capture_output=True, text=True, timeout=60, cwd="/")
        if degrade:   # a scheduler's node: the training runs, and its log says what is unprotected
            assert proc.returncode == 0 and proc.stdout == "RAN\n"
            assert proc.stderr.startswith("tui-researcher: WARNING: no sandbox on this node (unshare: Operation "
                                          "not permitted): the training can write the controller's files")
        else:         # everywhere else the command does not run, and says why
            assert proc.returncode == 97 and proc.stdout == ""
            assert proc.stderr == "sandbox unavailable: unshare: Operation not permitted\n"
    finally:
        shutil.rmtree(base, ignore_errors=True)
        rootbind.rmdir()


@pytest.mark.skipif(not LINUX, reason="the namespace sandbox is Linux only")
def test_an_interpreter_in_a_virtualenv_under_tmp_still_starts(tmp_path):
    """The private /tmp hides what lies under the host's /tmp, but not the virtualenv the command runs from
    (a clone of the project under /tmp, its .venv activated): on PATH or named by the argv, it stays in view."""
    tree = tmp_path / "ws"
    (tree / "runs").mkdir(parents=True)
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python3").symlink_to(sys.executable)
    (tmp_path / "secret.txt").write_text("not for the command")
    named = subprocess.run(box(tree).argv(sys.executable, argv=[str(venv / "python3"), "-c", "print('ran')"]),
                           capture_output=True, text=True, timeout=60)
    assert named.returncode == 0 and named.stdout == "ran\n", named.stderr
    on_path = subprocess.run(box(tree).argv(sys.executable, cmd=f"python3 -c \"print('ran')\"; cat {tmp_path}/secret.txt"),
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PATH": f"{venv}:/usr/bin:/bin"})
    assert on_path.stdout == "ran\n" and "No such file" in on_path.stderr      # the rest of /tmp stays private


@pytest.mark.skipif(not LINUX, reason="the namespace sandbox is Linux only")
def test_a_symlink_outside_tmp_to_an_interpreter_under_tmp_still_starts(tmp_path):
    """`python3` on PATH in /var/tmp, a link to a virtualenv's python under /tmp: the link's end stays in view."""
    tree = tmp_path / "ws"
    (tree / "runs").mkdir(parents=True)
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)
    elsewhere = Path(tempfile.mkdtemp(dir="/var/tmp"))
    try:
        (elsewhere / "python3").symlink_to(venv / "python")
        done = subprocess.run(box(tree).argv(sys.executable, argv=["python3", "-c", "print('ran')"]),
                              capture_output=True, text=True, timeout=60, env={**os.environ, "PATH": str(elsewhere)})
        assert done.returncode == 0 and done.stdout == "ran\n", done.stderr
    finally:
        shutil.rmtree(elsewhere, ignore_errors=True)


def shell_box(tree: Path, *extra: tuple[str, str]) -> Sandbox:
    from tui_researcher.sandbox import SECRET_STORES
    return Sandbox(Kind.SHELL, str(tree), (("rw", str(tree)), *extra, *(("hide", p) for p in SECRET_STORES)),
                   network=False, conceal=True)


@pytest.fixture
def beside_home():
    """A directory in the real home (outside /tmp and the system's directories), removed after."""
    base = Path.home() / f".tui-researcher-test-{uuid.uuid4().hex[:8]}"
    base.mkdir()
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(not LINUX, reason="the namespace sandbox is Linux only")
def test_run_shell_sees_the_system_its_workspace_and_its_tools_and_nothing_beside(beside_home):
    """A project in the home: the secret beside it (``../secret.txt``, by its absolute path, the home's listing)
    is out of run_shell's sight, while a virtualenv there on PATH still runs and the workspace is whole."""
    tree = beside_home / "project" / "workspace"
    (tree / "runs").mkdir(parents=True)
    (tree / "train.py").write_text("print('trained')\n")
    (beside_home / "project" / "secret.txt").write_text("the project's neighbour")
    (beside_home / "secret.txt").write_text("the home's")
    venv = beside_home / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python3").symlink_to(sys.executable)
    readable = beside_home / "data"
    readable.mkdir()
    (readable / "labels.csv").write_text("a,b\n")
    script = (f"cat ../secret.txt; cat {beside_home}/secret.txt; ls -a {Path.home()} | wc -l; python3 train.py; "
              f"cat {readable}/labels.csv; echo edited > train.py && cat train.py")
    env = {**os.environ, "PATH": f"{venv}:/usr/bin:/bin"}
    proc = subprocess.run(shell_box(tree, ("ro", str(readable))).argv(sys.executable, cmd=script),
                          capture_output=True, text=True, timeout=60, env=env)
    assert "neighbour" not in proc.stdout and "the home's" not in proc.stdout, proc.stdout
    assert proc.stderr.count("No such file or directory") == 2, proc.stderr
    assert proc.stdout.split("\n")[1:] == ["trained", "a,b", "edited", ""], proc.stdout + proc.stderr
    assert int(proc.stdout.split("\n")[0]) <= 4, "the home shows the way to the workspace and the tools, no more"
    unconcealed = subprocess.run(box(tree).argv(sys.executable, cmd="cat ../secret.txt"), capture_output=True,
                                 text=True, timeout=60, env=env)
    assert unconcealed.stdout == "the project's neighbour", "a training still reads data beside its project"


@pytest.mark.skipif(not LINUX, reason="the namespace sandbox is Linux only")
@pytest.mark.skipif(os.geteuid() != 0, reason="only root reads /etc/shadow: nothing to hide from anyone else")
@pytest.mark.parametrize("kind", list(Kind))
def test_the_hosts_own_secrets_are_empty_to_every_kind_even_as_root(tmp_path, kind):
    """A controller run as root (a container, a lab box) runs its commands as root: /etc/shadow, the
    host's SSH keys and munge's key would be theirs to read, and run_shell's output goes to the provider."""
    from tui_researcher.sandbox import SYSTEM_SECRETS
    assert Path("/etc/shadow").stat().st_size > 0
    tree = tmp_path / "ws"
    tree.mkdir()
    sandbox = Sandbox(kind, str(tree), (("rw", str(tree)), *(("hide", p) for p in SYSTEM_SECRETS)),
                      network=False, conceal=kind == Kind.SHELL)
    proc = subprocess.run(sandbox.argv(sys.executable, cmd="wc -c < /etc/shadow; head -c 40 /etc/passwd"),
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.split("\n")[0] == "0", proc.stdout + proc.stderr
    assert proc.stdout.split("\n")[1].startswith("root:"), "the rest of /etc stays in view"
    assert Path("/etc/shadow").stat().st_size > 0, "hidden, not harmed"


@pytest.mark.skipif(not LINUX, reason="the namespace sandbox is Linux only")
@pytest.mark.parametrize("kind", list(Kind))
def test_the_credential_stores_in_the_home_are_empty_to_every_kind(kind):
    from tui_researcher.sandbox import SECRET_STORES
    home = Path(tempfile.mkdtemp(prefix="tui-home-", dir="/var/tmp"))   # outside the private /tmp, like a home
    try:
        tree = home / "project" / "ws"
        tree.mkdir(parents=True)
        (home / ".ssh").mkdir()
        (home / ".ssh" / "id_ed25519").write_text("PRIVATE KEY")
        (home / ".netrc").write_text("machine example.com password hunter2")
        (home / ".cache" / "huggingface").mkdir(parents=True)
        (home / ".cache" / "huggingface" / "token").write_text("hf_token")
        mounts = (("rw", str(tree)), ("rw", "~/.cache/huggingface"), *(("hide", p) for p in SECRET_STORES))
        sandbox = Sandbox(kind, str(tree), mounts, network=False, conceal=kind == Kind.SHELL)
        script = ("cat ~/.ssh/id_ed25519 ~/.netrc ~/.cache/huggingface/token; ls ~/.ssh | wc -l; "
                  "echo a > ~/.ssh/planted; echo b > ~/.cache/huggingface/model.bin && echo cached")
        proc = subprocess.run(sandbox.argv(sys.executable, cmd=script), capture_output=True, text=True, timeout=60,
                              env={**os.environ, "HOME": str(home)})
        for secret in ("PRIVATE KEY", "hunter2", "hf_token"):
            assert secret not in proc.stdout, (kind, proc.stdout)
        assert not (home / ".ssh" / "planted").exists()
        if kind != Kind.SHELL:   # run_shell sees no home at all; the others keep the writable cache
            assert proc.stdout.split() == ["0", "cached"], proc.stdout + proc.stderr
            assert (home / ".cache" / "huggingface" / "model.bin").exists()
        assert (home / ".ssh" / "id_ed25519").read_text() == "PRIVATE KEY", "hidden, not harmed"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def test_run_shell_as_an_unprivileged_user_sees_its_workspace_and_not_the_home(unprivileged_user, beside_home):
    with nobody_workspace() as tree:
        (beside_home / "secret.txt").write_text("root's")
        beside_home.chmod(0o755)
        script = (f"cat {beside_home}/secret.txt; ls -a {Path.home()} | wc -l; echo mine > mine.txt && cat mine.txt; "
                  f"{SYSTEM_PYTHON} -c 'print(2)'")
        proc = run_as_nobody(shell_box(tree).argv(SYSTEM_PYTHON, cmd=script),
                             env={**os.environ, "PATH": "/usr/bin:/bin"})
        # the home is an empty directory to it (not one it may not open): covered, not merely closed
        assert proc.stdout == "2\nmine\n2\n", proc.stdout + proc.stderr
        assert "No such file or directory" in proc.stderr and "Permission denied" not in proc.stderr
