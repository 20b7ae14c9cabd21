"""Per host and GPU: utilisation and memory bars with numbers, temperature, power, a sparkline.

One line per GPU at any width: what does not fit is left out from the end (its processes, the
sparkline, then power, then temperature), never cut to "…"; the model is named once per host. The
pane's tooltip lists every process of every GPU.

Only the newest reading of each host is kept and drawn (nvitop); the bridge keeps the short
history of utilisation per GPU that the sparkline draws. A missing value is ``None`` until here, where it
becomes "N/A".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widget import Widget

from ..ansi import display_line, plain

if TYPE_CHECKING:
    from ...backends.gpu import GpuReading
    from ...events import MonitorSample

BAR = 8
SPARKS = "▁▂▃▄▅▆▇█"


def bar(fraction: float | None, width: int = BAR) -> tuple[str, str]:
    """(filled, empty) parts of a bar; an unknown value draws as all empty."""
    if fraction is None:
        return "", "·" * width
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "█" * filled, "░" * (width - filled)


def sparkline(values: list[float]) -> str:
    return "".join(SPARKS[min(len(SPARKS) - 1, int(max(0.0, min(100.0, v)) / 100 * len(SPARKS)))] for v in values)


def short_name(name: str) -> str:
    """"NVIDIA A100-SXM4-80GB" -> "A100-SXM4-80GB": the vendor is the same on every line."""
    for vendor in ("NVIDIA ", "Tesla "):
        name = name.removeprefix(vendor)
    return name[:14]


def processes_text(gpu: "GpuReading") -> str:
    """``  python 4121 30.1G +2``: the GPU's first process (by memory) and how many more."""
    if not gpu.processes:
        return ""
    first = max(gpu.processes, key=lambda p: p.memory_mb or 0.0)
    memory = f" {first.memory_mb / 1024:.1f}G" if first.memory_mb is not None else ""
    more = f" +{len(gpu.processes) - 1}" if len(gpu.processes) > 1 else ""
    return f"  {first.name[:16] or 'pid'} {first.pid}{memory}{more}"


def processes_tooltip(samples: "dict[str, MonitorSample | None]") -> Content | None:
    """Every process on every GPU, biggest first (a GPU's line names only its biggest, where it fits)."""
    lines = []
    for host, sample in samples.items():
        for gpu in sample.gpus if sample is not None and sample.reachable else ():
            for proc in sorted(gpu.processes, key=lambda p: -(p.memory_mb or 0.0)):
                name = plain(display_line(proc.name)) or "?"
                memory = "" if proc.memory_mb is None else f"{proc.memory_mb / 1024:6.1f} GB"
                lines.append(f"{plain(display_line(host))} GPU {gpu.index}  pid {proc.pid:<7} {name[:32]:<32} {memory}")
    return Content("\n".join(lines)) if lines else None


def _num(value: float | None, fmt: str, unit: str = "") -> str:
    return "N/A" if value is None else f"{value:{fmt}}{unit}"


class GpuMeters(Widget):
    """Every host the loop uses, newest reading first-come order."""

    def __init__(self, hosts: tuple[str, ...] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.samples: dict[str, "MonitorSample | None"] = {h: None for h in hosts}
        self.history: dict[tuple[str, int], tuple[float, ...]] = {}

    def add_sample(self, sample: "MonitorSample", utilisation: dict[int, tuple[float, ...]]) -> None:
        self.samples[sample.host] = sample
        for index, history in utilisation.items():
            self.history[(sample.host, index)] = history
        self.tooltip = processes_tooltip(self.samples)
        self.refresh(layout=True)

    def render(self) -> Content:
        lines: list[Content] = []
        for host, sample in self.samples.items():
            lines.extend(self._host_lines(host, sample))
        return Content("\n").join(lines) if lines else Content.styled("waiting for the first reading…", "$text-muted")

    def _host_lines(self, host: str, sample: "MonitorSample | None") -> list[Content]:
        name = (host, "bold")
        if sample is None:
            return [Content.assemble(name, ("  waiting for the first reading…", "$text-muted"))]
        if not sample.reachable:
            why = f": {sample.gpu_error}" if sample.gpu_error else ""
            return [Content.assemble(name, ("  host unreachable", "bold $error"), (why, "$text-muted"))]
        if not sample.gpus:
            why = sample.gpu_error.removeprefix("no GPU").strip(" :()")
            why = f" ({why})" if why else ""
            return [Content.assemble(name, ("  no GPU", "bold $text-muted"), (why, "$text-muted"))]
        models = list(dict.fromkeys(short_name(gpu.name or "") for gpu in sample.gpus))
        count = f"  {len(sample.gpus)}× " if len(models) == 1 else f"  {len(sample.gpus)} GPUs: "
        lines = [Content.assemble(name, (count + ", ".join(m for m in models if m), "$text-muted"))]
        width = self.content_size.width or 200
        lines.extend(self._gpu_line(host, gpu, width, named=len(models) > 1) for gpu in sample.gpus)
        return lines

    def _gpu_line(self, host: str, gpu: "GpuReading", width: int, *, named: bool = False) -> Content:
        """Index, utilisation and memory always; temperature, power and the sparkline while they fit."""
        util = gpu.utilization
        used, total = gpu.memory_used_mb, gpu.memory_total_mb
        temp, power = gpu.temperature_c, gpu.power_w
        cells = BAR if width >= 64 else 4
        u_full, u_empty = bar(None if util is None else util / 100, cells)
        m_full, m_empty = bar(None if used is None or not total else used / total, cells)
        temp_style = ("$gpu-cool" if temp is None or temp < 70 else "$gpu-warm" if temp < 85 else "$gpu-hot")
        memory = ("N/A" if used is None or total is None else f"{used / 1024:4.1f}/{total / 1024:.0f} GB")
        parts: list = [(f" {gpu.index:>2} ", "bold")]
        if named:
            parts.append((f"{short_name(gpu.name or ''):<14} ", "$text-muted"))
        parts += [("util ", "$text-muted"), (u_full, "$primary"), (u_empty, "$text-muted"),
                  (f" {_num(util, '3.0f', '%'):>4}  ", ""),
                  ("mem ", "$text-muted"), (m_full, "$accent"), (m_empty, "$text-muted"), (f" {memory:>11}", "")]
        used_cells = sum(len(text) for text, _ in parts)
        history = list(self.history.get((host, gpu.index), ()))
        for extra in ((f"  {_num(temp, '.0f', '°C'):>5}", temp_style), (f" {_num(power, '.0f', 'W'):>5}", ""),
                      (f"  {sparkline(history)}" if history else "", "$primary"),
                      (processes_text(gpu), "$text-muted")):
            if used_cells + len(extra[0]) > width:
                break
            parts.append(extra)
            used_cells += len(extra[0])
        return Content.assemble(*parts)
