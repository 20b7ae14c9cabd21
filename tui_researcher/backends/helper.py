"""The host helper: one long-lived python3 process per host, answering JSON lines on stdin/stdout.

Standard library only, Python 3.6+, because it runs on whatever GPU host the user has. The
controller starts it locally through a pipe or remotely through one SSH channel; either way a
remote operation costs one round trip on an already-open channel. Requests carry ids and run
in threads, so a slow one (a dry-run) never holds up a fast one (a monitor probe).

Training is launched through ``TRIAL_RUNNER`` in its own session (setsid): it survives the
helper, the SSH connection and the controller, and writes the exit code to a sidecar file. The
controller hands it the training already wrapped in its sandbox (``sandbox_wrapper.py``), which
seals the sidecars and says the training's host pid on a pipe; an exit code is read only once
the trial runner is gone. File tools walk every path from a directory descriptor with O_NOFOLLOW.
A trial's tree (its own copy of the code) arrives as one tar (``unpack_tree``), and only the
files its worker changed go back (``pack_tree``).
The package imports this module too (``pid_alive``, ``scrubbed_env``, ``TRIAL_RUNNER``), so
those have one definition here and in the copy every host runs.
"""

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

SECRET_ENV = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|_AUTH)", re.IGNORECASE)
MAX_OUTPUT = 200000
LAUNCH_GRACE_S = 30.0
GPU_QUERY = "index,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,uuid"
APPS_QUERY = "gpu_uuid,pid,used_memory,process_name"

TRIAL_RUNNER = r'''
import json, os, re, signal, subprocess, sys, time
# runs one trial; the spec comes as argv[1] (the host helper's launch) or as SPEC defined above this text
# (a Slurm job script)
spec = json.loads(globals()["SPEC"] if "SPEC" in globals() else sys.argv[1])
received = []
def note(signum, frame):
    # a stop (killpg, scancel, a time limit) reaches the trial too: note it and wait for the trial to end
    received.append(signal.Signals(signum).name)
for s in (signal.SIGTERM, signal.SIGINT):
    signal.signal(s, note)
for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):   # for the trial, not for us; a handler,
    signal.signal(s, lambda *a: None)                          # unlike SIG_IGN, is not inherited
def atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(data)); f.flush(); os.fsync(f.fileno())
    os.replace(tmp, path)
secret = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|_AUTH)", re.IGNORECASE)
env = {k: v for k, v in os.environ.items() if not secret.search(k)}   # e.g. a Slurm job's own variables
env.update(spec["env"])
env["PYTHONUNBUFFERED"] = "1"
if os.path.exists(spec["exit"]):     # a requeued job: the sidecar of the attempt before is not this one's
    os.replace(spec["exit"], spec["exit"] + ".requeued")
log = open(spec["log"], "ab", buffering=0)
started = time.time()
job = {"job_id": os.environ.get("SLURM_JOB_ID", ""), "node": os.environ.get("SLURMD_NODENAME", ""),
       "gpus": os.environ.get("SLURM_JOB_GPUS", "")}
# a sandboxed training (sandbox_wrapper.py) says its host pid on a pipe: in its PID namespace it has another
sandboxed = env.pop("TUI_RESEARCHER_SANDBOX", None) == "1"
report = os.pipe() if sandboxed else None
if report:
    env["TUI_RESEARCHER_REPORT_FD"] = str(report[1])
try:
    child = subprocess.Popen(spec["argv"], cwd=spec["cwd"], env=env, stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT, pass_fds=report[1:] if report else ())
except OSError as exc:
    log.write(("tui-researcher: cannot start %r: %s\n" % (spec["argv"][0], exc)).encode())
    rc = 127
else:
    training = child.pid
    if report:
        os.close(report[1])
        with os.fdopen(report[0]) as said:
            line = said.readline().strip()
        training = int(line) if line.isdigit() else child.pid
    atomic(spec["pidfile"], dict(job, pid=os.getpid(), child=training, started=started))
    if spec.get("announce"):   # the host helper waits on this line for the training's pid: no polling
        os.write(1, b"%d\n" % training)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    while True:
        try:
            rc = child.wait()
            break
        except InterruptedError:
            continue
    killed = signal.Signals(-rc).name if rc < 0 else None   # the training itself ended by a signal
    if rc < 0:
        rc = 128 - rc
atomic(spec["exit"], dict(job, exit_code=rc, ended=time.time(), started=started,
                          signal=received[0] if received else None, training_signal=killed))
sys.exit(min(rc, 255))
'''


def scrubbed_env(extra=None):
    """The host's environment without anything that looks like a key or token, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not SECRET_ENV.search(k)}
    env["PYTHONUNBUFFERED"] = "1"
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[str(k)] = str(v)
    return env


def pid_alive(pid, start_time=""):
    """Whether ``pid`` runs (a zombie does not) and, given ``start_time``, is still the process we meant.

    The package's one such check (helper, CLI, UI, tests): ``os.kill(pid, 0)`` calls both alive."""
    if not pid or int(pid) <= 0:
        return False
    alive, start = proc_start_time(int(pid))
    return alive and (not start_time or start == start_time)


def _training_pid(pidfile):
    """The training's own pid (the trial runner's child), from pid.json; None before the runner wrote it."""
    try:
        with open(pidfile) as f:
            return json.load(f).get("child")
    except (OSError, ValueError):
        return None


def proc_start_time(pid):
    """(alive, start time) from the kernel; a zombie is not alive."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            line = f.read()
    except (OSError, ValueError):
        if os.path.isdir("/proc/self"):
            return False, ""
        return _ps_start_time(pid)
    rest = line[line.rfind(")") + 2:].split()
    return rest[0] not in ("Z", "X"), rest[19]


def _ps_start_time(pid):
    try:
        out = subprocess.run(["ps", "-o", "stat=,lstart=", "-p", str(pid)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False, ""
    if not out:
        return False, ""
    state, _, start = out.partition(" ")
    return not state.startswith("Z"), " ".join(start.split())


class Helper:
    def __init__(self, root):
        self.root = os.path.realpath(os.path.expanduser(root))
        os.makedirs(self.root, exist_ok=True)
        self.protected = set()
        self.children = []
        self.children_lock = threading.Lock()
        self.out_lock = threading.Lock()

    # paths ------------------------------------------------------------------

    def resolve(self, path, for_write=False):
        """A path inside the workspace, symlinks resolved; anything else is refused."""
        full = os.path.realpath(os.path.join(self.root, os.path.expanduser(str(path))))
        if full != self.root and not full.startswith(self.root + os.sep):
            raise PermissionError("path %r is outside the workspace" % path)
        if for_write and os.path.relpath(full, self.root) in self.protected:
            raise PermissionError("%s is protected: the controller owns it" % os.path.relpath(full, self.root))
        return full

    def _parts(self, path):
        """The components of a workspace-relative path; absolute paths and '..' are refused."""
        rel = os.path.normpath(os.path.expanduser(str(path)))
        if os.path.isabs(rel) or rel == ".." or rel.startswith(".." + os.sep):
            raise PermissionError("path %r is outside the workspace" % path)
        return [] if rel == "." else rel.split(os.sep)

    def _dir_fd(self, parts, create=False):
        """The directory ``parts`` under the root, opened one component at a time from a descriptor,
        never following a symlink: nothing can be swapped between a check and the open."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in parts:
                if create:
                    try:
                        os.mkdir(part, 0o777, dir_fd=fd)
                    except FileExistsError:
                        pass
                step = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = step
        except OSError as exc:
            os.close(fd)
            if isinstance(exc, FileNotFoundError):
                raise
            raise PermissionError("%s: not a plain directory (a symlink is not followed: it may lead outside "
                                  "the workspace)" % "/".join(parts))
        return fd

    def _open_file(self, path):
        parts = self._parts(path)
        if not parts:
            raise IsADirectoryError("%r is a directory" % path)
        dfd = self._dir_fd(parts[:-1])
        try:
            return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dfd)
        except OSError as exc:
            if exc.errno == 40:   # ELOOP: the file itself is a symlink
                raise PermissionError("%s is a symlink: not followed (it may lead outside the workspace)" % path)
            raise
        finally:
            os.close(dfd)

    # ops ----------------------------------------------------------------------

    def op_hello(self, req):
        return {"pid": os.getpid(), "python": sys.version.split()[0], "hostname": socket.gethostname(),
                "root": self.root, "writable": os.access(self.root, os.W_OK), "time": time.time(),
                "nvidia_smi": shutil.which("nvidia-smi") or ""}

    def op_configure(self, req):
        self.protected = set(os.path.normpath(p) for p in req.get("protected", []))
        return {"protected": sorted(self.protected)}

    def op_ping(self, req):
        return {"time": time.time()}

    def op_run(self, req):
        cwd = self.resolve(req.get("cwd") or ".")
        timeout = float(req.get("seconds") or 60)
        limit = int(req.get("max_output") or MAX_OUTPUT)
        started = time.time()
        try:
            proc = subprocess.Popen(req["argv"], cwd=cwd, env=scrubbed_env(req.get("env")),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
        except OSError as exc:
            return {"exit_code": 127, "stdout": "", "stderr": str(exc), "timed_out": False, "duration": 0.0}
        timed_out = False
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        return {"exit_code": proc.returncode, "stdout": _cut(out, limit), "stderr": _cut(err, limit),
                "timed_out": timed_out, "duration": time.time() - started}

    def op_launch(self, req):
        run_dir = self.resolve(req["run_dir"], for_write=True)
        os.makedirs(run_dir, exist_ok=True)
        spec = {"argv": req["argv"], "cwd": self.resolve(req.get("cwd") or "."),
                "env": scrubbed_env(req.get("env")), "log": os.path.join(run_dir, req.get("log", "train.log")),
                "exit": os.path.join(run_dir, "exit.json"), "pidfile": os.path.join(run_dir, "pid.json")}
        for stale in (spec["exit"], spec["pidfile"]):
            if os.path.exists(stale):
                raise FileExistsError("%s exists: this run directory was launched before" % stale)
        try:   # O_EXCL: two launches into one run directory cannot both pass, however close together
            os.close(os.open(os.path.join(run_dir, "launch.lock"), os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            raise FileExistsError("%s was launched before" % run_dir)
        proc = subprocess.Popen([sys.executable, "-c", TRIAL_RUNNER, json.dumps(dict(spec, announce=True))],
                                cwd=spec["cwd"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        with self.children_lock:
            self.children.append(proc)
        start = proc_start_time(proc.pid)[1]
        announced = proc.stdout.readline().strip()   # the runner's one line, or EOF if the training never started
        proc.stdout.close()
        return {"pid": proc.pid, "start_time": start, "log_path": spec["log"], "exit_path": spec["exit"],
                "run_dir": run_dir, "host": socket.gethostname(),
                "training_pid": int(announced) if announced.isdigit() else None}

    def op_probe(self, req):
        """Everything one monitor poll needs for every trial on this host, in one answer."""
        self._reap()
        out = {"time": time.time(), "trials": {}}
        for t in req.get("trials", []):
            try:
                out["trials"][t["id"]] = self._probe_trial(t, int(req.get("max_bytes") or 65536))
            except Exception as exc:  # one bad trial must not blind the poll to the others
                out["trials"][t["id"]] = {"error": "%s: %s" % (type(exc).__name__, exc)}
        if req.get("gpu"):
            out["gpu"] = self.op_gpus({})
        return out

    def _probe_trial(self, t, max_bytes):
        run_dir = self.resolve(t["run_dir"])
        pid, start = t.get("pid"), t.get("start_time") or ""
        info = {"pid": pid, "start_time": start}
        pidfile = os.path.join(run_dir, "pid.json")
        if not t.get("training_pid"):
            info["training_pid"] = _training_pid(pidfile)
        if not pid and os.path.exists(pidfile):
            with open(pidfile) as f:
                pid = json.load(f)["pid"]
            info["pid"] = pid
        info["alive"] = pid_alive(pid, start)
        if info["alive"] and not start:
            info["start_time"] = proc_start_time(int(pid))[1]
        lock = os.path.join(run_dir, "launch.lock")
        starting = not pid and os.path.exists(lock) and time.time() - os.path.getmtime(lock) < LAUNCH_GRACE_S
        if starting:   # a launch is under way (its trial runner has not written pid.json yet)
            info["alive"] = True
        exit_path = os.path.join(run_dir, "exit.json")
        info["exit"] = None
        if not info["alive"] and os.path.exists(exit_path):   # read only once its trial runner is gone
            try:
                with open(exit_path) as f:
                    info["exit"] = json.load(f)
            except ValueError:
                pass
        info["launched"] = bool(pid) or os.path.exists(lock) or info["exit"] is not None
        log = os.path.join(run_dir, t.get("log", "train.log"))
        data, offset, size = self._read_from(log, int(t.get("offset") or 0), max_bytes,
                                             whole=info["exit"] is not None or not info["alive"])
        info.update(data=data, offset=offset, size=size)
        return info

    def _read_from(self, path, offset, max_bytes, whole):
        try:
            size = os.path.getsize(path)
        except OSError:
            return "", offset, 0
        if size < offset:   # truncated or replaced: start again
            offset = 0
        if size == offset:
            return "", offset, size
        with open(path, "rb") as f:
            f.seek(offset)
            chunk = f.read(max_bytes)
        if not whole or len(chunk) == max_bytes:
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                chunk = chunk[:cut + 1]
            elif len(chunk) < max_bytes:
                chunk = b""  # half a line: wait for the rest
        return chunk.decode("utf-8", "replace"), offset + len(chunk), size

    def op_tail(self, req):
        path = self.resolve(req["path"])
        size = os.path.getsize(path)
        want = int(req.get("max_bytes") or 65536)
        with open(path, "rb") as f:
            f.seek(max(0, size - want))
            return {"data": f.read().decode("utf-8", "replace"), "size": size}

    def op_kill(self, req):
        pid = int(req["pid"])
        alive, start = proc_start_time(pid)
        if alive and req.get("start_time") and start != req["start_time"]:
            return {"killed": False, "reason": "pid %d now belongs to another process" % pid}
        sig = getattr(signal, req.get("signal", "SIGTERM"))
        return {"killed": self._killpg(pid, sig)}

    def _killpg(self, pid, sig):
        try:
            os.killpg(pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
                return True
            except (ProcessLookupError, PermissionError):
                return False

    def op_read_file(self, req):
        limit = int(req.get("max_bytes") or MAX_OUTPUT)
        with os.fdopen(self._open_file(req["path"]), "rb") as f:
            f.seek(int(req.get("offset") or 0))
            data = f.read(limit + 1)
            size = os.fstat(f.fileno()).st_size
        return {"content": data[:limit].decode("utf-8", "replace"), "truncated": len(data) > limit, "size": size}

    def op_write_file(self, req):
        return self._replace(req["path"], lambda f: f.write(req["content"].encode("utf-8")))

    def _replace(self, rel, fill, mode=0o644):
        """Write ``rel`` through a temporary file and a rename in one directory descriptor, so a reader
        never sees half of it and no symlink anywhere on the way is followed."""
        parts = self._parts(rel)
        if not parts or os.path.join(*parts) in self.protected:
            raise PermissionError("%s is protected: the controller owns it" % rel)
        dfd = self._dir_fd(parts[:-1], create=True)
        name, tmp = parts[-1], parts[-1] + ".tui-tmp"
        try:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except FileNotFoundError:
                pass
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dfd)
            with os.fdopen(fd, "wb") as f:
                fill(f)
                f.flush()
                os.fsync(f.fileno())
                size = os.fstat(f.fileno()).st_size
            os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        finally:
            os.close(dfd)
        return {"path": os.path.join(*parts), "bytes": size}

    def op_list_files(self, req):
        base = self.resolve(req.get("path") or ".")
        depth = int(req.get("depth") or 2)
        limit = int(req.get("limit") or 500)
        entries = []
        base_depth = base.rstrip(os.sep).count(os.sep)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
            if dirpath.count(os.sep) - base_depth >= depth - 1:
                dirnames[:] = []
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                try:
                    size = os.path.getsize(full)
                except OSError:
                    continue
                entries.append({"path": os.path.relpath(full, self.root), "size": size})
                if len(entries) >= limit:
                    return {"entries": entries, "truncated": True}
        return {"entries": entries, "truncated": False}

    def op_copy_in(self, req):
        """A file of this machine into the workspace: a local backend's put_file, refused like write_file."""
        with open(req["source"], "rb") as source:
            return self._replace(req["path"], lambda f: shutil.copyfileobj(source, f),
                                 mode=os.fstat(source.fileno()).st_mode & 0o777)

    def op_exists(self, req):
        return {"exists": os.path.exists(self.resolve(req["path"]))}

    def op_unpack_tree(self, req):
        """A trial's tree from the tar the controller copied in, and a manifest (size, mtime) of what
        was written, so ``pack_tree`` sends back only what the worker changed. Regular files and
        directories only, each created new under a fresh directory, never through a link."""
        target = self.resolve(req["path"], for_write=True)
        archive = self.resolve(req["archive"], for_write=True)
        if os.path.lexists(target):
            shutil.rmtree(target)
        os.makedirs(target)
        manifest = {}
        with tarfile.open(archive) as tar:
            for member in tar:
                name = os.path.normpath(member.name)
                if os.path.isabs(name) or name.split(os.sep)[0] in ("..", ".") or not (member.isfile() or member.isdir()):
                    continue
                dest = os.path.join(target, name)
                if member.isdir():
                    os.makedirs(dest, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                with os.fdopen(os.open(dest, flags, (member.mode & 0o777) | 0o600), "wb") as f:
                    shutil.copyfileobj(tar.extractfile(member), f)
                st = os.lstat(dest)
                manifest[name] = [st.st_size, st.st_mtime_ns]
        os.unlink(archive)
        with open(_manifest(target), "w") as f:
            json.dump(manifest, f)
        return {"files": len(manifest)}

    def op_pack_tree(self, req):
        target = self.resolve(req["path"])
        try:
            with open(_manifest(target)) as f:
                manifest = json.load(f)
        except (OSError, ValueError):
            manifest = {}
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for dirpath, dirnames, filenames in os.walk(target):
                dirnames[:] = [d for d in dirnames if d != "__pycache__"]
                for name in filenames:
                    full = os.path.join(dirpath, name)
                    rel = os.path.relpath(full, target)
                    st = os.lstat(full)
                    if os.path.islink(full) or rel.endswith(".pyc") or manifest.get(rel) == [st.st_size, st.st_mtime_ns]:
                        continue
                    tar.add(full, arcname=rel, recursive=False)
        deleted = [rel for rel in manifest if not os.path.lexists(os.path.join(target, rel))]
        return {"tar": base64.b64encode(buf.getvalue()).decode("ascii"), "deleted": deleted}

    def op_prune_tree(self, req):
        """After the trial: each file whose content is the snapshot's blob goes (git holds it), never through
        a link; then the directories left empty, the tree itself included. What the training wrote stays."""
        target = self.resolve(req["path"], for_write=True)
        if not os.path.isdir(target) or os.path.islink(target):
            return {"removed": 0}
        real = os.path.realpath(target)
        removed = 0
        for rel, blob in req["blobs"].items():
            name = os.path.normpath(rel)
            if os.path.isabs(name) or name.split(os.sep)[0] in ("..", "."):
                continue
            full = os.path.join(target, name)
            if os.path.realpath(os.path.dirname(full)) != os.path.join(real, os.path.dirname(name)).rstrip(os.sep):
                continue                                    # a directory swapped for a link: not ours to touch
            try:
                fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except OSError:
                continue
            with os.fdopen(fd, "rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    continue
                data = f.read()
            digest = hashlib.new("sha1" if len(blob) == 40 else "sha256", b"blob %d\0" % len(data))
            digest.update(data)
            if digest.hexdigest() == blob:
                os.unlink(full)
                removed += 1
        for dirpath, _dirs, _files in os.walk(target, topdown=False):
            if os.path.basename(dirpath) == "__pycache__":      # compiled from the code that went
                shutil.rmtree(dirpath, ignore_errors=True)
            elif not os.listdir(dirpath):
                os.rmdir(dirpath)
        with contextlib.suppress(OSError):
            os.unlink(_manifest(target))
        return {"removed": removed}

    def op_gpus(self, req):
        exe = shutil.which("nvidia-smi")
        if not exe:
            return {"csv": None, "error": "no GPU (nvidia-smi not found)"}
        try:
            proc = subprocess.run([exe, "--query-gpu=" + GPU_QUERY, "--format=csv,noheader,nounits"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                  timeout=15)
        except subprocess.TimeoutExpired:
            return {"csv": None, "error": "nvidia-smi timed out"}
        except OSError as exc:
            return {"csv": None, "error": "nvidia-smi failed: %s" % exc}
        if proc.returncode != 0:
            return {"csv": None, "error": (proc.stderr or proc.stdout).strip()[:300] or "nvidia-smi failed"}
        return {"csv": proc.stdout, "error": "", "apps": self._compute_apps(exe)}

    @staticmethod
    def _compute_apps(exe):
        """Each GPU's processes (nvtop's list); "" when the driver will not say: the readings stand without."""
        try:
            proc = subprocess.run([exe, "--query-compute-apps=" + APPS_QUERY, "--format=csv,noheader,nounits"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                  timeout=15)
        except (subprocess.TimeoutExpired, OSError):
            return ""
        return proc.stdout if proc.returncode == 0 else ""

    # plumbing -----------------------------------------------------------------

    def _reap(self):
        with self.children_lock:
            self.children = [p for p in self.children if p.poll() is None]

    def handle(self, line):
        try:
            req = json.loads(line)
        except ValueError:
            return
        rid = req.get("id")
        try:
            fn = getattr(self, "op_" + str(req.get("op")), None)
            if fn is None:
                raise ValueError("unknown op %r" % req.get("op"))
            reply = {"id": rid, "ok": True, "result": fn(req)}
        except Exception as exc:
            reply = {"id": rid, "ok": False, "error": "%s: %s" % (type(exc).__name__, exc),
                     "type": type(exc).__name__}
        data = (json.dumps(reply) + "\n").encode("utf-8")
        with self.out_lock:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()


def _manifest(tree):
    return os.path.join(os.path.dirname(tree), "." + os.path.basename(tree) + ".manifest.json")


def _cut(data, limit):
    text = data.decode("utf-8", "replace")
    if len(text) <= limit:
        return text
    return text[:limit] + "\n[... %d more chars cut]" % (len(text) - limit)


def main(argv):
    root = argv[argv.index("--root") + 1] if "--root" in argv else "."
    helper = Helper(root)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    pool = ThreadPoolExecutor(max_workers=16)
    sys.stdout.buffer.write((json.dumps({"id": 0, "ok": True, "result": {"ready": True}}) + "\n").encode())
    sys.stdout.buffer.flush()
    for line in sys.stdin.buffer:
        pool.submit(helper.handle, line.decode("utf-8", "replace"))
    pool.shutdown(wait=True)


if __name__ == "__main__":
    main(sys.argv[1:])
