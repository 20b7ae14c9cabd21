"""A whole cycle per provider, with the real SDK clients against the local fake server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from tests.agents.conftest import KEY, dry, launch, plan, reflection, run_loop
from tests.helpers import latest_trials, read_state
from tui_researcher.events import Notice, ToolCalled, ToolReturned, UsageChanged

CMD = "python3 train.py --lr 0.1 --hidden 8 --epochs 10"


async def test_full_cycle_edits_dry_runs_launches_monitors_and_reflects(sample_project, config, fake, provider):
    fake.script("think", plan(CMD))
    fake.script("code",
                {"tool": "write_file", "args": {"path": "notes/t0001.md", "content": "lr 0.1, hidden 8\n"}},
                dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    controller = await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "keep" and trial["metric"] > 0.5
    assert trial["argv"] == CMD.split()
    assert [c["tool"] for c in trial["tool_calls"]] == ["write_file", "launch_experiment", "launch_experiment"]
    assert all(c["ok"] for c in trial["tool_calls"])
    assert trial["dry_run"]["ok"] and trial["dry_run"]["argv"][-1] == "--dry-run"
    assert trial["decision"] == "lr 0.1 works; try a wider layer next"
    assert not (sample_project / "workspace" / "notes").exists()      # the workspace itself is untouched
    assert "+lr 0.1, hidden 8" in trial["diff"] and trial["files_changed"] == ["notes/t0001.md"]
    memory = (sample_project / "workspace" / "MEMORY_LOG.md").read_text()
    assert f"- t0001 keep val_acc={trial['metric']:.6g}: lr=0.1 hidden=8 epochs=10" in memory   # the ledger's words
    assert "lesson: a larger lr fits the spirals faster" in memory and "try a wider layer next -> iterate" in memory
    calls = [e for e in controller.seen if isinstance(e, ToolCalled)]
    returns = [e for e in controller.seen if isinstance(e, ToolReturned)]
    assert [e.tool for e in calls] == [e.tool for e in returns] == [c["tool"] for c in trial["tool_calls"]]
    assert {e.trial_id for e in calls} == {"t0001"}
    assert [r.route for r in fake.requests] == ["think", "code", "code", "code", "reflect"]
    headers = {k.lower(): v for k, v in fake.requests[0].headers.items()}
    assert KEY in (headers.get("x-api-key", ""), headers.get("authorization", "").removeprefix("Bearer "))


async def test_no_provider_request_while_a_trial_runs(sample_project, config, fake, provider):
    sleepy = "import sys, time\nif '--dry-run' in sys.argv: sys.exit(0)\ntime.sleep(1.5)\nprint('val_acc=0.7')\n"
    command = "python3 sleepy.py"
    fake.script("think", plan(command))
    fake.script("code", {"tool": "write_file", "args": {"path": "sleepy.py", "content": sleepy}},
                dry(command), launch(command))
    fake.script("reflect", reflection())

    await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "keep" and trial["duration"] >= 1.4
    during = [r for r in fake.requests if trial["started"] <= r.at <= trial["ended"]]
    assert during == []
    assert fake.count() == 5


@pytest.mark.parametrize("provider", ["anthropic"])
async def test_anthropic_cache_tokens_are_priced(sample_project, config, fake, provider):
    fake.usage = {"input": 1000, "output": 200, "cache_read": 4000, "cache_write": 800}
    fake.script("think", plan(CMD))
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    controller = await run_loop(sample_project, config)

    body = fake.requests[0].body
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}   # tools render before it: covered
    usage = controller.state.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == \
        (4000, 800, 16000, 3200)
    # claude-sonnet-5-5: $2 in, $10 out, $0.20 cache read, $2.50 cache write per million tokens
    expected = (4000 * 2 + 800 * 10 + 16000 * 0.2 + 3200 * 2.5) / 1e6
    assert usage.usd == pytest.approx(expected) and usage.usd_today == pytest.approx(expected)
    saved = read_state(sample_project)["usage"]
    assert saved["usd"] == pytest.approx(expected)
    assert [e.usd for e in controller.seen if isinstance(e, UsageChanged)][-1] == pytest.approx(expected)
    spent = [e.text for e in controller.seen if isinstance(e, Notice) and " used: " in e.text]
    assert spent[0].startswith("t0001 THINK and EXECUTE used: 18,000 tokens")
    assert spent[1].startswith("t0001 REFLECT used: 6,000 tokens")


@pytest.mark.parametrize("provider", ["openai"])
async def test_openai_cached_prompt_tokens_are_counted_as_cache_reads(sample_project, config, fake, provider):
    fake.usage = {"input": 1000, "output": 100, "cache_read": 3000, "cache_write": 0}
    fake.script("think", plan(CMD))
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    controller = await run_loop(sample_project, config)

    usage = controller.state.usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (4000, 12000, 400)
    # gpt-6-sol: $2 in, $0.20 cached in, $10 out per million tokens
    assert usage.usd == pytest.approx((4000 * 2 + 12000 * 0.2 + 400 * 10) / 1e6)


@pytest.mark.parametrize("provider", ["openai"])
def test_the_cli_runs_a_cycle_with_an_llm_planner(sample_project, fake, provider):
    fake.script("think", plan(CMD))
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection())
    config = yaml.safe_load((sample_project / "config.yaml").read_text())
    config["agent"] = {"provider": "openai", "model": "gpt-6-sol", "base_url": f"{fake.url}/v1",
                       "api_key_env": "TUIR_TEST_API_KEY", "request_timeout": 10}
    (sample_project / "config.yaml").write_text(yaml.safe_dump(config))

    proc = subprocess.run([sys.executable, "-m", "tui_researcher.cli", "run", str(sample_project), "--no-ui",
                           "--max-cycles", "1"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TUIR_TEST_API_KEY": KEY})

    assert proc.returncode == 0, proc.stderr
    assert "launch_experiment" in proc.stdout and KEY not in proc.stdout + proc.stderr
    assert latest_trials(sample_project)["t0001"]["status"] == "keep"
    assert [r.route for r in fake.requests] == ["think", "code", "code", "reflect"]
