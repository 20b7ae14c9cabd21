"""The leader's schema checks, the size of its input, pricing, and the output cap: plain units."""

from __future__ import annotations

import pytest

from tui_researcher.agents.leader import leader_input, validate_plan, validate_reflection
from tui_researcher.agents.tools import cut
from tui_researcher.agents.usage import TokenUsage, cost, parse_pricing, price_for
from tui_researcher.config import MemoryConfig
from tui_researcher.errors import ConfigError
from tui_researcher.events import TrialStatus
from tui_researcher.ledger import Ledger
from tui_researcher.trial import Trial
from tui_researcher.memory import Memory
from tui_researcher.planner import ThinkContext

GOOD = {"action": "experiment", "worker": "code", "hypothesis": "h", "task": "t", "success_criteria": "s",
        "params": {"lr": 0.1, "opt": "adam", "bn": True}}


def known(tid: str) -> bool:
    return tid == "t0001"


def test_a_complete_plan_is_valid():
    assert validate_plan(GOOD, known_trial=known) == []
    assert validate_plan({"action": "wait", "hypothesis": "all slots busy"}, known_trial=known) == []


@pytest.mark.parametrize("change, error", [
    ({"action": "train"}, "action must be one of experiment, wait, report, got 'train'"),
    ({"worker": "writing"}, "worker must be code or idea for an experiment, got 'writing'"),
    ({"task": ""}, "task must not be empty"),
    ({"hypothesis": 3}, "hypothesis must be a string, got int"),
    ({"success_criteria": None}, "success_criteria is required"),
    ({"params": {"lr": [0.1, 0.2]}}, "params must be an object of strings, numbers or booleans"),
    ({"parent": "t9999"}, "parent 't9999' is not a trial in the ledger"),
    ({"command": "python train.py"}, "unknown field(s) command"),
])
def test_an_invalid_plan_names_what_is_wrong(change, error):
    errors = validate_plan({**GOOD, **change}, known_trial=known)
    assert any(error in e for e in errors), errors


def test_the_idea_worker_cannot_be_chosen_twice_in_a_cycle():
    plan = {**GOOD, "worker": "idea"}
    assert validate_plan(plan, known_trial=known) == []
    assert "the idea worker already ran this cycle" in validate_plan(plan, known_trial=known, allow_idea=False)[0]


def test_reflection_needs_a_decision_and_a_known_next_action():
    assert validate_reflection({"decision": "d", "next_action": "pivot", "milestone": ""}) == []
    assert validate_reflection({"decision": "", "next_action": "retry"}) == [
        "decision must not be empty", "next_action must be one of iterate, pivot, report, got 'retry'"]


def test_leader_input_stays_bounded_after_a_thousand_trials(tmp_path):
    ledger = Ledger(tmp_path / "trials.jsonl")
    memory = Memory(tmp_path / "MEMORY_LOG.md", MemoryConfig())
    for i in range(1, 1001):
        status = TrialStatus.KEEP if i % 97 == 0 else TrialStatus.DISCARD
        ledger.record(Trial(id=f"t{i:04d}", cycle=i, status=status, metric=i / 1000, params={"lr": i},
                            hypothesis="h" * 200), "finished")
        memory.add_decision(f"[cycle {i}] t{i:04d} discard: lr={i} did not beat the best -> iterate")
        if status == TrialStatus.KEEP:
            memory.add_result(f"t{i:04d}: val_acc={i / 1000}")
    ctx = ThinkContext(cycle=1001, brief="B" * 3000, memory=memory.render(), directive="", pivot="",
                       lineage=ledger.lineage("max"), running=[], free_slots=1, goal="max", metric="val_acc")

    text = leader_input(ctx)

    assert len(text) < 3000 + 2000 + 1000
    assert "best: t0970" in text and "t1000" in text and "t0500" not in text


def test_prices_follow_the_longest_prefix_and_config_overrides():
    assert price_for("claude-sonnet-5-5-20260928").input == 2.0
    assert price_for("claude-opus-5-5").output == 20.0
    assert price_for("some-local-model") is None
    overrides = parse_pricing({"some-local": {"input": 0.5, "output": 1}})
    price = price_for("some-local-model", overrides)
    assert (price.input, price.output, price.cache_read, price.cache_write) == (0.5, 1.0, 0.5, 0.5)
    assert cost(TokenUsage(input=1_000_000, output=500_000), price) == pytest.approx(1.0)


@pytest.mark.parametrize("bad, message", [
    ({"m": {"input": 1}}, "agent.pricing.m: output is required"),
    ({"m": {"input": 1, "output": -2}}, "agent.pricing.m.output: expected a non-negative number"),
    ({"m": {"input": 1, "output": 2, "cached": 1}}, "unknown key 'cached'"),
    ({"m": 3}, "expected a mapping"),
])
def test_bad_pricing_is_a_config_error_naming_the_key(bad, message):
    with pytest.raises(ConfigError, match=message):
        parse_pricing(bad)


def test_long_output_keeps_head_and_tail_and_says_how_much_was_cut():
    text = "HEAD" + "x" * 10_000 + "TAIL"

    out = cut(text, 1000)

    assert out.startswith("HEAD") and out.endswith("TAIL")
    assert "[... 9,008 chars cut (agent.max_tool_output_chars=1000) ...]" in out
    assert cut("short", 1000) == "short"
