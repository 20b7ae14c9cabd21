"""Free-GPU choice across hosts, from one fresh monitor sample (local and SSH; Slurm schedules itself)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .backends.gpu import GpuReading
from .config import GpuConfig


@dataclass(slots=True)
class HostView:
    name: str
    reachable: bool
    gpus: list[GpuReading] | None          # None: no nvidia-smi on the host
    allowed: list[int] | None = None       # per-host `gpus` list from config; None: all
    held: set[int] = field(default_factory=set)   # GPUs our running trials hold
    running: int = 0                       # our trials on this host


@dataclass(frozen=True, slots=True)
class Placement:
    host: str
    gpus: tuple[int, ...] = ()

    @property
    def env(self) -> dict[str, str]:
        return {"CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in self.gpus)} if self.gpus else {}


def free_gpus(view: HostView, cfg: GpuConfig) -> list[int]:
    """GPUs nobody uses: not ours, under the memory and utilisation limits, not excluded."""
    if not view.reachable or not view.gpus:
        return []
    indices = sorted(g.index for g in view.gpus)
    reserved = {indices[-1]} if cfg.reserve_last and len(indices) > 1 else set()
    free = []
    for g in view.gpus:
        if g.index in view.held or g.index in reserved:
            continue
        if view.allowed is not None and g.index not in view.allowed:
            continue
        # an unreadable figure counts as busy: another user's job must keep its GPU
        if g.memory_used_mb is None or g.memory_used_mb > cfg.max_memory_used_mb:
            continue
        if g.utilization is not None and g.utilization > cfg.max_utilization:
            continue
        free.append(g.index)
    return sorted(free)


def choose(views: list[HostView], cfg: GpuConfig, *, cpu_slots_per_host: int = 0) -> tuple[Placement | None, str]:
    """The host (and GPUs) for the next trial, spreading across hosts; or None and why not."""
    reachable = [v for v in views if v.reachable]
    if not reachable:
        return None, "no host reachable"
    if cfg.gpus_per_trial == 0:
        candidates = [v for v in reachable if not cpu_slots_per_host or v.running < cpu_slots_per_host]
        if not candidates:
            return None, "every host's CPU slots are taken"
        best = min(candidates, key=lambda v: (v.running, views.index(v)))
        return Placement(best.name), ""
    options = []
    for v in reachable:
        free = free_gpus(v, cfg)
        if len(free) >= cfg.gpus_per_trial:
            options.append((v.running, -len(free), views.index(v), v, free))
    if not options:
        if all(v.gpus is None for v in reachable):
            return None, "no GPU on any host (set gpu.gpus_per_trial: 0 to run on CPUs)"
        return None, f"waiting for {cfg.gpus_per_trial} free GPU(s)"
    *_, view, free = min(options, key=lambda o: o[:3])
    return Placement(view.name, tuple(free[: cfg.gpus_per_trial])), ""
