"""A CLI that fails (exits 1, hangs, its output cut), a launch without a dry-run through the MCP
path, usage and dollars from the CLIs' own JSON, and the key kept out of files and the screen."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.agents.clis import (DONE, cli, cli_config, cli_home, cli_project_config,  # noqa: F401
                               find_cli)  # (fixtures)
from tests.agents.conftest import KEY, KEY_ENV, dry, launch, plan, reflection, run_loop
from tests.agents.test_agent_faults import at_backoff, memory, notices
from tests.helpers import latest_trials
from tui_researcher.agents import check_provider, make_planner
from tui_researcher.errors import ResearcherError
from tui_researcher.events import Notice, ToolReturned

CMD = "python3 train.py --lr 0.1 --hidden 8 --epochs 10"


@pytest.fixture
def config(cli_project_config):
    return cli_project_config


async def test_a_launch_without_a_dry_run_is_refused_through_the_mcp_path(sample_project, config, fake, cli):
    fake.script("think", plan(CMD), DONE)
    fake.script("code", launch(CMD), dry(CMD), launch(CMD))
    fake.script("reflect", reflection(), DONE)

    controller = await run_loop(sample_project, config, timeout=120)

    refused, dried, launched = [e for e in controller.seen if isinstance(e, ToolReturned)]
    assert not refused.ok and "dry-run" in refused.result
    assert dried.ok and launched.ok
    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "keep" and trial["pid"]
    result = fake.of("code")[1].body
    assert "dry_run=true" in str(result)          # the refusal reached the model as the tool's result


async def test_a_cli_that_exits_1_is_a_planning_failure(sample_project, config, fake, cli):
    config.agent.cli_args = ["--no-such-option"]

    controller = await run_loop(sample_project, config, quit_when=at_backoff, timeout=60)

    assert any(text.startswith(f"THINK failed: {cli}: exit ") for text in notices(controller, "error"))
    assert "planning failure" in memory(sample_project) and latest_trials(sample_project) == {}


async def test_a_rate_limit_past_the_clis_retries_is_a_planning_failure(sample_project, config, fake, cli):
    config.agent.max_retries = 1              # the CLI's own retries (CLAUDE_CODE_MAX_RETRIES, request_max_retries)
    fake.script("think", {"status": 429, "headers": {"retry-after": "0"}, "repeat": True})

    controller = await run_loop(sample_project, config, quit_when=at_backoff, timeout=90)

    errors = notices(controller, "error")
    assert any(t.startswith(f"THINK failed: {cli}: ") and "(rate limited: planning backs off)" in t
               for t in errors), errors
    assert 2 <= fake.count("think") <= 4 and latest_trials(sample_project) == {}


async def test_an_answer_cut_mid_stream_by_the_endpoint_is_retried_by_the_cli(sample_project, config, fake, cli):
    fake.script("think", {**plan(CMD), "cut": True}, plan(CMD), DONE)
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection(), DONE)

    await run_loop(sample_project, config, timeout=120)

    assert fake.count("think") == 3 and latest_trials(sample_project)["t0001"]["status"] == "keep"


async def test_a_refused_credential_says_to_log_the_cli_in(sample_project, config, fake, cli):
    fake.script("think", {"status": 401, "echo_headers": True, "repeat": True})

    controller = await run_loop(sample_project, config, quit_when=at_backoff, timeout=90)

    errors = [t for t in notices(controller, "error") if t.startswith(f"THINK failed: {cli}: ")]
    assert errors and "(log the CLI in, or set agent.api_key_env)" in errors[0]
    assert KEY not in "\n".join(notices(controller)) + memory(sample_project)   # the echoed key is redacted


async def test_a_cli_never_logged_in_says_so_and_backs_off(sample_project, config, fake, cli, cli_home,
                                                           monkeypatch):
    """No key in the environment and a HOME where the CLI was never logged in: the real CLI's own complaint,
    as one notice with what to do, then backoff; nothing is asked of the endpoint without a credential."""
    monkeypatch.delenv(KEY_ENV)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY", "CODEX_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    fake.script("think", {"status": 401, "repeat": True})   # had it asked: refused, as a server would

    controller = await run_loop(sample_project, config, quit_when=at_backoff, timeout=90)

    errors = [t for t in notices(controller, "error") if t.startswith(f"THINK failed: {cli}: ")]
    assert errors and "(log the CLI in, or set agent.api_key_env)" in errors[0], notices(controller)
    assert not latest_trials(sample_project), "no trial without a plan"


async def test_a_cli_silent_past_cli_timeout_is_stopped(sample_project, config, fake, cli):
    config.agent.cli_timeout = 3
    fake.script("think", {"delay": 30, "text": "late", "repeat": True})

    controller = await run_loop(sample_project, config, quit_when=at_backoff, timeout=90)

    assert any(f"{cli}: no tool call and no answer within 3s (agent.cli_timeout): stopped" in text
               for text in notices(controller, "error"))
    assert latest_trials(sample_project) == {}


def cut_output(config, tmp_path) -> None:
    """The real CLI behind a wrapper that passes on its first 150 bytes only."""
    cut = tmp_path / "cut-cli"
    cut.write_text(f'#!/bin/sh\n"{config.agent.cli_path}" "$@" | head -c 150\n')
    cut.chmod(cut.stat().st_mode | stat.S_IEXEC)
    config.agent.cli_path = str(cut)


@pytest.mark.parametrize("cli", ["claude_cli"])   # codex stops at its first failed write: the next test
async def test_output_cut_mid_stream_loses_only_its_usage_with_a_warning(sample_project, config, fake, cli,
                                                                         tmp_path):
    cut_output(config, tmp_path)
    fake.script("think", plan(CMD), DONE)
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection(), DONE)

    controller = await run_loop(sample_project, config, timeout=120)

    assert latest_trials(sample_project)["t0001"]["status"] == "keep"   # the answers came through the tools
    cut_warnings = [t for t in notices(controller, "warning") if t.startswith(f"{cli}: output cut or malformed")]
    assert len(cut_warnings) == 2 and all("usage is unknown" in t for t in cut_warnings)   # THINK and REFLECT


async def test_output_cut_before_the_answer_is_a_planning_failure(sample_project, config, fake, cli, tmp_path):
    cut_output(config, tmp_path)
    fake.script("think", {"text": "no plan from me"}, {"text": "still none"})

    controller = await run_loop(sample_project, config, quit_when=at_backoff, timeout=60)

    errors = notices(controller, "error")
    assert any(t.startswith(f"THINK failed: {cli}: exit 0: output cut or malformed") for t in errors), errors


@pytest.mark.parametrize("cli", ["claude_cli"])
async def test_claude_usage_and_dollars_come_from_its_json(sample_project, config, fake, cli):
    fake.usage = {"input": 1000, "output": 100, "cache_read": 0, "cache_write": 0}
    fake.script("think", plan(CMD), DONE)
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection(), DONE)

    controller = await run_loop(sample_project, config, timeout=120)

    usage = controller.state.usage
    assert (usage.input_tokens, usage.output_tokens) == (6000, 600)
    # THINK and REFLECT end by themselves: claude's total_cost_usd (it prices this model at $3/$15);
    # the code worker is stopped at the launch: its streamed usage, at our table's $2/$10
    assert usage.usd == pytest.approx(2 * (2000 * 3 + 200 * 15) / 1e6 + (2000 * 2 + 200 * 10) / 1e6)


@pytest.mark.parametrize("cli", ["codex_cli"])
async def test_codex_usage_comes_from_turn_completed(sample_project, config, fake, cli):
    fake.usage = {"input": 1000, "output": 100, "cache_read": 500, "cache_write": 0}
    fake.script("think", plan(CMD), DONE)
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection(), DONE)

    controller = await run_loop(sample_project, config, timeout=120)

    usage = controller.state.usage
    # two requests in each phase; the code worker's turn, stopped at the launch, from codex's session
    # log, whose per-response records hold the launching request too
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (6000, 3000, 600)
    assert usage.usd == pytest.approx((6000 * 1.25 + 3000 * 0.125 + 600 * 10) / 1e6)   # gpt-5


async def test_the_clis_dollars_reach_the_daily_cap(sample_project, config, fake, cli):
    config.agent.max_usd_per_day = 0.0001
    fake.usage = {"input": 100_000, "output": 10_000, "cache_read": 0, "cache_write": 0}
    fake.script("think", plan(CMD), DONE)
    fake.script("code", dry(CMD), launch(CMD))
    deferred = lambda e: isinstance(e, Notice) and e.text.startswith("REFLECT of t0001 deferred")  # noqa: E731

    controller = await run_loop(sample_project, config, quit_when=deferred, timeout=120)

    capped = [t for t in notices(controller, "warning") if "reached agent.max_usd_per_day" in t]
    assert capped and fake.count("reflect") == 0
    assert latest_trials(sample_project)["t0001"]["status"] == "keep"    # the cycle begun under the cap launched


async def test_the_key_is_never_in_a_file_or_on_screen(sample_project, config, fake, cli, cli_home):
    fake.script("think", plan(CMD), DONE)
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection(), DONE)

    controller = await run_loop(sample_project, config, timeout=120)

    assert latest_trials(sample_project)["t0001"]["status"] == "keep"
    assert all(KEY not in str(event) for event in controller.seen)
    for root in (sample_project, cli_home):
        for path in Path(root).rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert KEY.encode() not in path.read_bytes(), f"the key is in {path}"
    sent = [r for r in fake.requests if r.route != "bare"]
    assert all(KEY in str(r.headers) for r in sent)   # it did reach the endpoint, from the environment


async def test_doctor_reports_the_clis_version(sample_project, config, cli):
    lines = check_provider(config)

    version = next(line for line in lines if " version " in line)
    assert version.startswith(f"agent: {cli} version ") and any(c.isdigit() for c in version)
    assert f"credential from {KEY_ENV}" in lines[-1] and KEY not in "\n".join(lines)


def test_a_missing_cli_is_an_error_at_start_that_says_what_to_set(sample_project, config, cli, tmp_path):
    config.agent.cli_path = str(tmp_path / "no-such-cli")

    with pytest.raises(ResearcherError, match=f"agent.provider {cli}: .*no-such-cli' not found: install it .* "
                                              f"or set agent.cli_path"):
        make_planner(config)


async def test_doctor_says_when_the_cli_is_missing(sample_project, config, cli, tmp_path):
    config.agent.cli_path = str(tmp_path / "no-such-cli")

    lines = check_provider(config)

    assert any(line.startswith(f"agent: problem: {cli} does not answer: cannot start it") for line in lines)
