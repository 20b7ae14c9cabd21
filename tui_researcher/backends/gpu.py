"""nvidia-smi CSV -> GpuReading, robust to ``[N/A]``, ``[Not Supported]`` and MIG hosts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """A process using a GPU, as ``nvidia-smi --query-compute-apps`` names it."""

    pid: int
    name: str = ""
    memory_mb: float | None = None


@dataclass(frozen=True, slots=True)
class GpuReading:
    """One GPU as sampled; ``None`` where the driver did not say (shown as N/A only in the UI)."""

    index: int
    name: str = ""
    utilization: float | None = None
    memory_used_mb: float | None = None
    memory_total_mb: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None
    uuid: str = ""
    processes: tuple[GpuProcess, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GpuReading":
        values = {k: data.get(k) for k in cls.__dataclass_fields__ if k in data}
        values["processes"] = tuple(GpuProcess(**p) for p in values.get("processes") or () if isinstance(p, dict))
        return cls(**values)


def _number(field: str) -> float | None:
    field = field.strip()
    if not field or field.startswith("[") or field.upper() in ("N/A", "NA", "ERR!"):
        return None
    try:
        return float(field.split()[0])
    except ValueError:
        return None


def parse_compute_apps(csv_text: str) -> dict[str, list[GpuProcess]]:
    """Parse ``--query-compute-apps=gpu_uuid,pid,used_memory,process_name``: processes by GPU uuid."""
    found: dict[str, list[GpuProcess]] = {}
    for line in (csv_text or "").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[1].isdigit() or not parts[0].startswith(("GPU-", "MIG-")):
            continue
        name = ",".join(parts[3:]).strip().rsplit("/", 1)[-1]
        found.setdefault(parts[0], []).append(GpuProcess(int(parts[1]), name, _number(parts[2])))
    return found


def parse_nvidia_smi(csv_text: str, apps_text: str = "") -> list[GpuReading]:
    """Parse ``--query-gpu=index,name,utilization.gpu,memory.used,memory.total,temperature.gpu,power.draw,uuid``,
    with each GPU's processes from ``parse_compute_apps``.

    A GPU's name may itself hold commas, so the fixed fields are counted from both ends.
    """
    apps = parse_compute_apps(apps_text)
    readings = []
    for line in csv_text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 8 or not parts[0].isdigit():
            continue
        util, used, total, temp, power = (_number(p) for p in parts[-6:-1])
        readings.append(GpuReading(
            index=int(parts[0]), name=",".join(parts[1:-6]).strip(), utilization=util,
            memory_used_mb=used, memory_total_mb=total, temperature_c=temp, power_w=power,
            uuid=parts[-1] if not parts[-1].startswith("[") else "",
            processes=tuple(apps.get(parts[-1], ())),
        ))
    return readings
