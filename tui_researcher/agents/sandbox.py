"""Why a shell command from a model cannot write the controller's files, even as root.

File permissions do not stop root, and the command is arbitrary shell, so the guard sits below
the command. ``run_shell`` runs ``sh -c`` inside a small wrapper (standard library, sent as an
argument through the host helper, so it works on any Linux host) that:

- enters a private mount namespace (and a user namespace when not root) and a PID namespace;
- binds every protected path read-only onto itself: the controller's files (state, ledger,
  memory log, event and command logs, the lock), ``runs/`` (the metric parser's inputs) and,
  one level up, the brief and config.yaml cannot be written, truncated, replaced, renamed or
  removed, through symlinks or hard links either, while the rest of the workspace stays an
  ordinary directory (``sed -i``, new files);
- mounts a fresh ``/proc``: only the command's own processes are visible, so no other process's
  environment (the controller's holds the API key) can be read;
- drops CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_MKNOD, CAP_SYS_MODULE,
  CAP_SYS_RAWIO and CAP_SYS_BOOT from the bounding set and sets no_new_privs, so the command
  cannot remount, unmount, re-enter the old namespace or open files by handle;
- ends every process the command started when the command ends (the PID namespace dies).

Two gaps remain, and ``ProtectedGuard`` closes them after each command: a protected file that
does not exist yet (usually the directive) has nothing to mount on, so one that appears during
the command is removed; and a file the controller replaces by rename while the command runs
(MEMORY_LOG.md) loses its mount in the sandbox, so it is compared with the controller's memory
and rewritten from it when they differ. The store (SQLite) is written in place, so its mounts hold.

Where namespaces are not available (macOS, a container without CAP_SYS_ADMIN and no user
namespaces), the same wrapper only drops capabilities, and ``ProtectedGuard`` checks every
protected file after the command and repairs any change (see its docstring for its limits).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..workbench import Workbench

SANDBOX_EXIT = 97
"""The wrapper's exit code when it cannot build the sandbox (its stderr says why)."""

# the wrapper every run_shell command runs in (trials run in backends/helper.py's TRIAL_RUNNER)
SHELL_SANDBOX = r'''
import ctypes, json, os, signal, sys
spec = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
NEWNS, NEWPID, NEWUSER = 0x20000, 0x20000000, 0x10000000
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC, PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
DROP = (2, 16, 17, 19, 21, 22, 27)
def fail(what):
    sys.stderr.write("sandbox unavailable: %s: %s\n" % (what, os.strerror(ctypes.get_errno())))
    sys.exit(97)
def mount(src, dst, fs, flags):
    enc = lambda s: s.encode() if s else None
    if libc.mount(enc(src), enc(dst), enc(fs), flags, None) != 0:
        fail("mount %s" % dst)
def drop_caps():
    for cap in DROP:
        libc.prctl(24, cap, 0, 0, 0)
    libc.prctl(38, 1, 0, 0, 0)
def run():
    os.chdir(spec.get("cwd") or root)
    os.execv("/bin/sh", ["sh", "-c", spec["cmd"]])
root = spec["root"]
if not spec.get("isolate"):
    drop_caps()
    run()
for path in spec["dirs"]:
    os.makedirs(path, exist_ok=True)
for path in spec["files"]:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
uid, gid = os.getuid(), os.getgid()
if libc.unshare(NEWNS | NEWPID | (NEWUSER if uid else 0)) != 0:
    fail("unshare")
if uid:
    for name, text in (("setgroups", "deny"), ("uid_map", "0 %d 1" % uid), ("gid_map", "0 %d 1" % gid)):
        with open("/proc/self/" + name, "w") as f:
            f.write(text)
pid = os.fork()
if pid:
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, f: os.kill(pid, signal.SIGKILL))
    status = os.waitpid(pid, 0)[1]
    sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
mount(None, "/", None, REC | PRIVATE)
mount(root, root, None, BIND | REC)
for path in spec["protected"]:
    if os.path.islink(path) or not os.path.exists(path):
        continue
    mount(path, path, None, BIND | REC)
    mount(None, path, None, REMOUNT | BIND | RDONLY | (os.statvfs(path).f_flag & (NOSUID | NODEV | NOEXEC)))
try:
    mount("proc", "/proc", "proc", NOSUID | NODEV | NOEXEC)
except SystemExit:
    mount("tmpfs", "/proc", "tmpfs", NOSUID | NODEV | NOEXEC)
drop_caps()
run()
'''


def wrapper_argv(python: str, root: str, command: str, protected: list[str], *, outside: tuple[str, ...] = (),
                 isolate: bool = True, cwd: str = "") -> list[str]:
    """The argv the host helper runs for one shell command.

    ``protected`` is relative to the workspace ``root``; ``outside`` holds absolute paths beyond
    it (the brief and config.yaml, one level up). The workspace is bound onto itself so it cannot
    be renamed away; protected directories are created first (an absent ``runs/`` could otherwise
    be filled with a forged log before the trial starts), and so is the command inbox (an absent
    file cannot be a mount point); every protected path that exists is then bound read-only.
    ``cwd`` is where the command starts (a trial's tree); the workspace ``root`` by default.
    """
    inside = [posixpath.join(root, p.rstrip("/")) for p in protected]
    spec = {"root": root, "cmd": command, "protected": inside + list(outside),
            "dirs": [posixpath.join(root, p.rstrip("/")) for p in protected if p.endswith("/")],
            "files": [posixpath.join(root, p) for p in protected if p == "commands.jsonl"], "isolate": isolate,
            "cwd": cwd or root}
    return [python, "-c", SHELL_SANDBOX, json.dumps(spec)]


@dataclass
class _Seen:
    exists: bool
    data: bytes = b""


@dataclass
class ProtectedGuard:
    """Snapshot protected files before a command, repair after: every protected file without the
    sandbox, only the sandbox's gap (files absent now) and MEMORY_LOG.md (replaced by rename) with it.

    - the store (researcher.db and its WAL files) is never compared byte for byte: the controller
      writes it while the command runs. Its copy is taken before the command; if another process
      wrote it meanwhile (SQLite's data_version) or broke it, the copy is put back and the
      controller's own writes since are replayed (``Store.snapshot``).
    - MEMORY_LOG.md is rewritten from the controller's memory: it holds its truth.
    - commands.jsonl keeps what was appended (other processes append to it) but any change to
      earlier bytes is undone.
    - every other protected file (directive, lock, ...) is put back as it was.

    Limits, which is why the namespace sandbox comes first: a forged *appended* command survives,
    the controller may act on it before the repair, and a trial's log under runs/ is not checked.
    """

    workspace: Path
    names: list[str]
    seen: dict[str, _Seen] = field(default_factory=dict)
    store_mark: Any = None

    APPEND_ONLY = ("commands.jsonl",)
    FROM_MEMORY = ("MEMORY_LOG.md",)
    STORE = ("researcher.db", "researcher.db-wal", "researcher.db-shm")

    def snapshot(self, bench: Workbench | None = None) -> None:
        self.seen = {name: self._read(name) for name in self.names
                     if not name.endswith("/") and name not in self.STORE}
        if bench is not None and any(name in self.STORE for name in self.names):
            self.store_mark = bench.store_snapshot()

    def _read(self, name: str) -> _Seen:
        try:
            return _Seen(True, (self.workspace / name).read_bytes())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return _Seen(False)

    def repair(self, bench: Workbench) -> list[str]:
        """Undo what the command did to protected files; the names it touched."""
        touched = []
        if self.store_mark is not None:
            if bench.store_restore_if_tampered(self.store_mark):
                touched.append(self.STORE[0])
            self.store_mark = None
        for name, before in self.seen.items():
            now = self._read(name)
            if now == before or self._written_by_controller(name, before, now, bench):
                continue
            touched.append(name)
            path = self.workspace / name
            if name == "MEMORY_LOG.md":
                bench.rewrite_memory()
            elif before.exists:
                _write(path, before.data)
            else:
                path.unlink(missing_ok=True)
        return touched

    def _written_by_controller(self, name: str, before: _Seen, now: _Seen, bench: Workbench) -> bool:
        if name == "MEMORY_LOG.md":
            return now.exists and now.data == bench.memory_text().encode()
        if name in self.APPEND_ONLY:
            return now.exists and now.data.startswith(before.data)
        return False


def _write(path: Path, data: bytes) -> None:
    from ..fsutil import write_atomic

    write_atomic(path, data.decode("utf-8", "replace"))
