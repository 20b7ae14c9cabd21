"""How big the prompts are after a long run: the leader's input and the code worker's fixed prompt.

Run: python benchmarks/bench_prompts.py [--cycles 1000]

A thousand cycles are simulated through the real Ledger and Memory (a trial recorded and a
decision remembered per cycle, a milestone for each new best), then the leader's THINK request
and the code worker's first request are built exactly as the providers send them. Sizes are in
characters and in tokens estimated as chars/4 (the SDKs count tokens only through the network),
beside the reference system's figures: leader 1,604 chars; code worker 3,296 chars, 1,833 of
them the tool section.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_researcher.agents.leader import SUBMIT_PLAN, leader_input  # noqa: E402
from tui_researcher.agents.tools import SPECS  # noqa: E402
from tui_researcher.agents.workers import WORKERS, prompt  # noqa: E402
from tui_researcher.config import MemoryConfig  # noqa: E402
from tui_researcher.events import TrialStatus  # noqa: E402
from tui_researcher.ledger import Ledger
from tui_researcher.trial import Trial  # noqa: E402
from tui_researcher.memory import Memory, load_brief  # noqa: E402
from tui_researcher.planner import ThinkContext  # noqa: E402
from tui_researcher.store import Store  # noqa: E402

REFERENCE = {"leader": 1604, "code worker": 3296, "code worker tools": 1833}
BRIEF = Path(__file__).resolve().parent.parent / "sample_projects" / "spirals" / "PROJECT_BRIEF.md"


def anthropic_tools(specs) -> str:
    return json.dumps([{"name": s.name, "description": s.description, "input_schema": s.schema} for s in specs])


def openai_tools(specs) -> str:
    return json.dumps([{"type": "function", "function": {"name": s.name, "description": s.description,
                                                         "parameters": s.schema}} for s in specs])


def simulate(cycles: int, workdir: Path) -> ThinkContext:
    ledger = Ledger(Store(workdir / "researcher.db"))
    memory = Memory(workdir / "MEMORY_LOG.md", MemoryConfig())
    best = 0.0
    for i in range(1, cycles + 1):
        lr, hidden, epochs = [0.01, 0.03, 0.1, 0.3][i % 4], [4, 8, 16, 32][i // 4 % 4], [10, 20, 40][i // 16 % 3]
        metric = round(0.5 + 0.45 * (1 - 1 / (1 + i / 50)) + (i % 7) / 1000, 4)
        status = TrialStatus.KEEP if metric > best else TrialStatus.DISCARD
        if i % 11 == 0:
            status, metric = TrialStatus.CRASH, None
        trial = Trial(id=f"t{i:04d}", cycle=i, status=status, metric=metric,
                      params={"lr": lr, "hidden": hidden, "epochs": epochs},
                      hypothesis=f"refine the best: move lr to {lr} and hidden to {hidden}",
                      label="RuntimeError: CUDA out of memory" if status == TrialStatus.CRASH else "",
                      command=f"python3 train.py --lr {lr} --hidden {hidden} --epochs {epochs}")
        ledger.record(trial, "finished")
        value = "-" if metric is None else f"{metric:.4g}"
        if status == TrialStatus.KEEP:
            best = metric
            memory.add_result(f"{trial.id}: val_acc={value} with lr={lr} hidden={hidden} epochs={epochs}")
        memory.add_decision(f"[11-23 14:{i % 60:02d}] {trial.id} {status}: val_acc={value}; next: try a wider "
                            f"layer with the same lr -> iterate")
    brief, _ = load_brief(BRIEF, MemoryConfig().brief_max_chars)
    return ThinkContext(cycle=cycles + 1, brief=brief, memory=memory.render(), directive="", pivot="",
                        lineage=ledger.lineage("max"), running=[], free_slots=1, goal="max", metric="val_acc")


def row(name: str, chars: int, reference: int | None = None) -> str:
    ref = f"{reference:>7,}  {chars / reference:5.2f}x" if reference else ""
    return f"  {name:<44} {chars:>7,} chars {chars // 4:>6,} tok   {ref}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = simulate(args.cycles, Path(tmp))
    think_system = prompt("leader_think.md")
    think_input = leader_input(ctx)
    plan_schema = anthropic_tools([SUBMIT_PLAN])
    leader_fixed = len(think_system) + len(plan_schema)
    code = WORKERS["code"]
    code_system = prompt(code.prompt_file) + "\n\nThe dry-run of a command is the command with --dry-run appended."
    code_tools = anthropic_tools([SPECS[n] for n in code.tools])
    code_tools_openai = openai_tools([SPECS[n] for n in code.tools])

    print(f"prompt sizes after {args.cycles:,} simulated cycles (tokens = chars/4)          reference  ratio")
    print("leader (THINK)")
    print(row("system prompt", len(think_system)))
    print(row("submit_plan schema", len(plan_schema)))
    print(row("  fixed part: system + schema", leader_fixed, REFERENCE["leader"]))
    print(row("input: brief", len(ctx.brief)))
    print(row("input: memory log (capped at 2,000)", len(ctx.memory)))
    print(row("input: lineage (chain, last, failures)", len(ctx.lineage)))
    print(row("input, whole (brief+memory+lineage+now)", len(think_input)))
    print(row("  whole request: fixed + input", leader_fixed + len(think_input), REFERENCE["leader"]))
    print("code worker")
    print(row("system prompt", len(code_system)))
    print(row("tool section (5 tools, Anthropic form)", len(code_tools), REFERENCE["code worker tools"]))
    print(row("tool section (5 tools, OpenAI form)", len(code_tools_openai), REFERENCE["code worker tools"]))
    print(row("  system + tools", len(code_system) + len(code_tools), REFERENCE["code worker"]))


if __name__ == "__main__":
    main()
