"""run_shell in the one sandbox, and the self-reported mark, through a scripted worker in a real loop."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

import pytest

import tui_researcher
from tests.agents.conftest import dry, launch, plan, reflection, run_loop
from tests.helpers import latest_trials
from tui_researcher.events import TrialFinished
from tui_researcher.status import Where, print_summary, summary

pytestmark = [pytest.mark.parametrize("provider", ["anthropic"]),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the namespace sandbox is Linux only")]

CMD = "python3 train.py --lr 0.1 --hidden 8 --epochs 10"


async def shell(project, config, fake, command: str) -> str:
    """What the model was sent back for one run_shell."""
    import json
    fake.script("think", plan(CMD))
    fake.script("code", {"tool": "run_shell", "args": {"command": command}}, {"text": "done"})
    fake.script("reflect", reflection(milestone=""))
    await run_loop(project, config)
    return json.dumps(fake.of("code")[1].body["messages"][-1])


async def test_run_shell_cannot_write_outside_the_workspace_or_into_the_package(sample_project, config, fake,
                                                                                provider, tmp_path):
    package = Path(tui_researcher.__file__).resolve().parent
    home_file = Path.home() / f".tui-researcher-test-{tmp_path.name}"
    outside = tmp_path / "outside.txt"
    result = await shell(sample_project, config, fake,
                         f"echo x > {package}/planted.py; echo '#' >> {package}/backends/helper.py; "
                         f"echo x > {home_file}; echo x > {outside}; echo x > ../escaped.txt")
    # the package refused twice (read-only, or out of sight where it lies under the private /tmp), the home read-only
    assert f"cannot create {package}/planted.py" in result and f"cannot create {package}/backends/helper.py" in result
    assert f"cannot create {home_file}: Read-only file system" in result
    assert not (package / "planted.py").exists() and not home_file.exists()
    assert not outside.exists() and not (sample_project / "escaped.txt").exists()   # the private /tmp took them
    assert not (package / "backends" / "helper.py").read_text().endswith("#\n")


async def test_run_shell_cannot_read_the_home_and_what_it_reads_is_what_the_provider_gets(sample_project, config, fake,
                                                                                         provider, tmp_path):
    """What run_shell prints goes to the model's provider: a secret in the home never reaches it, the workspace does;
    ``agent.tool_readable`` opens a dataset to it, read-only."""
    secret = Path.home() / f".tui-researcher-test-{tmp_path.name}.txt"
    data = Path.home() / f".tui-researcher-data-{tmp_path.name}"
    secret.write_text("sk-not-for-the-provider")
    data.mkdir()
    (data / "labels.csv").write_text("label-file-contents")
    config.agent.tool_readable = [str(data)]
    try:
        result = await shell(sample_project, config, fake, f"cat {secret}; cat {data}/labels.csv; "
                                                           f"echo x > {data}/planted; head -c 300 train.py")
    finally:
        secret.unlink()
        shutil.rmtree(data)
    assert "sk-not-for-the-provider" not in result and "No such file or directory" in result
    assert "label-file-contents" in result and "Read-only file system" in result
    assert "A tiny real training" in result, "the workspace is in view"


@pytest.mark.parametrize("network", [False, True])
async def test_run_shell_has_no_network_unless_the_config_says_so(sample_project, config, fake, provider, network):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    probe = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), 2); print('CONNECTED')\""
    config.agent.tool_network = network
    try:
        result = await shell(sample_project, config, fake, probe)
    finally:
        server.close()
    assert ("CONNECTED" in result) is network
    assert network or "unreachable" in result


async def test_run_shell_memory_is_limited(sample_project, config, fake, provider):
    config.agent.tool_memory_mb = 256
    result = await shell(sample_project, config, fake,
                         "python3 -c \"b = bytearray(1024 * 1024 * 1024); print('ALLOCATED')\"")
    assert "MemoryError" in result and "ALLOCATED" not in result


@pytest.mark.parametrize("evaluator", [False, True])
async def test_a_metric_from_code_the_worker_changed_is_self_reported_without_an_evaluator(
        sample_project, config, fake, provider, evaluator):
    if evaluator:
        config.metric.evaluate = "python3 eval.py --run-dir {run_dir}"    # the sample's
    forged = "python3 fast.py"
    fake.script("think", plan(forged))
    fake.script("code", {"tool": "write_file", "args": {"path": "fast.py", "content": (
                    "import os, runpy, sys\nsys.argv = ['train.py', '--lr', '0.1', '--hidden', '8', '--epochs', '5']\n"
                    "if '--dry-run' in sys.argv[1:] or os.environ.get('DRY'): pass\n"
                    "runpy.run_path('train.py', run_name='__main__')\n")}},
                dry(forged), launch(forged))
    fake.script("reflect", reflection(milestone=""))
    loop = await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    assert trial["code_changed"] and isinstance(trial["metric"], float)
    assert trial["self_reported"] is (not evaluator)
    assert trial["measured_by"] == ("evaluator" if evaluator else "log")
    finished = next(e for e in loop.seen if isinstance(e, TrialFinished))
    assert finished.self_reported is (not evaluator)
    from io import StringIO
    out = StringIO()
    paths = loop.project.paths
    print_summary(summary(Where("spirals", "val_acc", "max", paths)), out)
    assert ("self-reported" in out.getvalue()) is (not evaluator and trial["status"] == "keep")


async def test_the_evaluator_and_protected_data_cannot_be_written_by_the_worker(sample_project, config, fake,
                                                                                provider):
    config.metric.evaluate, config.metric.protected = "python3 eval.py --run-dir {run_dir}", ["held*.json"]
    workspace = sample_project / "workspace"
    before = {name: (workspace / name).read_bytes() for name in ("eval.py", "heldout.json")}
    fake.script("think", plan(CMD))
    fake.script("code", {"tool": "write_file", "args": {"path": "eval.py", "content": "print('val_acc=1.0')"}},
                {"tool": "write_file", "args": {"path": "heldout.json", "content": "[]"}},
                {"tool": "run_shell", "args": {"command": "echo 'print(1)' > eval.py; echo [] > heldout.json; "
                                                          "mv eval.py e2.py"}}, {"text": "done"})
    fake.script("reflect", reflection(milestone=""))
    await run_loop(sample_project, config)
    calls = latest_trials(sample_project)["t0001"]["tool_calls"]
    assert [c["ok"] for c in calls[:2]] == [False, False] and all("is protected" in c["result"] for c in calls[:2])
    assert {name: (workspace / name).read_bytes() for name in before} == before


@pytest.mark.parametrize("edit, changed", [
    # a shell edit the tools never saw still changes the code the metric came from
    ({"tool": "run_shell", "args": {"command": "sed -i 's/^import /import sys, /' train.py"}}, True),
    # a write of what the file already held, and a shell that only reads, change nothing
    ({"tool": "run_shell", "args": {"command": "cp train.py /tmp/t.py && cp /tmp/t.py train.py && wc -l train.py"}},
     False),
])
async def test_self_reported_follows_the_trials_code_not_the_tools_it_called(sample_project, config, fake,
                                                                            provider, edit, changed):
    fake.script("think", plan(CMD))
    fake.script("code", edit, dry(CMD), launch(CMD))
    fake.script("reflect", reflection(milestone=""))
    await run_loop(sample_project, config)
    trial = latest_trials(sample_project)["t0001"]
    assert isinstance(trial["metric"], float) and trial["measured_by"] == "log"
    assert trial["code_changed"] is changed and trial["self_reported"] is changed
    assert bool(trial["files_changed"]) is changed and (trial["files_changed"] == ["train.py"]) is changed
