"""What share of the input the prompt cache serves, cycle by cycle, with each provider.

Run: python benchmarks/bench_cache.py [--cycles 6] [--brief sample|long]

The real controller and LLM planner run N cycles against the local fake server
(tests/agents/fake_llm.py), which caches as the APIs do: Anthropic at cache_control breakpoints,
OpenAI by shared prefix and prompt_cache_key, both with the 1,024-token minimum; tokens are
counted as characters / 4. Each cycle is a THINK, a code-worker dispatch of four requests (read
train.py, write a note, dry-run, launch) and a REFLECT. ``--brief long`` grows the sample's brief
to about 2,600 characters, the length at which the leader's stable prefix passes the minimum.

Printed per cycle: requests, input tokens (uncached + cache read + cache write), read, written
and the read share (read / all input). Then the input cost with caching against none at the
default model's list prices, and one line: ``cache: anthropic_read_share=X openai_read_share=Y``
(over all cycles).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.agents.conftest import KEY, KEY_ENV, MODELS, llm_config, long_brief, run_loop, script_cycles  # noqa: E402
from tests.agents.fake_llm import FakeLLM, Seen  # noqa: E402
from tests.helpers import SAMPLE  # noqa: E402
from tui_researcher.agents.usage import TokenUsage, cost, price_for  # noqa: E402


def input_tokens(requests: list[Seen]) -> TokenUsage:
    return TokenUsage(input=sum(r.usage["input"] for r in requests),
                      cache_read=sum(r.usage["cache_read"] for r in requests),
                      cache_write=sum(r.usage["cache_write"] for r in requests))


def share(usage: TokenUsage) -> float:
    return usage.cache_read / max(1, usage.input + usage.cache_read + usage.cache_write)


def by_cycle(requests: list[Seen]) -> list[list[Seen]]:
    """Requests grouped by cycle: one slot, so a cycle opens with its THINK."""
    cycles: list[list[Seen]] = []
    for seen in requests:
        if seen.route == "think" or not cycles:
            cycles.append([])
        cycles[-1].append(seen)
    return cycles


async def run(provider: str, cycles: int, brief: str, root: Path) -> list[Seen]:
    project = root / provider / "spirals"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if brief == "long":
        long_brief(project)
    fake = FakeLLM().start()
    try:
        config = llm_config(project, fake, provider)
        script_cycles(fake, cycles)
        await run_loop(project, config, cycles=cycles, timeout=60 + 30 * cycles)
    finally:
        fake.stop()
    return fake.requests


def report(provider: str, requests: list[Seen]) -> float:
    print(f"{provider} ({MODELS[provider]})")
    print(f"  {'cycle':>5} {'requests':>8} {'input':>8} {'read':>8} {'written':>8} {'read share':>10}")
    for i, group in enumerate(by_cycle(requests), 1):
        u = input_tokens(group)
        print(f"  {i:>5} {len(group):>8} {u.input + u.cache_read + u.cache_write:>8,} {u.cache_read:>8,} "
              f"{u.cache_write:>8,} {share(u):>10.3f}")
    total = input_tokens(requests)
    price = price_for(MODELS[provider])
    uncached = TokenUsage(input=total.input + total.cache_read + total.cache_write)
    ratio = cost(total, price) / max(cost(uncached, price), 1e-12)
    print(f"  all   {len(requests):>8} {uncached.input:>8,} {total.cache_read:>8,} {total.cache_write:>8,} "
          f"{share(total):>10.3f}   input cost with caching: {ratio:.2f} x none")
    return share(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=6)
    parser.add_argument("--brief", choices=["sample", "long"], default="sample")
    args = parser.parse_args()
    os.environ[KEY_ENV] = KEY
    shares = {}
    with tempfile.TemporaryDirectory() as tmp:
        for provider in ("anthropic", "openai"):
            requests = asyncio.run(run(provider, args.cycles, args.brief, Path(tmp)))
            shares[provider] = report(provider, requests)
    print(f"cache: anthropic_read_share={shares['anthropic']:.3f} openai_read_share={shares['openai']:.3f}")


if __name__ == "__main__":
    main()
