"""best_neighbour with and without its opening random probes, against random search, on the spirals sample.

Run: python benchmarks/bench_probes.py [--trials 5] [--seeds 6]

Each strategy runs the sample (offline planner, one init seed per trial: confirm_seeds 0) for
TRIALS trials, once per search.seed in 0..SEEDS-1; printed: the best val_acc after TRIALS trials
per search seed, their mean per strategy, and one line
``probes: best_neighbour_probes=X best_neighbour_no_probes=Y random=Z`` (means).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_projects" / "spirals"
STRATEGIES = {"best_neighbour_probes": ("best_neighbour", 3), "best_neighbour_no_probes": ("best_neighbour", 0),
              "random": ("random", 0)}


def best_after(root: Path, strategy: str, probes: int, seed: int, trials: int) -> float:
    project = root / f"{strategy}-{probes}-{seed}"
    shutil.copytree(SAMPLE, project)
    config = yaml.safe_load((project / "config.yaml").read_text())
    config["search"].update(strategy=strategy, random_probes=probes, seed=seed)
    config["experiment"]["confirm_seeds"] = 0
    (project / "config.yaml").write_text(yaml.safe_dump(config))
    subprocess.run([sys.executable, "-m", "tui_researcher.cli", "run", str(project), "--no-ui", "--max-cycles",
                    str(trials)], check=True, capture_output=True, cwd=REPO)
    status = subprocess.run([sys.executable, "-m", "tui_researcher.cli", "status", str(project), "--json"],
                            check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(status.stdout)["best"]["metric"]


def main(trials: int, seeds: int) -> None:
    means = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (strategy, probes) in STRATEGIES.items():
            bests = [best_after(Path(tmp), strategy, probes, seed, trials) for seed in range(seeds)]
            means[name] = statistics.fmean(bests)
            print(f"{name:26s} best after {trials}: " + " ".join(f"{b:.3f}" for b in bests) + f"  mean {means[name]:.4f}")
    print("probes: " + " ".join(f"{k}={v:.4f}" for k, v in means.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=6)
    args = parser.parse_args()
    main(args.trials, args.seeds)
