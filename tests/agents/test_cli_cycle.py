"""A whole cycle through each real CLI (``claude -p``, ``codex exec``) against the fake server: the
CLI's only tools are the project's, through ``tui-researcher mcp`` and the controller's bridge."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.agents.clis import (DONE, MODELS, cli, cli_config, cli_home, cli_project_config,  # noqa: F401
                               find_cli)  # (fixtures)
from tests.agents.conftest import KEY, KEY_ENV, dry, launch, plan, reflection, run_loop
from tests.agents.fake_stream import offered_tools
from tests.helpers import latest_trials
from tui_researcher.events import ToolCalled, ToolReturned

CMD = "python3 train.py --lr 0.1 --hidden 8 --epochs 10"
SLEEPY = "python3 sleepy.py"
SLEEPY_PY = "import sys, time\nif '--dry-run' in sys.argv: sys.exit(0)\ntime.sleep(1.5)\nprint('val_acc=0.7')\n"
"""A training that takes long enough for a request made during it to be seen."""
WRITERS = {"Bash", "Write", "Edit", "MultiEdit", "NotebookEdit", "shell", "exec_command", "apply_patch", "exec",
           "write_stdin", "local_shell", "spawn_agent"}
"""The CLIs' own tools that run commands or write files: never offered to the model."""


@pytest.fixture
def config(cli_project_config):
    return cli_project_config


async def test_a_cycle_through_the_cli_and_the_projects_mcp_tools(sample_project, config, fake, cli):
    fake.script("think", plan(SLEEPY), DONE)
    fake.script("code", {"tool": "write_file", "args": {"path": "sleepy.py", "content": SLEEPY_PY}},
                dry(SLEEPY), launch(SLEEPY))
    fake.script("reflect", reflection(), DONE)

    controller = await run_loop(sample_project, config, timeout=120)

    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "keep" and trial["metric"] == 0.7     # printed only after its sleep: it really ran
    assert [c["tool"] for c in trial["tool_calls"]] == ["write_file", "launch_experiment", "launch_experiment"]
    assert all(c["ok"] for c in trial["tool_calls"])
    assert trial["dry_run"]["ok"] and trial["decision"] == "lr 0.1 works; try a wider layer next"
    assert "+++ b/sleepy.py" in trial["diff"]            # written in its own tree, kept in its snapshot
    memory = (sample_project / "workspace" / "MEMORY_LOG.md").read_text()
    assert "a larger lr fits the spirals faster" in memory
    calls = [e.tool for e in controller.seen if isinstance(e, ToolCalled)]
    assert calls == [e.tool for e in controller.seen if isinstance(e, ToolReturned)] == \
        ["write_file", "launch_experiment", "launch_experiment"]
    routes = [r.route for r in fake.requests if r.route != "bare"]
    assert routes == ["think", "think", "code", "code", "code", "reflect", "reflect"]
    for request in fake.requests:
        assert not WRITERS & {name for _, name in offered_tools(request.body)}, "a built-in tool that writes"
    ours = {name.rsplit("__", 1)[-1] for space, name in offered_tools(fake.of("code")[0].body)
            if "tuir" in space or name.startswith("mcp__tuir__")}
    assert ours == {"run_shell", "launch_experiment", "write_file", "read_file", "list_files"}
    during = [r for r in fake.requests if trial["started"] <= r.at <= trial["ended"]]
    assert during == []


def test_the_headless_lines_show_the_clis_tool_calls(sample_project, fake, cli, cli_home):
    fake.script("think", plan(CMD), DONE)
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection(), DONE)
    config = yaml.safe_load((sample_project / "config.yaml").read_text())
    config["agent"] = {"provider": cli, "model": MODELS[cli], "cli_path": find_cli(cli.removesuffix("_cli")),
                       "base_url": fake.url if cli == "claude_cli" else f"{fake.url}/v1", "api_key_env": KEY_ENV}
    (sample_project / "config.yaml").write_text(yaml.safe_dump(config))

    proc = subprocess.run([sys.executable, "-m", "tui_researcher.cli", "run", str(sample_project), "--no-ui",
                           "--max-cycles", "1"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, KEY_ENV: KEY})

    assert proc.returncode == 0, proc.stderr
    tool_lines = [line for line in proc.stdout.splitlines() if "launch_experiment" in line]
    assert len(tool_lines) >= 2 and any("dry_run" in line for line in tool_lines)
    assert KEY not in proc.stdout + proc.stderr
    assert latest_trials(sample_project)["t0001"]["status"] == "keep"


@pytest.mark.parametrize("cli", ["codex_cli"])
@pytest.mark.parametrize("priced", [False, True])
async def test_a_cycle_through_codex_in_code_mode_with_its_default_model(sample_project, config, fake, cli, priced):
    """No ``agent.model``: codex picks its own, whose tools are reached through one ``exec`` of JavaScript (its
    code mode); the project's tools still go through its MCP server, and the model codex chose is priced by
    ``agent.pricing`` or named in the warning that its dollars count as $0."""
    from tests.agents.fake_stream import code_mode, nested_tools
    from tui_researcher.config.models import Price
    from tui_researcher.events import Notice

    config.agent.model = ""
    config.agent.pricing = {"gpt-": Price(input=1.0, output=10.0, cache_read=0.1, cache_write=1.0)} if priced else {}
    workspace = sample_project / "workspace"
    patch = ("*** Begin Patch\n*** Add File: {path}\n+planted\n*** End Patch\n")
    attack = "\n".join(f"try {{ text(JSON.stringify(await tools.apply_patch({json.dumps(patch.format(path=p))}))); }} "
                       f"catch (e) {{ text(String(e)); }}" for p in ("planted.txt", str(workspace / "planted.txt")))
    fake.script("think", plan(SLEEPY), DONE)
    fake.script("code", {"tool": "write_file", "args": {"path": "sleepy.py", "content": SLEEPY_PY}},
                {"exec": attack}, dry(SLEEPY), launch(SLEEPY))
    fake.script("reflect", reflection(), DONE)

    controller = await run_loop(sample_project, config, timeout=120)

    model = fake.requests[0].body["model"]
    assert model and all(code_mode(r.body) for r in fake.requests), "codex's default model is in code mode"
    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "keep" and trial["metric"] == 0.7
    assert [c["tool"] for c in trial["tool_calls"]] == ["write_file", "launch_experiment", "launch_experiment"]
    assert all(c["ok"] for c in trial["tool_calls"]) and trial["dry_run"]["ok"]
    assert "+++ b/sleepy.py" in trial["diff"]
    assert "a larger lr fits the spirals faster" in (sample_project / "workspace" / "MEMORY_LOG.md").read_text()
    routes = [r.route for r in fake.requests if r.route != "bare"]
    assert routes == ["think", "think", "code", "code", "code", "code", "reflect", "reflect"]
    # exec runs JavaScript with no file system and no shell nested in it; codex's own apply_patch (and any agent it
    # spawns, in the same process and config) meets its read-only sandbox
    for request in fake.requests:
        nested = nested_tools(request.body)
        assert not (WRITERS - {"exec", "apply_patch", "spawn_agent"}) & nested, f"a built-in tool that writes: {nested}"
    assert not list(sample_project.rglob("planted.txt")), "apply_patch wrote"
    assert "read-only" in json.dumps(fake.of("code")[2].body["input"][-1]), "the refusal went back to the model"
    during = [r for r in fake.requests if trial["started"] <= r.at <= trial["ended"]]
    assert during == []
    unpriced = [e.text for e in controller.seen if isinstance(e, Notice) and "no price known" in e.text]
    usage = controller.state.usage
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    if priced:
        assert not unpriced and usage.usd == pytest.approx(
            (usage.input_tokens * 1.0 + usage.output_tokens * 10.0 + usage.cache_read_tokens * 0.1
             + usage.cache_write_tokens * 1.0) / 1e6)
    else:
        assert unpriced and f"model {model!r}" in unpriced[0], "the model codex chose is named, not ''"
        assert usage.usd == 0
