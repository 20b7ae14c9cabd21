"""The one sandbox every command the loop runs for the worker goes through (run_shell, dry-run,
training, evaluator). Standard library only, Python 3.6+: it is sent as ``python -c SOURCE SPEC``
to whatever host runs the command, so it is read here as text (``sandbox.WRAPPER_SOURCE``).

The wrapper (W) stays in the host's mount namespace (to remove its placeholders afterwards) and
forks P, which enters new mount and PID namespaces (a user namespace too when not root, and a
network namespace when the command has no network) and forks the namespace's init (C, pid 1);
C builds the filesystem view and forks the command (G). A stop reaches G as it reached the
process group (the sandbox's processes hold it, never forward it: no double delivery); C exits
with G's status, and the kernel then kills every process left in the namespace, so a setsid
grandchild cannot outlive its command, a timeout or a stop. C dies with P (PR_SET_PDEATHSIG).

The view: every mount read-only (``/dev`` aside: devices, GPUs), then the spec's ``mounts`` in
order: ``rw`` binds a path writable (the trial's tree, caches), ``ro`` binds it read-only,
``seal`` creates an absent file first so it can be bound read-only (the exit sidecar, the
directive), ``ro_glob`` is ``ro`` for each match of a glob under the tree. The ancestors of a
read-only path inside a writable area are bound onto themselves, so renaming a parent cannot
carry a protected file away. A fresh ``/proc`` shows only the namespace's processes (no other
process's environ); ``/tmp`` is a private tmpfs. Capabilities that could undo this are dropped
from the bounding set and no_new_privs is set before the command runs.

P reports the command's host pid on the trial runner's pipe (``TUI_RESEARCHER_REPORT_FD``), and
W ends the way the command ended: the same exit code, or the same signal.
"""

import ctypes
import fcntl
import glob
import json
import os
import signal
import stat
import sys

NEWNS, NEWPID, NEWUSER, NEWNET = 0x20000, 0x20000000, 0x10000000, 0x40000000
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC, PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
KEEP_FLAGS = ((2, NOSUID), (4, NODEV), (8, NOEXEC), (1024, 1024), (2048, 2048), (4096, 1 << 21))
"""statvfs flag -> mount flag that a remount must keep (a user namespace may not clear them)."""
DROP = (2, 16, 17, 19, 21, 22, 24, 27)
"""DAC_READ_SEARCH, SYS_MODULE, SYS_RAWIO, SYS_PTRACE, SYS_ADMIN, SYS_BOOT, SYS_RESOURCE, MKNOD."""
FORWARD = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
EXIT_UNAVAILABLE = 97

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]


def fail(what):
    sys.stderr.write("sandbox unavailable: %s: %s\n" % (what, os.strerror(ctypes.get_errno())))
    sys.stderr.flush()
    os._exit(EXIT_UNAVAILABLE)


def mount(src, dst, fs, flags, must=True):
    enc = lambda s: s.encode() if s else None
    ok = libc.mount(enc(src), enc(dst), enc(fs), flags, None) == 0
    if not ok and must:
        fail("mount %s" % dst)
    return ok


def kept(path):
    have = os.statvfs(path).f_flag
    return sum(flag for bit, flag in KEEP_FLAGS if have & bit)


def mount_points():
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4]
            points.append(point.encode().decode("unicode_escape"))
    return sorted(set(points), key=len)


def all_read_only():
    for point in mount_points():
        if point == "/dev" or point.startswith(("/dev/", "/proc/")) or point == "/proc":
            continue
        try:
            flags = kept(point)
        except OSError:
            continue
        if not mount(None, point, None, REMOUNT | BIND | RDONLY | flags, point == "/"):
            continue


def inside(path, area):
    return path == area or path.startswith(area.rstrip("/") + "/")


def pin_ancestors(path, areas, pinned):
    """Bind each directory between the writable area and ``path`` onto itself: a mount point cannot be renamed."""
    area = max((a for a in areas if inside(path, a)), key=len, default=None)
    if area is None:
        return
    parts = os.path.relpath(os.path.dirname(path), area).split("/")
    current = area
    for part in parts:
        if part in ("", "."):
            continue
        current = os.path.join(current, part)
        if current not in pinned and os.path.isdir(current) and not os.path.islink(current):
            pinned.add(current)
            mount(current, current, None, BIND | REC)


SYSTEM = ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "opt", "nix", "snap", "var", "dev", "proc",
          "sys", "run", "tmp")
"""Top-level directories a concealed command (run_shell) still sees; every other one (home, /srv, /mnt, data
disks, the controller's own checkout) is an empty directory to it but for what it needs, bound back."""


def concealed():
    """The top-level directories to cover: real directories outside ``SYSTEM`` (a link such as /lib -> usr/lib
    leads into one that stays)."""
    found = []
    for name in sorted(os.listdir("/")):
        path = "/" + name
        if name not in SYSTEM and os.path.isdir(path) and not os.path.islink(path):
            found.append(path)
    return found


def install_root(d):
    """The installation a directory of executables belongs to: a venv or prefix for ``bin``, pyenv for its
    shims, the package for ``node_modules/.bin``; the directory itself otherwise."""
    root = os.path.dirname(d) if os.path.basename(d) in ("bin", ".bin", "shims", "condabin") else d
    return os.path.dirname(root) if os.path.basename(root) == "node_modules" else root


def tools_in(spec, env, areas):
    """Interpreters and tools the command runs from inside covered areas (a virtualenv under /tmp, pyenv or conda
    under the home, on PATH, named by the argv, or the end of a symlink to one): in view, read-only; the
    areas themselves are not, or they would not be covered."""
    dirs = [os.path.normpath(d) for d in env.get("PATH", "").split(":") if d.startswith("/")]
    exe = (spec.get("argv") or [""])[0]
    names = [exe] if "/" in exe else [os.path.join(d, n) for d in dirs for n in {exe or "python3", "python3"}]
    for path in names:
        for _ in range(8):   # each hop of a symlink chain (a venv's python links to the base interpreter)
            path = os.path.abspath(path)
            dirs.append(os.path.dirname(path))
            if not os.path.islink(path):
                break
            path = os.path.join(os.path.dirname(path), os.readlink(path))
    home = os.path.normpath(env.get("HOME") or "/")
    roots = []
    for d in dirs:
        root = install_root(d)
        if (any(inside(root, a) and root != a for a in areas) and root != home and os.path.isdir(root)
                and root not in roots):
            roots.append(root)
    return [("ro", root) for root in roots]


def targets(spec, areas):
    """(op, path) for every mount of the spec that exists now, globs expanded, symlinks skipped."""
    found = []
    for op, path in tools_in(spec, os.environ, areas) + [tuple(m) for m in spec["mounts"]]:
        paths = [path]
        if op == "ro_glob":
            paths = sorted(glob.glob(os.path.join(spec["tree"], path), recursive=True))
        for target in paths:
            target = os.path.normpath(os.path.expanduser(target))
            if not os.path.islink(target) and os.path.exists(target):
                found.append((op if op in ("rw", "hide") else "ro", target))
    return found


def cover(area, found, sources):
    """A fresh tmpfs on ``area``; what the command needs from under it (a tree, a tool) is bound back from the
    directory the tmpfs hides, through a descriptor opened before. False where the tmpfs cannot be made."""
    try:
        old = os.open(area, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:   # a directory this user cannot read (another's home): nothing there to bind back
        old = None
    if not mount("tmpfs", area, "tmpfs", NOSUID | NODEV, must=False):
        if old is not None:
            os.close(old)
        return False
    for op, target in found:
        if old is not None and op != "hide" and inside(target, area) and target != area and not any(inside(target, t) for t in sources):
            source = "/proc/self/fd/%d/%s" % (old, os.path.relpath(target, area))
            if os.path.isdir(source):
                os.makedirs(target, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o600))
            sources[target] = source
    return True


def hide(target):
    """An empty read-only directory, or an empty file, in place of a credential store."""
    if not os.path.lexists(target) or os.path.islink(target):
        return   # out of sight already (under a covered area)
    if os.path.isdir(target):
        mount("tmpfs", target, "tmpfs", NOSUID | NODEV | NOEXEC | RDONLY, must=False)
    else:
        mount("/dev/null", target, None, BIND, must=False)
        mount(None, target, None, REMOUNT | BIND | RDONLY | kept(target), must=False)


def build_view(spec):
    mount(None, "/", None, REC | PRIVATE)
    all_read_only()
    areas = ["/tmp"] + (concealed() if spec.get("conceal") else [])
    found = targets(spec, areas)
    sources, covered = {}, []
    for area in areas:
        if cover(area, found, sources):
            covered.append(area)
    writable, pinned = [], set()
    for op, target in found:
        source = sources.get(target, target)
        if op == "hide":
            continue
        if op == "rw":
            if mount(source, target, None, BIND | REC, must=False) and mount(
                    None, target, None, REMOUNT | BIND | kept(target), must=False):
                writable.append(target)
            continue
        pin_ancestors(target, writable, pinned)
        mount(source, target, None, BIND | REC)
        mount(None, target, None, REMOUNT | BIND | RDONLY | kept(target))
    for op, target in found:
        if op == "hide":
            pin_ancestors(target, writable, pinned)
            hide(target)
    for area in covered[1:]:   # the private /tmp stays writable; a concealed directory is empty and read-only
        mount(None, area, None, REMOUNT | BIND | RDONLY | NOSUID | NODEV, must=False)
    if not mount("proc", "/proc", "proc", NOSUID | NODEV | NOEXEC, must=False):
        mount("tmpfs", "/proc", "tmpfs", NOSUID | NODEV | NOEXEC)


def prepare(spec):
    """In the host's view, before the namespaces: writable paths exist, sealed files exist.

    A sealed file that was absent gets an empty placeholder, marked by an mtime of 0, removed after the
    command by ``tidy``. Parallel commands of one project share those placeholders: each holds a shared
    lock on the sealed files' directories from here to its end, and only the last one out removes them
    (under an exclusive lock), so a placeholder never vanishes between one command finding it and
    mounting over it. Returns the locked directories' descriptors."""
    locks = {}
    for op, path in spec["mounts"]:
        path = os.path.expanduser(path)
        try:
            if op == "rw" and not os.path.exists(path):
                os.makedirs(path, exist_ok=True)
            elif op == "seal":
                where = os.path.dirname(path)
                if where not in locks:
                    locks[where] = lock(where)
                if not os.path.lexists(path):
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                    os.utime(fd, (0, 0))
                    os.close(fd)
        except OSError:
            pass   # a cache dir that cannot be made stays read-only; a seal that cannot be made has its dir ro
    return locks


def lock(where):
    """A shared lock on a directory (None where it cannot be taken: placeholders are then left in place)."""
    fd = None
    try:
        fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_SH)
        return fd
    except OSError:
        if fd is not None:
            os.close(fd)
        return None


def placeholder(path):
    """One of ``prepare``'s: an empty regular file whose mtime is still 0 (any write would have moved it)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size == 0 and st.st_mtime == 0


def tidy(spec, locks):
    """The last command out removes the placeholders nobody wrote since (a directive the user wrote
    meanwhile stays); a command that ends while another still runs leaves them to it."""
    for where, fd in locks.items():
        if fd is None:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        for op, path in spec["mounts"]:
            path = os.path.expanduser(path)
            if op == "seal" and os.path.dirname(path) == where and placeholder(path):
                try:
                    os.unlink(path)
                except OSError:
                    pass
        os.close(fd)


def processes_of(uid):
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                count += os.stat("/proc/" + name).st_uid == uid
            except OSError:
                pass
    return count


def limit(spec, nproc_base):
    import resource
    limits = spec.get("rlimits") or {}
    if limits.get("memory_mb"):
        size = int(limits["memory_mb"]) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if limits.get("processes"):
        count = nproc_base + int(limits["processes"])
        resource.setrlimit(resource.RLIMIT_NPROC, (count, count))


def drop_caps():
    for cap in DROP:
        libc.prctl(24, cap, 0, 0, 0)
    libc.prctl(38, 1, 0, 0, 0)


def run(spec):
    os.chdir(spec["cwd"])
    env = dict(os.environ)
    for name in spec.get("unset", []):
        env.pop(name, None)
    if spec.get("argv"):
        os.execvpe(spec["argv"][0], spec["argv"], env)
    os.execve("/bin/sh", ["sh", "-c", spec["cmd"]], env)


def exec_command(spec, nproc_base):
    try:
        drop_caps()
        limit(spec, nproc_base)
        run(spec)
    except OSError as exc:
        sys.stderr.write("tui-researcher: cannot start %r: %s\n" % ((spec.get("argv") or ["sh"])[0], exc))
        os._exit(127)


def ended(status):
    """(exit code, signal name or "") of a wait status."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status), signal.Signals(os.WTERMSIG(status)).name
    return os.WEXITSTATUS(status), ""


def init(spec, pipe, nproc_base):
    """pid 1 of the namespace: build the view, start the command, pass signals on, end with it."""
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG: the namespace dies with its wrapper
    build_view(spec)
    child = os.fork()
    if child == 0:
        os.close(pipe)
        exec_command(spec, nproc_base)
    hold()
    os.write(pipe, b"forked\n")
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            code, sig = ended(status)
            if sig:
                os.write(pipe, ("signal %s\n" % sig).encode())
            os._exit(code)


def host_child(procfd, pid):
    """The host pid of ``pid``'s child, read from the host's /proc (kept open across the namespaces)."""
    try:
        fd = os.open("%d/task/%d/children" % (pid, pid), os.O_RDONLY, dir_fd=procfd)
        with os.fdopen(fd) as f:
            found = f.read().split()
        if found:
            return int(found[0])
    except OSError:
        pass
    for name in os.listdir(procfd):
        if name.isdigit():
            try:
                fd = os.open(name + "/stat", os.O_RDONLY, dir_fd=procfd)
                with os.fdopen(fd) as f:
                    stat = f.read()
                if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
                    return int(name)
            except (OSError, ValueError, IndexError):
                pass
    return None


def report_fd():
    """The trial runner's pipe for the command's host pid (not passed on to the command)."""
    fd = os.environ.pop("TUI_RESEARCHER_REPORT_FD", "")
    if not fd.isdigit():
        return None
    os.set_inheritable(int(fd), False)
    return int(fd)


def report(fd, text):
    if fd is not None:
        try:
            os.write(fd, text.encode())
            os.close(fd)
        except OSError:
            pass


def unshare(spec, fd, nproc_base):
    uid, gid = os.getuid(), os.getgid()
    flags = NEWNS | NEWPID | (NEWUSER if uid else 0) | (0 if spec.get("network", True) else NEWNET)
    if libc.unshare(flags) != 0:
        if not spec.get("degrade"):
            fail("unshare")
        # a scheduler's node without namespaces (the controller probed another machine): say so, run anyway
        sys.stderr.write("tui-researcher: WARNING: no sandbox on this node (unshare: %s): the training can write "
                         "the controller's files and read other processes' /proc\n" % os.strerror(ctypes.get_errno()))
        sys.stderr.flush()
        report(fd, "%d\n" % os.getpid())
        exec_command(spec, nproc_base)
    if uid:
        for name, text in (("setgroups", "deny"), ("uid_map", "%d %d 1" % (uid, uid)),
                           ("gid_map", "%d %d 1" % (gid, gid))):
            with open("/proc/self/" + name, "w") as f:
                f.write(text)


def mirror(status):
    """End this process the way a child ended: its exit code, or its signal."""
    code, sig = ended(status)
    if sig:
        signal.signal(getattr(signal, sig), signal.SIG_DFL)
        os.kill(os.getpid(), getattr(signal, sig))
    sys.exit(code)


def hold():
    """A stop reaches the command directly (a process group's signal, Slurm's, a person's kill of its pid);
    the sandbox's own processes wait for it to end rather than die first (which would kill it at once)
    or pass the signal on (which would deliver it twice)."""
    for name in FORWARD:
        signal.signal(getattr(signal, name), lambda s, f: None)


def enter(spec, fd, nproc_base):
    """In the new namespaces: start the init, report the command's host pid, end as the command ended."""
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    procfd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    unshare(spec, fd, nproc_base)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        init(spec, w, nproc_base)
    os.close(w)
    hold()
    sig = ""
    with os.fdopen(r) as lines:
        for line in lines:
            if line == "forked\n":
                report(fd, "%s\n" % (host_child(procfd, pid) or ""))
            elif line.startswith("signal "):
                sig = line.split()[1]
    status = os.waitpid(pid, 0)[1]
    if sig:
        signal.signal(getattr(signal, sig), signal.SIG_DFL)
        os.kill(os.getpid(), getattr(signal, sig))
    sys.exit(ended(status)[0])


def main(spec):
    nproc_base = processes_of(os.getuid()) if (spec.get("rlimits") or {}).get("processes") else 0
    fd = report_fd()
    if not spec.get("isolate", True):
        report(fd, "%d\n" % os.getpid())
        exec_command(spec, nproc_base)
    locks = prepare(spec)
    pid = os.fork()   # this process stays in the host's mount namespace, to remove the placeholders after
    if pid == 0:
        for held in locks.values():
            if held is not None:
                os.close(held)   # the namespace holds no descriptor of the host's view
        enter(spec, fd, nproc_base)
    if fd is not None:
        os.close(fd)
    hold()
    status = os.waitpid(pid, 0)[1]
    tidy(spec, locks)
    mirror(status)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
