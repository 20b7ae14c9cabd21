"""Provider faults and bad answers: the loop survives each one and records what happened."""

from __future__ import annotations

import json

import pytest

from tests.agents.conftest import KEY_ENV, dry, launch, plan, reflection, run_loop
from tests.helpers import latest_trials, read_ledger
from tui_researcher.agents import check_provider, make_planner
from tui_researcher.cli import main as cli_main
from tui_researcher.errors import ResearcherError
from tui_researcher.events import Notice, PhaseChanged

CMD = "python3 train.py --lr 0.1 --hidden 8 --epochs 10"


def script_cycle(fake, *think_first: dict) -> None:
    fake.script("think", *think_first, plan(CMD))
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection())


def at_backoff(event) -> bool:
    """A planning failure backs off: quit there instead of waiting the backoff out (a provider
    retry's wait is a backoff phase too, with another detail)."""
    return isinstance(event, PhaseChanged) and event.phase == "backoff" and event.detail.startswith("planning again")


def memory(project) -> str:
    return (project / "workspace" / "MEMORY_LOG.md").read_text()


def notices(controller, level: str | None = None) -> list[str]:
    return [e.text for e in controller.seen if isinstance(e, Notice) and (level is None or e.level == level)]


@pytest.mark.parametrize("fault", [{"status": 429, "headers": {"retry-after": "0.4"}}, {"status": 500}],
                         ids=["429-with-retry-after", "500"])
async def test_transient_errors_are_retried_by_the_sdk(sample_project, config, fake, provider, fault):
    script_cycle(fake, fault)

    await run_loop(sample_project, config)

    first, second = fake.of("think")
    if fault["status"] == 429:
        assert second.at - first.at >= 0.4
    assert second.headers.get("x-stainless-retry-count") == "1"
    assert latest_trials(sample_project)["t0001"]["status"] == "keep"


async def test_persistent_outage_is_a_planning_failure_with_backoff(sample_project, config, fake, provider):
    fake.script("think", {"status": 500, "repeat": True})

    controller = await run_loop(sample_project, config, quit_when=at_backoff)

    assert fake.count("think") == 3                    # one request and the SDK's two retries, no spinning
    assert latest_trials(sample_project) == {}
    failure = f"THINK failed: {provider}: server error 500 after 2 retries"
    assert any(text.startswith(failure) for text in notices(controller, "error"))
    assert "planning failure: THINK failed" in memory(sample_project)


async def test_request_timeout_is_a_planning_failure(sample_project, config, fake, provider):
    config.agent.request_timeout = 0.5
    config.agent.max_retries = 1
    fake.script("think", {"delay": 3.0, "repeat": True})

    controller = await run_loop(sample_project, config, quit_when=at_backoff)

    assert fake.count("think") == 2
    assert any(f"{provider}: no answer within 0.5s after 1 retries (agent.request_timeout)" in text
               for text in notices(controller, "error"))
    assert "planning failure" in memory(sample_project)


async def test_malformed_plan_arguments_get_one_repair_request(sample_project, config, fake, provider):
    script_cycle(fake, {"tool": "submit_plan", "raw_args": '{"action": "experiment", "hypo'})

    controller = await run_loop(sample_project, config)

    repair = fake.of("think")[1].body
    assert "not valid JSON" in json.dumps(repair["messages"][-1])
    assert latest_trials(sample_project)["t0001"]["status"] == "keep"
    assert any("asking once for a valid one" in text for text in notices(controller, "warning"))


async def test_invalid_answer_twice_is_a_planning_failure(sample_project, config, fake, provider):
    fake.script("think", {"tool": "submit_plan", "raw_args": "{not json"},
                {"tool": "submit_plan", "args": {"action": "launch_rockets", "hypothesis": "x"}})

    controller = await run_loop(sample_project, config, quit_when=at_backoff)

    assert fake.count("think") == 2 and fake.count("code") == 0
    assert latest_trials(sample_project) == {}
    assert any("action must be one of experiment, wait, report, got 'launch_rockets'" in text
               for text in notices(controller, "error"))


async def test_reply_without_tool_call_is_never_read_as_a_plan(sample_project, config, fake, provider):
    fake.script("think", {"text": "Let's run an experiment with lr=0.1 now."},
                {"text": "action: experiment, worker: code, task: run train.py"})

    controller = await run_loop(sample_project, config, quit_when=at_backoff)

    assert fake.count("think") == 2 and fake.count("code") == 0
    assert latest_trials(sample_project) == {}
    assert any("no submit_plan call in the reply" in text for text in notices(controller, "error"))


async def test_reply_without_tool_call_then_a_valid_one_runs_the_cycle(sample_project, config, fake, provider):
    script_cycle(fake, {"text": "I would try lr 0.1."})

    await run_loop(sample_project, config)

    assert "Call submit_plan again" in json.dumps(fake.of("think")[1].body["messages"][-1])
    assert latest_trials(sample_project)["t0001"]["status"] == "keep"


async def test_worker_that_never_stops_calling_tools_is_cut_at_the_turn_cap(sample_project, config, fake, provider):
    config.agent.max_steps_per_cycle = 4
    fake.script("think", plan(CMD))
    fake.script("code", {"tool": "list_files", "args": {"path": "."}, "repeat": True})
    fake.script("reflect", reflection(milestone=""))

    controller = await run_loop(sample_project, config)

    assert fake.count("code") == 4
    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "launch_failed"
    assert trial["label"] == "code worker reached the turn cap (agent.max_steps_per_cycle=4) without a launch"
    assert [c["tool"] for c in trial["tool_calls"]] == ["list_files"] * 4
    assert "last step" in json.dumps(fake.of("code")[3].body["messages"][-1])
    assert trial["decision"]                           # REFLECT still ran on the failed trial
    assert any("turn cap" in text for text in notices(controller, "warning"))


async def test_malformed_worker_arguments_are_reported_to_the_model(sample_project, config, fake, provider):
    fake.script("think", plan(CMD))
    fake.script("code", {"tool": "write_file", "raw_args": '{"path": "a.txt", "cont'}, dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    first = trial["tool_calls"][0]
    assert first["tool"] == "write_file" and not first["ok"] and "not valid JSON" in first["result"]
    assert "not valid JSON" in json.dumps(fake.of("code")[1].body["messages"])
    assert trial["status"] == "keep"


async def test_outage_during_the_worker_marks_the_trial_and_the_loop_goes_on(sample_project, config, fake,
                                                                              provider):
    config.agent.max_retries = 0
    fake.script("think", plan(CMD))
    fake.script("code", {"status": 503})
    fake.script("reflect", reflection(milestone=""))

    controller = await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "launch_failed" and trial["decision"]
    assert any(f"EXECUTE failed for t0001: {provider}: server error 503" in t for t in notices(controller, "error"))


async def test_a_launch_without_a_dry_run_is_refused_with_the_reason(sample_project, config, fake, provider):
    fake.script("think", plan(CMD))
    fake.script("code", launch(CMD), dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    refused = trial["tool_calls"][0]
    assert not refused["ok"] and "mandatory_dry_run" in refused["result"] and "dry_run=true" in refused["result"]
    assert trial["status"] == "keep"


async def test_a_dry_run_of_another_command_does_not_open_the_gate(sample_project, config, fake, provider):
    other = "python3 train.py --lr 0.3 --hidden 8 --epochs 10"
    fake.script("think", {**plan(CMD), "args": {**plan(CMD)["args"], "params": {}}})
    fake.script("code", dry(other), launch(CMD), {"text": "cannot launch"})
    fake.script("reflect", reflection(milestone=""))

    await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    assert trial["tool_calls"][0]["ok"] and not trial["tool_calls"][1]["ok"]
    assert trial["status"] == "launch_failed" and trial["pid"] is None


async def test_missing_key_is_an_error_at_start_naming_the_variable(sample_project, config, monkeypatch, capsys):
    monkeypatch.delenv(KEY_ENV)

    with pytest.raises(ResearcherError, match=f"set {KEY_ENV} \\(agent.api_key_env\\)"):
        make_planner(config)
    [line] = check_provider(config)
    assert line.startswith(f"agent: problem: agent.provider {config.agent.provider} needs a key: "
                           f"set {KEY_ENV} (agent.api_key_env)")


def test_cli_refuses_to_start_without_the_key(sample_project, monkeypatch, capsys):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)

    code = cli_main(["run", str(sample_project), "--no-ui", "--provider", "anthropic"])

    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "set ANTHROPIC_API_KEY (agent.api_key_env)" in err
    assert not (sample_project / "workspace" / "researcher.db").exists()


def test_a_key_variable_the_scrubber_would_miss_is_refused(sample_project, config, monkeypatch):
    monkeypatch.setenv("ZEBRA_CREDS", "x")
    config.agent.api_key_env = "ZEBRA_CREDS"

    with pytest.raises(ResearcherError, match="would not be scrubbed"):
        make_planner(config)


async def test_doctor_lines_name_model_endpoint_and_credential_without_the_secret(config, provider):
    lines = check_provider(config)

    assert lines[0].startswith(f"agent: {provider} model {config.agent.model} at {config.agent.base_url}")
    assert f"credential from {KEY_ENV}" in lines[1]
    assert all("never-leak" not in line for line in lines)
    assert lines[2].startswith("agent: price $2.00/$10.00")


async def test_a_failed_dry_run_can_be_fixed_and_tried_again(sample_project, config, fake, provider):
    broken = "import sys\nraise SystemExit('ValueError: bad shape')\n"
    fixed = "import sys\nif '--dry-run' in sys.argv: sys.exit(0)\nprint('val_acc=0.8')\n"
    fake.script("think", plan("python3 job.py"))
    fake.script("code", {"tool": "write_file", "args": {"path": "job.py", "content": broken}}, dry("python3 job.py"),
                {"tool": "write_file", "args": {"path": "job.py", "content": fixed}}, dry("python3 job.py"),
                launch("python3 job.py"))
    fake.script("reflect", reflection())

    await run_loop(sample_project, config)

    trial = latest_trials(sample_project)["t0001"]
    results = [c["result"] for c in trial["tool_calls"] if c["tool"] == "launch_experiment"]
    assert results[0].startswith("dry-run FAILED (exit 1)") and "ValueError: bad shape" in results[0]
    assert results[1].startswith("dry-run ok")
    assert trial["status"] == "keep" and trial["metric"] == 0.8
    assert [r["event"] for r in read_ledger(sample_project) if r["id"] == "t0001"].count("launched") == 1
