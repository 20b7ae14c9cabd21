"""What the research strategy buys: the offline planner's strategies, and UCB against FIFO for the pool.

Run: python benchmarks/bench_strategy.py [--seeds 20] [--proposals 12]

1. The best metric after 5, 10 and 20 trials (mean over seeds) for grid, random, best_neighbour and
   tpe, on two objectives: the spirals sample (every configuration trained once, for real, at the
   start: its val_acc is the table the strategies search) and a noisy synthetic objective shipped
   here (a smooth bowl over four knobs plus Gaussian noise on every evaluation). The planner is the
   real ``OfflinePlanner`` on a real ledger; only the training is replaced by the table.
2. A scripted planner standing in for an LLM: a fixed set of proposals with hidden true values and
   noisy valuations, three per THINK, put in the real ``Pool``; UCB and FIFO choose from the same
   proposals. Figure: trials until the best proposal (highest true value) has run.
Figures are compared within the run (ratios), never against a fixed number.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import random
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_researcher.config import load_config  # noqa: E402
from tui_researcher.hypotheses import Pool, Proposal  # noqa: E402
from tui_researcher.ledger import Ledger, params_key  # noqa: E402
from tui_researcher.planner import OfflinePlanner, ThinkContext  # noqa: E402
from tui_researcher.store import Store  # noqa: E402
from tui_researcher.trial import Trial, TrialStatus, better  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SPIRALS = REPO / "sample_projects" / "spirals"
STRATEGIES = ("grid", "random", "best_neighbour", "tpe")
AT = (5, 10, 20)
SYNTHETIC_SPACE = {"lr": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3], "width": [16, 32, 64, 128, 256],
                   "depth": [1, 2, 3, 4, 6], "dropout": [0.0, 0.1, 0.2, 0.3, 0.5]}
NOISE = 0.03


def spirals_table() -> dict[str, float]:
    """val_acc of every configuration of the sample's space, trained for real (two at a time)."""
    config = load_config(SPIRALS / "config.yaml")
    space = config.search.space
    combos = [dict(zip(space, values)) for values in itertools.product(*space.values())]

    def train(params: dict) -> tuple[str, float]:
        argv = [sys.executable, "train.py", *(f"--{k}={v}" for k, v in params.items())]
        out = subprocess.run(argv, cwd=SPIRALS / "workspace", capture_output=True, text=True, check=True).stdout
        value = float(out.strip().splitlines()[-1].rsplit("val_acc=", 1)[1])
        return params_key(params), value

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(train, combos))


def synthetic(params: dict, rng: random.Random) -> float:
    """A smooth bowl (best near lr 0.03, width 128, depth 3, dropout 0.1) with an lr-width interaction."""
    lr = math.log10(params["lr"])
    width = math.log2(params["width"])
    value = (0.95 - 0.08 * (lr + 1.5) ** 2 - 0.03 * (width - 7) ** 2 - 0.02 * (params["depth"] - 3) ** 2
             - 0.6 * (params["dropout"] - 0.1) ** 2 - 0.02 * (lr + 1.5) * (width - 7))
    return value + rng.gauss(0, NOISE)


def context(cycle: int) -> ThinkContext:
    return ThinkContext(cycle=cycle, brief="", memory="", directive="", pivot="", lineage="", running=[],
                        free_slots=1, goal="max", metric="val_acc")


async def search_run(root: Path, strategy: str, seed: int, space: dict, objective) -> list[float]:
    """The best metric after each trial of one run of one strategy."""
    config = load_config(SPIRALS / "config.yaml")
    config.search.strategy, config.search.seed, config.search.space = strategy, seed, space
    config.search.baseline = {k: v[0] for k, v in space.items()}
    config.search.command = "train " + " ".join(f"--{k} {{{k}}}" for k in space)
    ledger = Ledger(Store(root / f"{strategy}-{seed}-{id(objective)}.db"))
    planner = OfflinePlanner(config, ledger)
    noise = random.Random(seed * 7919 + 1)
    best, trace = None, []
    for cycle in range(1, max(AT) + 1):
        plan = await planner.think(context(cycle))
        if plan is None or plan.action != "experiment":
            break
        metric = objective(plan.params, noise)
        status = TrialStatus.KEEP if better(metric, best, "max") else TrialStatus.DISCARD
        best = metric if status == TrialStatus.KEEP else best
        ledger.record(Trial(id=f"t{cycle:04d}", cycle=cycle, parent=plan.parent, params=plan.params,
                            status=status, metric=metric), "finished")
        trace.append(best)
    ledger.store.close()
    return trace + [trace[-1]] * (max(AT) - len(trace))


async def strategies(seeds: int, root: Path) -> None:
    print("training every spirals configuration once (the table the strategies search) ...", flush=True)
    table = spirals_table()
    spirals_space = load_config(SPIRALS / "config.yaml").search.space
    objectives = {"spirals (val_acc, max)": (spirals_space, lambda p, rng: table[params_key(p)]),
                  f"synthetic bowl + noise sd {NOISE}": (SYNTHETIC_SPACE, synthetic)}
    for name, (space, objective) in objectives.items():
        size = math.prod(len(v) for v in space.values())
        print(f"\n{name}: {size} configurations; best metric after N trials, mean over {seeds} seeds")
        print(f"{'strategy':<16}" + "".join(f"{f'N={n}':>10}" for n in AT) + f"{'vs best_neighbour @5':>22}")
        means: dict[str, list[float]] = {}
        for strategy in STRATEGIES:
            runs = [await search_run(root, strategy, seed, space, objective) for seed in range(seeds)]
            means[strategy] = [statistics.mean(r[n - 1] for r in runs) for n in AT]
        for strategy, row in means.items():
            ratio = row[0] / means["best_neighbour"][0]
            print(f"{strategy:<16}" + "".join(f"{v:>10.4f}" for v in row) + f"{ratio:>22.3f}")


def until_best(rule: str, seed: int, n: int, root: Path, per_think: int = 3, sd: float = 0.2) -> int:
    """Trials until the proposal with the highest true value has run, choosing by ``rule``."""
    rng = random.Random(seed)
    truth = [rng.random() for _ in range(n)]
    noisy = [[min(1.0, max(0.0, t + rng.gauss(0, sd))) for _ in range(3)] for t in truth]
    best = max(range(n), key=truth.__getitem__)
    pool = Pool(Store(root / f"{rule}-{seed}.db"), pool_max=n, max_tries=1)
    ids: dict[int, int] = {}
    for trial in range(1, n + 1):
        batch = range((trial - 1) * per_think, min(n, trial * per_think))
        added = pool.add([Proposal(text=f"p{i}", utility=noisy[i][0], quality=noisy[i][1], exploration=noisy[i][2])
                          for i in batch])
        ids.update({hid: i for hid, i in zip(added, batch)})
        choice = pool.choose(rule, 0.5)
        pool.started(choice, f"t{trial:04d}")
        i = ids[choice.hypothesis.id]
        metric = truth[i] + rng.gauss(0, 0.05)
        pool.finished(Trial(id=f"t{trial:04d}", cycle=trial, status=TrialStatus.KEEP, metric=metric))
        if i == best:
            pool.store.close()
            return trial
    raise AssertionError("the best proposal never ran")


def selection(seeds: int, proposals: int, root: Path) -> None:
    print(f"\nscripted planner: {proposals} proposals, 3 per THINK, valuations = true value + N(0, 0.2); "
          f"trials until the best proposal runs (mean over {seeds} seeds)")
    results = {rule: [until_best(rule, seed, proposals, root) for seed in range(seeds)] for rule in ("ucb", "fifo")}
    for rule, trials in results.items():
        print(f"{rule:<6} mean {statistics.mean(trials):6.2f}  median {statistics.median(trials):5.1f}  "
              f"worst {max(trials):3d}")
    print(f"ucb / fifo: {statistics.mean(results['ucb']) / statistics.mean(results['fifo']):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--proposals", type=int, default=12)
    ap.add_argument("--skip-search", action="store_true", help="only the UCB/FIFO comparison")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_search:
            asyncio.run(strategies(args.seeds, Path(tmp)))
        selection(max(args.seeds, 50), args.proposals, Path(tmp))


if __name__ == "__main__":
    main()
