"""The leader's schema checks, the size of its input, pricing, and the output cap: plain units."""

from __future__ import annotations

from pathlib import Path

import pytest

import itertools

from tui_researcher.agents.answers import SUBMIT_PLAN, SUBMIT_REFLECTION, plan_from, validate_plan, validate_reflection
from tui_researcher.agents.leader import leader_input
from tui_researcher.agents.tools import cut
from tui_researcher.agents.usage import TokenUsage, cost, price_for
from tui_researcher.config import MemoryConfig, Price, load_config
from tui_researcher.errors import ConfigError
from tui_researcher.events import TrialStatus
from tui_researcher.ledger import Ledger
from tui_researcher.store import Store
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
    ({"worker": "writing"}, "worker must be one of code, idea, got 'writing'"),
    ({"hypothesis": "  "}, "hypothesis must not be empty"),
    ({"hypothesis": 3}, "hypothesis must be a string, got int"),
    ({"action": None}, "action is required"),
    ({"params": {"lr": [0.1, 0.2]}}, "params.lr must be a string, number or boolean, got list"),
    ({"parent": "t9999"}, "parent 't9999' is not a trial in the ledger"),
    ({"command": "python train.py"}, "unknown field(s) command"),
    ({"utility": 1.5}, "utility must be from 0 to 1, got 1.5"),
    ({"hypotheses": [{"task": "x"}]}, "hypotheses[0]: hypothesis is required"),
    ({"hypotheses": [{"hypothesis": "y", "quality": -1}]}, "hypotheses[0]: quality must be from 0 to 1"),
    ({"hypotheses": [{"hypothesis": "y", "parent": "t9999"}]}, "hypotheses[0]: parent 't9999' is not a trial"),
    ({"hypotheses": "many"}, "hypotheses must be an array, got str"),
])
def test_an_invalid_plan_names_what_is_wrong(change, error):
    errors = validate_plan({**GOOD, **change}, known_trial=known)
    assert any(error in e for e in errors), errors


VALID = {"action": "experiment", "worker": "idea", "hypothesis": "h", "task": "t", "success_criteria": "s",
         "params": {"lr": 0.1}, "parent": "t0001", "utility": 0.9, "quality": 0, "exploration": 1,
         "hypotheses": [{"hypothesis": "h2", "utility": 0.3, "parent": "t0001", "params": {"lr": 0.3}}]}


def test_every_schema_valid_plan_passes_the_checker():
    """The schema requires action and hypothesis only: every answer with those (and any optional
    field the schema allows) is valid, and the plan fills in the schema's defaults."""
    required = SUBMIT_PLAN.schema["required"]
    optional = [name for name in SUBMIT_PLAN.schema["properties"] if name not in required]
    for action in ("experiment", "wait", "report"):
        for n in range(len(optional) + 1):
            for names in itertools.combinations(optional, n):
                args = {"action": action, "hypothesis": "h", **{k: VALID[k] for k in names}}
                assert validate_plan(args, known_trial=known) == [], args
    plan = plan_from({"action": "experiment", "hypothesis": "a larger lr fits faster"})
    assert (plan.worker, plan.task, plan.action) == ("code", "a larger lr fits faster", "experiment")


@pytest.mark.parametrize("spec", [SUBMIT_PLAN, SUBMIT_REFLECTION], ids=["plan", "reflection"])
def test_the_checker_requires_exactly_what_the_schema_requires(spec):
    errors = validate_plan({}, known_trial=known) if spec is SUBMIT_PLAN else validate_reflection({})
    assert sorted(e.removesuffix(" is required") for e in errors) == sorted(spec.schema["required"])


def test_the_idea_worker_cannot_be_chosen_twice_in_a_cycle():
    plan = {**GOOD, "worker": "idea"}
    assert validate_plan(plan, known_trial=known) == []
    assert "the idea worker already ran this cycle" in validate_plan(plan, known_trial=known, allow_idea=False)[0]


def test_reflection_needs_a_decision_and_a_known_next_action():
    assert validate_reflection({"decision": "d", "next_action": "pivot", "milestone": ""}) == []
    assert validate_reflection({"decision": "", "next_action": "retry"}) == [
        "decision must not be empty", "next_action must be one of iterate, pivot, report, got 'retry'"]


def test_leader_input_stays_bounded_after_a_thousand_trials(tmp_path):
    ledger = Ledger(Store(tmp_path / "researcher.db"))
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

    assert len(text) < 3000 + 2000 + MemoryConfig().lineage_max_chars + 500
    assert "## Best chain" in text and "t0970 keep" in text and "t1000" in text and "t0500" not in text


def _pricing(tmp_path: Path, pricing: str) -> dict:
    path = tmp_path / "config.yaml"
    path.write_text(f"agent:\n  pricing:\n{pricing}")
    return load_config(path).agent.pricing


def test_prices_follow_the_longest_prefix_and_config_overrides(tmp_path: Path):
    assert price_for("claude-sonnet-5-5-20260928").input == 2.0
    assert price_for("claude-opus-5-5").output == 20.0
    assert price_for("some-local-model") is None
    overrides = _pricing(tmp_path, "    some-local: {input: 0.5, output: 1}\n")
    price = price_for("some-local-model", overrides)
    assert (price.input, price.output, price.cache_read, price.cache_write) == (0.5, 1.0, 0.5, 0.5)
    assert cost(TokenUsage(input=1_000_000, output=500_000), price) == pytest.approx(1.0)


@pytest.mark.parametrize("bad, message", [
    ("{input: 1}", r"agent.pricing.m: output is required \(USD per million tokens\) \(line 3\)"),
    ("{output: 1, cache_read: 2}", r"agent.pricing.m: input is required"),
    ("{input: 1, output: -2}", r"agent.pricing.m.output: expected a non-negative number, got -2 \(line 3\)"),
    ("{input: 1, output: 'two'}", r"agent.pricing.m.output: expected a non-negative number, got 'two'"),
    ("{input: 1, output: true}", r"agent.pricing.m.output: expected a non-negative number, got True"),
    ("{input: 1, output: 2, cached: 1}", r"agent.pricing.m.cached: unknown key; did you mean 'cache_read'\?"),
    ("3", r"agent.pricing.m: expected a mapping, got an integer 3"),
])
def test_bad_pricing_is_a_config_error_naming_the_key_when_the_config_loads(tmp_path: Path, bad, message):
    with pytest.raises(ConfigError, match=message):
        _pricing(tmp_path, f"    m: {bad}\n")


def test_pricing_is_validated_once_into_prices_with_cache_prices_defaulting_to_input(tmp_path: Path):
    pricing = _pricing(tmp_path, "    m: {input: 2, output: 3, cache_read: null, cache_write: 0.5}\n")
    assert pricing == {"m": Price(input=2.0, output=3.0, cache_read=2.0, cache_write=0.5)}
    assert isinstance(pricing["m"].input, float)


def test_long_output_keeps_head_and_tail_and_says_how_much_was_cut():
    text = "HEAD" + "x" * 10_000 + "TAIL"

    out = cut(text, 1000)

    assert out.startswith("HEAD") and out.endswith("TAIL")
    assert "[... 9,008 chars cut (agent.max_tool_output_chars=1000) ...]" in out
    assert cut("short", 1000) == "short"
