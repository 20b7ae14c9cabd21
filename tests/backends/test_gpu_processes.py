"""Each GPU's processes: nvidia-smi's compute apps, through the real host helper, to the GPU pane's line."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.helpers import put_on_path
from tui_researcher.backends.gpu import GpuProcess, GpuReading, parse_nvidia_smi
from tui_researcher.backends.local import LocalBackend

FAKE_SMI = """#!/bin/sh
case "$1" in
  --query-compute-apps=*)
    echo "GPU-0000, 4121, 30822, /usr/bin/python3"
    echo "GPU-0000, 5000, 512, /opt/conda/bin/python"
    echo "GPU-2222, 777, 2048, [Not Found]"
    ;;
  *)
    echo "0, NVIDIA H100 80GB HBM3, 97, 31334, 81559, 71, 612, GPU-0000"
    echo "1, NVIDIA H100 80GB HBM3, 0, 3, 81559, 34, 71, GPU-1111"
    ;;
esac
"""


def test_processes_are_attached_to_their_gpu_by_uuid():
    gpus = parse_nvidia_smi("0, A, 1, 2, 3, 4, 5, GPU-0000\n1, A, 1, 2, 3, 4, 5, GPU-1111\n",
                            "GPU-0000, 4121, 30822, /usr/bin/python3\nnot, a, line\n")
    assert gpus[0].processes == (GpuProcess(4121, "python3", 30822.0),) and gpus[1].processes == ()
    again = GpuReading.from_dict(gpus[0].to_dict())
    assert again == gpus[0], "processes survive the event log's JSON"


def test_the_host_helper_reports_each_gpus_processes(tmp_path: Path, monkeypatch):
    put_on_path(tmp_path, monkeypatch, "nvidia-smi", FAKE_SMI)

    async def read():
        backend = LocalBackend(tmp_path / "ws")
        await backend.start()
        try:
            return await backend.gpus()
        finally:
            await backend.close()

    gpus, error = asyncio.run(read())
    assert error == "" and [g.index for g in gpus] == [0, 1]
    assert [p.pid for p in gpus[0].processes] == [4121, 5000] and gpus[0].processes[0].name == "python3"
    assert gpus[1].processes == ()


def test_the_gpu_line_names_the_biggest_process_while_it_fits():
    from tui_researcher.ui.widgets.gpu_meters import processes_text

    gpu = GpuReading(0, processes=(GpuProcess(5000, "python", 512.0), GpuProcess(4121, "python3", 30822.0)))
    assert processes_text(gpu) == "  python3 4121 30.1G +1"
    assert processes_text(GpuReading(1)) == ""
