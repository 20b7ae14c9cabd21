"""What Slurm's client commands print, read into values; and what is written for them.

Only ``--parsable``, ``-o`` format strings and fields that exist in Slurm 22.05 are parsed.
Kept apart from ``slurm.py`` so the backend reads as what it does, not how Slurm spells it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendError
from ..trial import TrialStatus
from .base import RunResult, TrialProbe

SQUEUE_FORMAT = "%i|%T|%S|%e|%N|%j|%r"
"""id, state, start and end (epoch through SLURM_TIME_FORMAT), nodes, name, reason last (free text)."""
EPOCH_ENV = {"SLURM_TIME_FORMAT": "%s"}

ALIVE_STATES = {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_FED",
                "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"}

ENDINGS: dict[str, tuple[TrialStatus, str]] = {
    "CANCELLED": (TrialStatus.CANCELLED, "cancelled in Slurm (scancel)"),
    "TIMEOUT": (TrialStatus.TIMEOUT, "over the Slurm time limit"),
    "DEADLINE": (TrialStatus.TIMEOUT, "past its Slurm deadline"),
    "NODE_FAIL": (TrialStatus.CRASH, "Slurm NODE_FAIL: the node running the job failed"),
    "BOOT_FAIL": (TrialStatus.CRASH, "Slurm BOOT_FAIL: the node did not boot"),
    "OUT_OF_MEMORY": (TrialStatus.CRASH, "out of memory (Slurm OUT_OF_MEMORY)"),
    "PREEMPTED": (TrialStatus.CANCELLED, "preempted by Slurm"),
    "REVOKED": (TrialStatus.CANCELLED, "revoked by Slurm (federation)"),
}
"""Terminal states where Slurm knows better than the exit code: (trial status, failure label)."""


@dataclass(slots=True)
class JobRow:
    """One line of ``squeue -t all``."""

    job_id: str
    state: str
    start: float | None
    end: float | None
    node: str
    name: str
    reason: str

    @property
    def alive(self) -> bool:
        return self.state in ALIVE_STATES


def parse_squeue(text: str) -> dict[str, JobRow]:
    rows = {}
    for line in text.splitlines():
        parts = line.strip().split("|", 6)
        if len(parts) < 7 or not parts[0]:
            continue
        job_id, state, start, end, node, name, reason = parts
        state = state.split()[0] if state else ""    # "CANCELLED by 0" in some versions
        rows[job_id] = JobRow(job_id, state, _epoch(start), _epoch(end), node,
                              name, "" if reason in ("None", "(null)") else reason)
    return rows


def parse_scontrol(text: str) -> dict[str, str]:
    """``scontrol show job -o ID``: key=value pairs on one line (values without spaces, except the last)."""
    return dict(m.groups() for m in re.finditer(r"(\w[\w/:]*)=(\S*)", text))


def exit_from_scontrol(value: str) -> int | None:
    """``ExitCode=3:0`` is exit:signal; a signal reads as 128+signal, like a shell."""
    code, _, sig = value.partition(":")
    try:
        code_i, sig_i = int(code), int(sig or 0)
    except ValueError:
        return None
    return 128 + sig_i if sig_i else code_i


def _epoch(value: str) -> float | None:
    try:
        return float(value) if value and value not in ("N/A", "Unknown", "0") else None
    except ValueError:
        return None


def job_name(project: str, run_dir: str) -> str:
    """``tuir-<project>-<trial>``: readable in squeue, and how a submit whose id was lost is found."""
    raw = f"tuir-{project}-{Path(run_dir).name}" if project else f"tuir-{Path(run_dir).name}"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", raw)[:100]


def whole_lines(tp: TrialProbe) -> None:
    """A running job's log: hand over whole lines only; the half line comes with the next poll."""
    if not tp.data or tp.data.endswith("\n"):
        return
    cut = tp.data.rfind("\n") + 1
    kept, rest = tp.data[:cut], tp.data[cut:]
    if "\ufffd" in tp.data:      # undecodable bytes: text length no longer maps to bytes, keep it all
        return
    tp.data = kept
    tp.offset = tp.offset - len(rest.encode("utf-8"))


def one_token(key: str, value: str | None) -> str:
    """A config value bound for an ``#SBATCH`` line: one token, since a line break would add lines to the script."""
    if value in (None, ""):
        return ""
    if not re.fullmatch(r"[\w.:,+-]+", str(value)):
        raise BackendError(f"execution.slurm.{key}: {value!r} is not a single Slurm value")
    return str(value)


def same_dir(a: str, b: str) -> bool:
    return os.path.normpath(a) == os.path.normpath(b)


def parsable_id(stdout: str) -> str:
    """``sbatch --parsable`` prints ``id`` or ``id;cluster``."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    job_id = lines[-1].split(";")[0] if lines else ""
    return job_id if job_id.isdigit() else ""


def why_failed(result: RunResult) -> str:
    text = (result.stderr.strip() or result.stdout.strip()).replace("sbatch: error: ", "")
    if result.timed_out:
        return "timed out"
    lines = [line for line in text.splitlines() if line.strip()]
    return (" ".join(lines[-2:]) if lines else f"exit {result.exit_code}")[:400]
