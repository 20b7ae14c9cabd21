"""A real OpenSSH sshd on 127.0.0.1 for tests and benchmarks: its own config, host key and port.

Shared by ``tests/backends/conftest.py`` and ``benchmarks/bench_ssh.py`` so both measure and test
against the same server. The server runs in the foreground (``sshd -D -e``) in its own process
group; stopping it ends every connection it accepted, which is how tests drop a connection.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"

# Output of `nvidia-smi --query-gpu=<helper.GPU_QUERY> --format=csv,noheader,nounits` on a mixed box:
# two busy A100s, an idle one whose power reading is unsupported, and a MIG-enabled H100 that
# reports utilisation as [N/A], as real drivers do for MIG devices.
FAKE_GPU_CSV = """\
0, NVIDIA A100-SXM4-80GB, 97, 61234, 81920, 67, 312.45, GPU-1d2f3c4b-0000-1111-2222-333344445555
1, NVIDIA A100-SXM4-80GB, 0, 4, 81920, 31, 58.10, GPU-2e3f4a5b-0000-1111-2222-333344445555
2, NVIDIA A100 80GB PCIe, 0, 0, 81920, 29, [Not Supported], GPU-3f4a5b6c-0000-1111-2222-333344445555
3, NVIDIA H100 80GB HBM3 MIG 3g.40gb, [N/A], 13, 40192, [N/A], [N/A], MIG-4a5b6c7d-0000-1111-2222-333344445555
"""


def sshd_available() -> str:
    """Why sshd cannot run here, or '' when it can."""
    if not os.path.exists(SSHD):
        return f"OpenSSH sshd not found at {SSHD} (apt-get install openssh-server)"
    if not shutil.which("ssh-keygen"):
        return "ssh-keygen not found (apt-get install openssh-client)"
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path: Path, comment: str = "tui-researcher-test") -> Path:
    """An unencrypted ed25519 key pair at ``path`` (and ``path.pub``)."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return path


def fingerprint(pub: Path) -> str:
    """``SHA256:...`` of a public key, as ``ssh-keygen -l`` prints it."""
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub)], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


def write_fake_nvidia_smi(bin_dir: Path, csv_text: str = FAKE_GPU_CSV) -> Path:
    """A ``nvidia-smi`` that answers the helper's query with ``csv_text`` and fails on anything else."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    data = bin_dir / "nvidia-smi.csv"
    data.write_text(csv_text)
    script = bin_dir / "nvidia-smi"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  *--query-gpu=*--format=csv,noheader,nounits*) exec cat "{data}" ;;\n'
        "esac\n"
        'echo "fake nvidia-smi: unsupported arguments: $*" >&2\n'
        "exit 6\n")
    script.chmod(0o755)
    return script


def path_without_nvidia_smi(path: str | None = None) -> str:
    """``PATH`` minus any directory holding a real nvidia-smi, so a GPU box can test "no GPU" too."""
    dirs = (path if path is not None else os.environ.get("PATH", "/usr/bin:/bin")).split(os.pathsep)
    return os.pathsep.join(d for d in dirs if d and not os.path.exists(os.path.join(d, "nvidia-smi")))


@dataclass
class ClientKeys:
    """The key a test client logs in with; authorised on every server made from it."""

    key: Path

    @property
    def pub(self) -> Path:
        return self.key.with_name(self.key.name + ".pub")

    @classmethod
    def create(cls, directory: Path) -> "ClientKeys":
        directory.mkdir(parents=True, exist_ok=True)
        return cls(keygen(directory / "id_ed25519", "tui-researcher-client"))


class SSHServer:
    """One sshd: ``start()``, ``stop()``, ``restart()`` (same port, same host key)."""

    def __init__(self, directory: Path, client: ClientKeys, *, path: str | None = None, sftp: bool = True,
                 port: int | None = None) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.client = client
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.user = os.environ.get("USER") or _whoami()
        self.path = path if path is not None else path_without_nvidia_smi()
        self.sftp = sftp
        self.host_key = keygen(self.dir / "ssh_host_ed25519_key", "tui-researcher-test-host")
        self.host_key_fingerprint = fingerprint(self.host_key.with_suffix(".pub"))
        self.known_hosts = self.dir / "known_hosts"
        self.known_hosts.write_text(self.known_hosts_line())
        self.authorized_keys = self.dir / "authorized_keys"
        self.authorized_keys.write_text(client.pub.read_text())
        self.config = self.dir / "sshd_config"
        self.config.write_text(self._config_text())
        self.log: list[str] = []
        self._proc: subprocess.Popen | None = None

    def known_hosts_line(self) -> str:
        pub = self.host_key.with_suffix(".pub").read_text().split()
        return f"[{self.host}]:{self.port} {pub[0]} {pub[1]}\n"

    def _config_text(self) -> str:
        lines = [
            f"Port {self.port}",
            f"ListenAddress {self.host}",
            f"HostKey {self.host_key}",
            f"PidFile {self.dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PermitRootLogin yes",
            "StrictModes no",
            "UsePAM no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "MaxStartups 200",
            "MaxSessions 64",
            "LogLevel INFO",
            f"SetEnv PATH={self.path}",
        ]
        if self.sftp:
            lines.append("Subsystem sftp internal-sftp")
        return "\n".join(lines) + "\n"

    @property
    def address(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "SSHServer":
        if self._proc is not None and self._proc.poll() is None:
            return self
        Path("/run/sshd").mkdir(parents=True, exist_ok=True) if os.geteuid() == 0 else None
        self.log = []
        listening = threading.Event()
        self._proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      start_new_session=True)
        threading.Thread(target=self._drain, args=(self._proc, listening), daemon=True).start()
        if not listening.wait(timeout) or self._proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"sshd did not start on port {self.port}:\n" + "".join(self.log[-20:]))
        return self

    def _drain(self, proc: subprocess.Popen, listening: threading.Event) -> None:
        """Keep sshd's log (it would block on a full pipe) and say when it listens."""
        for line in proc.stderr:
            self.log.append(line)
            if "Server listening on" in line:
                listening.set()
        listening.set()  # sshd exited: let start() see it at once

    def drop_connections(self) -> int:
        """End every connection sshd holds at once, as a network failure would; the listener stays up.

        sshd gives each connection its own session (setsid), so they are found as the listener's
        children rather than by process group. SIGKILL, because a session process can miss a
        SIGTERM that arrives outside its wait for input.
        """
        if self._proc is None:
            return 0
        pids = _children(self._proc.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def stop(self) -> None:
        """End sshd and every connection it holds."""
        self.drop_connections()
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def host_config(self, workspace: str | Path, **overrides):
        """A ``HostConfig`` that reaches this server with the test client key."""
        from tui_researcher.config import HostConfig
        values = dict(host=self.host, port=self.port, user=self.user, workspace=str(workspace),
                      python=sys.executable, identity_file=str(self.client.key), known_hosts=str(self.known_hosts))
        values.update(overrides)
        return HostConfig(**values)

    def ssh_argv(self, *extra: str) -> list[str]:
        """An OpenSSH client command line for this server (for the benchmark's baselines)."""
        return ["ssh", "-p", str(self.port), "-i", str(self.client.key), "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-F", "/dev/null", *extra, f"{self.user}@{self.host}"]


def _children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
            found.append(int(entry))
    return found


def _whoami() -> str:
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name
