"""Prompt caching against the fake server, which caches as the real APIs do (1,024-token minimum)."""

from __future__ import annotations


import pytest

from tests.agents.conftest import KEY, dry, launch, long_brief, plan, reflection, run_loop, script_cycles
from tests.agents.fake_cache import MINIMUM, PromptCache, TooManyBreakpoints, canonical, tokens
from tui_researcher.events import Notice

CMD = "python3 train.py --lr 0.1 --hidden 8 --epochs 10"


def prompt_tokens(seen) -> int:
    return seen.usage["input"] + seen.usage["cache_read"] + seen.usage["cache_write"]


def read_share(requests) -> float:
    return sum(r.usage["cache_read"] for r in requests) / sum(prompt_tokens(r) for r in requests)


def breakpoints(body: dict) -> int:
    blocks = [*(body.get("tools") or []), *(body.get("system") or [])]
    blocks += [b for m in body["messages"] for b in m["content"] if isinstance(b, dict)]
    return sum("cache_control" in b for b in blocks)


async def test_worker_dispatch_reads_its_growing_conversation_from_the_cache(sample_project, config, fake,
                                                                             provider):
    script_cycles(fake, 1)

    await run_loop(sample_project, config)

    first, second, *later = code = fake.of("code")
    assert len(later) == 2
    assert prompt_tokens(first) < MINIMUM                 # system, tools and task: under the minimum
    assert first.usage["cache_read"] == first.usage["cache_write"] == 0
    assert second.usage["cache_read"] == 0               # nothing of 1,024 tokens was sent before it
    for before, seen in zip(code[1:], later):
        assert prompt_tokens(before) >= MINIMUM
        if provider == "anthropic":                       # the previous request's breakpoint, exactly
            assert seen.usage["cache_read"] == prompt_tokens(before)
        else:                                             # OpenAI: in steps of 128 tokens past 1,024
            assert prompt_tokens(before) - 128 < seen.usage["cache_read"] <= prompt_tokens(before)
    assert read_share(code) > 0.4


@pytest.mark.parametrize("provider", ["anthropic"])
async def test_breakpoints_move_with_the_conversation_and_never_exceed_four(sample_project, config, fake, provider):
    script_cycles(fake, 1)

    await run_loop(sample_project, config)

    for seen in fake.of("code"):
        body = seen.body
        assert breakpoints(body) <= 4
        assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        assert "cache_control" in body["messages"][-1]["content"][-1]
        marked = [i for i, m in enumerate(body["messages"]) if any("cache_control" in b for b in m["content"])]
        assert marked == sorted({len(body["messages"]) - 1, max(0, len(body["messages"]) - 3)})


@pytest.mark.parametrize("provider", ["anthropic"])
async def test_a_turn_of_many_parallel_calls_still_reads_the_previous_request(sample_project, config, fake,
                                                                              provider):
    """The API looks back 20 blocks from a breakpoint; twelve calls and results are 24 blocks, so
    only the breakpoint kept on the previous request's last block finds its cache entry."""
    fake.script("think", plan(CMD))
    fake.script("code", {"tool": "read_file", "args": {"path": "train.py"}},
                {"tools": [("list_files", {})] * 12}, dry(CMD), launch(CMD))
    fake.script("reflect", reflection())

    await run_loop(sample_project, config)

    code = fake.of("code")
    assert len(code[2].body["messages"][-1]["content"]) == 12
    assert code[2].usage["cache_read"] == prompt_tokens(code[1]) >= MINIMUM


async def test_leader_brief_is_a_stable_prefix_read_from_the_cache_every_cycle(sample_project, config, fake,
                                                                               provider):
    brief = long_brief(sample_project)
    script_cycles(fake, 3)

    await run_loop(sample_project, config, cycles=3)

    think = fake.of("think")
    assert len(think) == 3
    stable = f"## Brief\n{brief.strip()}"
    for seen in think:
        if provider == "anthropic":
            first, changing = seen.body["messages"][0]["content"][:2]
            assert first["text"] == stable and "cache_control" in first
            assert changing["text"].startswith("## Memory") and "cache_control" not in changing
        else:
            assert seen.body["messages"][1]["content"].startswith(stable + "\n\n## Memory")
    if provider == "anthropic":
        assert think[0].usage["cache_write"] >= MINIMUM
    assert think[0].usage["cache_read"] == 0
    for seen in think[1:]:
        assert seen.usage["cache_read"] >= MINIMUM
        assert seen.usage["cache_write"] == 0             # the changing tail is not written: never re-read
    assert read_share(think[1:]) > 0.75


async def test_leader_prefix_under_the_minimum_gets_no_cache(sample_project, config, fake, provider):
    """The sample's short brief: system, schema and brief stay under 1,024 tokens, so THINK is
    never cached, however often it repeats."""
    script_cycles(fake, 3)

    await run_loop(sample_project, config, cycles=3)

    brief = (sample_project / "PROJECT_BRIEF.md").read_text()
    for seen in fake.of("think"):
        system = seen.body.get("system") or seen.body["messages"][0]["content"]
        assert tokens(canonical(seen.body.get("tools"), system, brief)) < MINIMUM     # the stable prefix
        assert seen.usage["cache_read"] == seen.usage["cache_write"] == 0


@pytest.mark.parametrize("provider", ["openai"])
async def test_openai_cache_key_is_stable_per_project_and_role_and_opaque(sample_project, config, fake, provider):
    script_cycles(fake, 2)

    await run_loop(sample_project, config, cycles=2)

    keys = {}
    for seen in fake.requests:
        keys.setdefault(seen.route, set()).add(seen.body.get("prompt_cache_key"))
    assert all(len(k) == 1 and None not in k for k in keys.values())
    assert len({next(iter(k)) for k in keys.values()}) == 3           # think, code, reflect
    for key in (next(iter(k)) for k in keys.values()):
        assert key.startswith("tuir-") and "spirals" not in key and KEY not in key


@pytest.mark.parametrize("provider", ["anthropic"])
async def test_cache_tokens_are_accounted_as_the_server_reported_them(sample_project, config, fake, provider):
    long_brief(sample_project)
    script_cycles(fake, 2)

    controller = await run_loop(sample_project, config, cycles=2)

    usage = controller.state.usage
    assert usage.cache_read_tokens == sum(r.usage["cache_read"] for r in fake.requests) > 0
    assert usage.cache_write_tokens == sum(r.usage["cache_write"] for r in fake.requests) > 0
    assert usage.input_tokens == sum(r.usage["input"] for r in fake.requests)
    spent = [e.text for e in controller.seen if isinstance(e, Notice) and " used: " in e.text]
    assert any(" cache read" in text and not text.endswith(" 0 cache read") for text in spent)


def test_fake_cache_writes_at_the_minimum_and_not_below():
    def body(chars: int, model: str = "claude-sonnet-5-5", marks: int = 1) -> dict:
        blocks = [{"type": "text", "text": "x" * (chars // marks), "cache_control": {"type": "ephemeral"}}
                  for _ in range(marks)]
        return {"model": model, "messages": [{"role": "user", "content": blocks}]}

    def total(usage: dict) -> int:
        return usage["input"] + usage["cache_read"] + usage["cache_write"]

    cache = PromptCache()
    below, at = body(4 * MINIMUM - 80), body(4 * MINIMUM)
    first, again = cache.anthropic(below), cache.anthropic(below)
    assert total(first) < MINIMUM and first["cache_write"] == again["cache_read"] == 0
    first, again = cache.anthropic(at), cache.anthropic(at)
    assert first["cache_write"] == total(first) >= MINIMUM and again["cache_read"] == total(first)
    haiku = [cache.anthropic(body(4 * MINIMUM, "claude-haiku-4-5")) for _ in range(2)]
    assert haiku[1]["cache_read"] == haiku[1]["cache_write"] == 0      # 4,096 tokens for Haiku 4.5
    with pytest.raises(TooManyBreakpoints, match="A maximum of 4 blocks with cache_control"):
        cache.anthropic(body(4 * MINIMUM, marks=5))
    openai = {"model": "gpt-6-sol", "prompt_cache_key": "k", "messages": [{"role": "user", "content": "y" * 5000}]}
    assert cache.openai(openai)["cache_read"] == 0 and cache.openai(openai)["cache_read"] == 1152
    assert cache.openai({**openai, "prompt_cache_key": "other"})["cache_read"] == 0
    short = {**openai, "messages": [{"role": "user", "content": "y" * 4000}]}
    assert cache.openai({**short, "prompt_cache_key": "s"})["cache_read"] == 0
    assert cache.openai({**short, "prompt_cache_key": "s"})["cache_read"] == 0    # under 1,024: never cached
