"""The loop's own accounting with an LLM planner: the daily cap defers, never drops; a schema-valid
plan runs; every retry is seen; no credential leaves the provider layer."""

from __future__ import annotations

import json

import pytest

from tests.agents.conftest import KEY, dry, launch, reflection, run_loop
from tests.agents.test_agent_faults import at_backoff
from tests.helpers import latest_trials
from tui_researcher.agents.providers import Settings, describe_error, redact
from tui_researcher.events import Notice, PhaseChanged
from tui_researcher.headless import format_event
from tui_researcher.ledger import Ledger
from tui_researcher.money import usd

CMD = "python3 train.py --lr 0.1 --hidden 8 --epochs 10"


def notices(controller, level: str | None = None) -> list[str]:
    return [e.text for e in controller.seen if isinstance(e, Notice) and (level is None or e.level == level)]


def minimal_plan() -> dict:
    return {"tool": "submit_plan", "args": {"action": "experiment", "hypothesis": f"run {CMD} as it is"}}


async def test_the_daily_cap_lets_a_begun_cycle_launch_and_defers_reflect_to_the_next_day(
        sample_project, config, fake, provider):
    config.agent.max_usd_per_day = 0.0001
    fake.usage = {"input": 100_000, "output": 10_000, "cache_read": 0, "cache_write": 0}
    fake.script("think", minimal_plan())
    fake.script("code", dry(CMD), launch(CMD))     # the cap is reached by THINK's first reply
    fake.script("reflect", reflection())
    seen_owed: list[list[str]] = []
    loop = {}

    def next_day_when_deferred(event) -> bool:
        if isinstance(event, Notice) and event.text.startswith("REFLECT of t0001 deferred"):
            seen_owed.append(Ledger(loop["c"].project.store).unreflected())
            loop["c"].state.usage.day = "2000-01-01"   # midnight: the day's spend is from another day
        return False

    controller = await run_loop(sample_project, config, quit_when=next_day_when_deferred,
                                prepare=lambda c: loop.setdefault("c", c))

    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "keep"                   # the worker in flight finished its launch
    assert seen_owed == [["t0001"]]                    # deferred, owed and recorded: never "no reflection"
    assert trial["decision"] == "lr 0.1 works; try a wider layer next"
    assert [r.route for r in fake.requests] == ["think", "code", "code", "reflect"]
    capped = [t for t in notices(controller, "warning") if "reached agent.max_usd_per_day" in t]
    assert capped and "$0.0001)" in capped[0] and "$0.00)" not in capped[0]
    assert not any("no reflection" in t for t in notices(controller))


async def test_a_plan_with_only_the_schemas_required_fields_runs_the_cycle(sample_project, config, fake, provider):
    fake.script("think", minimal_plan())
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    await run_loop(sample_project, config)

    assert fake.count("think") == 1                    # no repair request for a schema-valid answer
    trial = latest_trials(sample_project)["t0001"]
    assert trial["status"] == "keep" and trial["task"] == f"run {CMD} as it is"
    assert f"Task: run {CMD} as it is" in json.dumps(fake.of("code")[0].body)


async def test_every_retry_is_a_notice_with_its_wait_and_the_backoff_phase_says_it(
        sample_project, config, fake, provider):
    fake.script("think", {"status": 429, "headers": {"retry-after": "0.3"}}, {"status": 503}, minimal_plan())
    fake.script("code", dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    controller = await run_loop(sample_project, config)

    retries = [t for t in notices(controller, "warning") if "; retry " in t]
    assert retries[0].startswith(f"{provider}: rate limited (429): ")
    assert retries[0].endswith("; retry 1 of 2 in 0.3s (retry-after)")
    assert retries[1].startswith(f"{provider}: server error 503: ") and "; retry 2 of 2 in " in retries[1]
    phases = [(e.phase, e.detail) for e in controller.seen if isinstance(e, PhaseChanged)]
    at = phases.index(("backoff", f"{provider} retry 1/2 in 0.3s (retry-after)"))
    assert phases[at + 1] == ("think", "")             # the wait over, THINK again
    assert [r.headers.get("x-stainless-retry-count") for r in fake.of("think")] == ["0", "1", "2"]
    assert latest_trials(sample_project)["t0001"]["status"] == "keep"


async def test_a_key_echoed_in_a_providers_error_never_leaves_the_provider_layer(
        sample_project, config, fake, provider):
    fake.script("think", {"status": 401, "echo_headers": True, "repeat": True})

    controller = await run_loop(sample_project, config, quit_when=at_backoff)

    refused = [t for t in notices(controller, "error") if "was refused (401)" in t]
    assert refused and "request headers" in refused[0] and "[redacted]" in refused[0]
    printed = "\n".join(line for e in controller.seen for line in format_event(e, verbose=True))
    stored = [e.to_dict() for e in controller.seen]
    memory = (sample_project / "workspace" / "MEMORY_LOG.md").read_text()
    assert KEY not in printed and KEY not in json.dumps(stored) and KEY not in memory
    assert KEY[:12] not in printed                     # not cut in half either


def test_redaction_comes_before_the_cut():
    settings = Settings(name="anthropic", model="m", base_url=None, api_key=KEY, auth_token="tok-0123456789abcdef",
                        credential_env="K", timeout=1.0, max_retries=0)

    class Refused(Exception):
        status_code = 401
        message = "x" * 180 + f" key {KEY} Authorization: Bearer tok-0123456789abcdef"

    text = describe_error(settings, Refused())
    assert KEY[:10] not in text and "tok-0123" not in text
    assert redact('{"x-api-key": "sk-someone-elses", "authorization": "Bearer abc"}', settings) == \
        '{"x-api-key": "[redacted]", "authorization": "Bearer [redacted]"}'


@pytest.mark.parametrize("amount, text", [(0, "$0.00"), (0.004, "$0.004"), (0.0042, "$0.0042"), (0.5, "$0.50"),
                                          (12.345, "$12.35"), (1234.5, "$1,234.50"), (1e-9, "<$0.000001")])
def test_money_keeps_the_digits_that_matter(amount, text):
    assert usd(amount) == text
