"""One backend protocol: every test here runs against the local helper and against a real sshd."""

from __future__ import annotations

import json
import sys

import pytest

from tests.helpers import pid_alive as process_alive
from tests.polling import probe_until, wait_until
from tests.sshd_server import FAKE_GPU_CSV
from tests.trials import GATED, SPAWNER, STEPPED
from tui_researcher.backends.base import TrialRef
from tui_researcher.backends.gpu import GpuReading
from tui_researcher.errors import BackendError

PY = sys.executable


async def launch_gated(backend, run_dir="runs/t1", code=0):
    await backend.write_file("gated.py", GATED)
    info = await backend.launch([PY, "gated.py", str(code)], run_dir=run_dir)
    return info, TrialRef(id=run_dir.rsplit("/", 1)[-1], run_dir=run_dir, pid=info.pid, start_time=info.start_time)


# files ----------------------------------------------------------------------------------


async def test_written_file_reads_back_and_is_listed(backends):
    backend = await backends.open()

    await backend.write_file("notes/a.txt", "héllo\nworld\n")

    assert await backend.read_file("notes/a.txt") == "héllo\nworld\n"
    assert {"path": "notes/a.txt", "size": len("héllo\nworld\n".encode())} in await backend.list_files(".")
    assert await backend.exists("notes/a.txt")
    assert not await backend.exists("notes/b.txt")


async def test_put_file_copies_a_local_file_in_and_refuses_what_a_write_refuses(backends, tmp_path):
    local = tmp_path / "weights.bin"
    local.write_bytes(bytes(range(256)) * 64)
    backend = await backends.open()
    await backend.configure(["state.json"])

    await backend.put_file(local, "code/weights.bin")

    assert (backends.workspace / "code" / "weights.bin").read_bytes() == local.read_bytes()
    for refused in ("state.json", "../weights.bin"):
        with pytest.raises(BackendError, match="protected|outside the workspace"):
            await backend.put_file(local, refused)
    assert not (backends.workspace / "state.json").exists()


async def test_root_names_the_workspace_and_ping_and_gpus_answer(backends):
    backend = await backends.open(gpu=False)

    assert backend.root == str(backends.workspace.resolve())
    assert 0 < await backend.ping() < 5
    readings, why = await backend.gpus()
    assert readings is None and "no GPU" in why


@pytest.mark.parametrize("escape", ["dotdot", "absolute", "symlink"])
async def test_paths_escaping_the_workspace_are_refused(backends, tmp_path, escape):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (backends.workspace / "link").symlink_to(outside)
    path = {"dotdot": "../outside/secret.txt", "absolute": str(outside / "secret.txt"),
            "symlink": "link/secret.txt"}[escape]
    backend = await backends.open()

    with pytest.raises(BackendError, match="outside the workspace"):
        await backend.read_file(path)
    with pytest.raises(BackendError, match="outside the workspace"):
        await backend.write_file(path, "overwritten")
    with pytest.raises(BackendError, match="outside the workspace"):
        await backend.list_files(str(outside) if escape == "absolute" else path.rsplit("/", 1)[0])

    assert (outside / "secret.txt").read_text() == "secret"


async def test_protected_paths_are_refused_after_configure_and_after_reconnect(backends):
    backend = await backends.open()
    await backend.write_file("state.json", "{}")
    await backend.configure(["state.json", "trials.jsonl"])

    with pytest.raises(BackendError, match="protected"):
        await backend.write_file("state.json", '{"hacked": true}')
    with pytest.raises(BackendError, match="protected"):
        await backend.write_file("sub/../trials.jsonl", "")
    await backend.close()  # the next call starts a new helper: it must learn the list again
    with pytest.raises(BackendError, match="protected"):
        await backend.write_file("state.json", '{"hacked": true}')

    await backend.write_file("notes.md", "fine")
    assert await backend.read_file("state.json") == "{}"


# run ------------------------------------------------------------------------------------


async def test_run_returns_exit_code_and_both_streams(backends):
    backend = await backends.open()

    result = await backend.run([PY, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])

    assert (result.exit_code, result.stdout, result.stderr, result.timed_out) == (3, "out\n", "err\n", False)


async def test_run_past_its_timeout_kills_the_whole_process_group(backends):
    backend = await backends.open()
    await backend.write_file("spawner.py", SPAWNER)

    result = await backend.run([PY, "spawner.py"], timeout=1.5)

    assert result.timed_out and not result.ok
    grandchild = int(await backend.read_file("child.pid"))
    await wait_until(lambda: not process_alive(grandchild), 5, "the grandchild to be killed with its group")


# launch, probe, kill --------------------------------------------------------------------


async def test_launched_trial_survives_backend_close_and_its_exit_code_lands_in_the_sidecar(backends):
    backend = await backends.open()
    helper_pid = backend.info["pid"]
    info, ref = await launch_gated(backend, code=7)
    await backend.close()
    await wait_until(lambda: not process_alive(helper_pid), 10, "the host helper to exit")

    assert process_alive(info.pid)
    again = await backends.open()
    running = (await again.probe([ref], gpu=False)).trials[ref.id]
    assert running.alive and running.exit_code is None and not running.finished

    await again.write_file("go", "")
    ended = await probe_until(again, ref, lambda t: t.finished)

    assert ended.exit_code == 7
    assert json.loads(await again.read_file("runs/t1/exit.json"))["exit_code"] == 7


async def test_alive_check_needs_the_same_process_start_time(backends):
    backend = await backends.open()
    info, ref = await launch_gated(backend)
    impostor = TrialRef(id="other", run_dir=ref.run_dir, pid=info.pid, start_time="1")

    probe = await backend.probe([ref, impostor], gpu=False)

    assert probe.trials[ref.id].alive
    assert not probe.trials["other"].alive
    assert not await backend.kill(info.pid, "1")  # a recycled pid is never signalled
    assert process_alive(info.pid)
    await backend.write_file("go", "")
    await probe_until(backend, ref, lambda t: t.finished)


async def test_probe_returns_each_log_line_once_and_holds_back_a_partial_line(backends):
    backend = await backends.open()
    await backend.write_file("stepped.py", STEPPED)
    info = await backend.launch([PY, "stepped.py"], run_dir="runs/s")
    ref = TrialRef(id="s", run_dir="runs/s", pid=info.pid, start_time=info.start_time)
    seen: list[str] = []

    async def read_until(expected: str) -> None:
        async def caught_up() -> bool:
            probe = (await backend.probe([ref], gpu=False)).trials[ref.id]
            seen.append(probe.data)
            ref.offset = probe.offset
            assert expected.startswith("".join(seen)), f"unexpected log text {''.join(seen)!r}"
            return "".join(seen) == expected
        await wait_until(caught_up, 10, f"log text {expected!r}")

    await backend.write_file("go1", "")
    await read_until("line 1\nline 2\n")
    held = (await backend.probe([ref], gpu=False)).trials[ref.id]
    assert (held.data, held.offset) == ("", ref.offset)
    assert held.size == ref.offset + len("partial")

    await backend.write_file("go2", "")
    await read_until("line 1\nline 2\npartial rest\nline 4\n")
    await backend.write_file("go3", "")
    ended = await probe_until(backend, ref, lambda t: t.finished)

    assert ended.exit_code == 0 and ended.data == ""
    assert "".join(seen) == "line 1\nline 2\npartial rest\nline 4\n"


async def test_kill_stops_the_trial_and_everything_it_started(backends):
    backend = await backends.open()
    await backend.write_file("spawner.py", SPAWNER)
    info = await backend.launch([PY, "spawner.py"], run_dir="runs/k")
    ref = TrialRef(id="k", run_dir="runs/k", pid=info.pid, start_time=info.start_time)
    await wait_until(lambda: backend.exists("child.pid"), 10, "the trial to start its child")
    grandchild = int(await backend.read_file("child.pid"))

    assert await backend.kill(info.pid, info.start_time)

    ended = await probe_until(backend, ref, lambda t: t.finished)
    assert ended.exit_code == 128 + 15
    await wait_until(lambda: not process_alive(grandchild), 5, "the grandchild to die with its group")


async def test_a_run_directory_is_never_launched_twice(backends):
    backend = await backends.open()
    info, ref = await launch_gated(backend)
    await wait_until(lambda: backend.exists("runs/t1/pid.json"), 10, "the trial runner's pid file")

    with pytest.raises(BackendError, match="launched before"):
        await backend.launch([PY, "gated.py", "0"], run_dir="runs/t1")

    await backend.write_file("go", "")
    await probe_until(backend, ref, lambda t: t.finished)


# GPUs -----------------------------------------------------------------------------------


async def test_gpu_readings_come_from_nvidia_smi_with_unknown_fields_as_none(backends):
    backend = await backends.open(gpu=True)

    probe = await backend.probe([], gpu=True)

    assert probe.reachable and probe.gpu_error == ""
    assert len(probe.gpus) == len(FAKE_GPU_CSV.splitlines()) == 4
    assert probe.gpus[0] == GpuReading(index=0, name="NVIDIA A100-SXM4-80GB", utilization=97.0,
                                       memory_used_mb=61234.0, memory_total_mb=81920.0, temperature_c=67.0,
                                       power_w=312.45, uuid="GPU-1d2f3c4b-0000-1111-2222-333344445555")
    assert probe.gpus[2].power_w is None                         # [Not Supported]
    mig = probe.gpus[3]
    assert (mig.utilization, mig.temperature_c, mig.power_w) == (None, None, None)   # [N/A]
    assert mig.memory_total_mb == 40192.0 and mig.uuid.startswith("MIG-")


async def test_host_without_nvidia_smi_reports_no_gpu_instead_of_failing(backends):
    backend = await backends.open(gpu=False)

    probe = await backend.probe([], gpu=True)

    assert probe.reachable
    assert probe.gpus is None
    assert "no GPU" in probe.gpu_error
