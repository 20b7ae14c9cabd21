"""Input characters per request of each CLI provider against its SDK provider, on the same cycle.

Run: python benchmarks/bench_cli.py [--cycles 2]

The real controller runs the same scripted cycles (THINK; a code-worker dispatch that reads
train.py, writes a note, dry-runs and launches; REFLECT) on the fake server
(tests/agents/fake_llm.py) four times: with the ``anthropic`` SDK provider, with ``claude_cli``
(the real ``claude``), with the ``openai`` SDK provider and with ``codex_cli`` (the real
``codex``). A request's input characters are those of what the model reads: its tools, system
prompt or instructions, and messages or input items, as JSON. A CLI's leader sends one more request
per phase than the SDK's (its closing line after the answer was recorded).

Printed per provider: requests, mean and largest input characters per request; then one line per
pair: ``cli: claude_cli/anthropic=X codex_cli/openai=Y`` (the ratio of the means; goal: 2 or less).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.agents.clis import CACHE, cli_config  # noqa: E402
from tests.agents.conftest import KEY, KEY_ENV, llm_config, run_loop, script_cycles  # noqa: E402
from tests.agents.fake_llm import FakeLLM, Seen  # noqa: E402
from tests.helpers import SAMPLE  # noqa: E402

READ = ("tools", "system", "instructions", "messages", "input")
PAIRS = (("claude_cli", "anthropic"), ("codex_cli", "openai"))


def input_chars(seen: Seen) -> int:
    return len(json.dumps({k: seen.body[k] for k in READ if k in seen.body}))


def cli_path(name: str) -> str:
    found = shutil.which(name) or str(CACHE / "node_modules" / ".bin" / name)
    if not os.path.exists(found):
        sys.exit(f"{name} not installed: npm install --prefix {CACHE} @anthropic-ai/claude-code @openai/codex")
    return found


async def run(provider: str, cycles: int, root: Path) -> list[Seen]:
    project = root / provider / "spirals"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    fake = FakeLLM().start()
    try:
        script_cycles(fake, cycles)
        if provider.endswith("_cli"):
            for route in ("think", "reflect"):     # the CLI's closing line after each answer
                fake.routes[route] = [r for reply in fake.routes[route] for r in (reply, {"text": "done"})]
            config = cli_config(project, fake, provider, cli_path(provider.removesuffix("_cli")))
        else:
            config = llm_config(project, fake, provider)
        await run_loop(project, config, cycles=cycles, timeout=120 * cycles)
        return [r for r in fake.requests if r.route != "bare"]
    finally:
        fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    home = root / "home"
    (home / ".codex").mkdir(parents=True)
    os.environ.update({KEY_ENV: KEY, "HOME": str(home), "CODEX_HOME": str(home / ".codex")})
    means: dict[str, float] = {}
    try:
        for cli, sdk in PAIRS:
            for provider in (sdk, cli):
                requests = asyncio.run(run(provider, args.cycles, root))
                sizes = [input_chars(r) for r in requests]
                means[provider] = sum(sizes) / max(1, len(sizes))
                print(f"{provider:>10}: {len(sizes)} requests, {means[provider]:,.0f} input chars per request "
                      f"(largest {max(sizes, default=0):,})")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    ratios = " ".join(f"{cli}/{sdk}={means[cli] / means[sdk]:.2f}" for cli, sdk in PAIRS)
    print(f"cli: {ratios}")


if __name__ == "__main__":
    main()
