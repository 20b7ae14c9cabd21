"""What `tui-researcher init DIR` writes without --sample: a project whose first run already works.

The config and the stand-in train.py agree (the metric's name, the placeholders, ``--dry-run``),
so the loop runs end to end on any machine before the person replaces train.py with their own.
"""

from __future__ import annotations

from pathlib import Path

CONFIG = """\
# tui-researcher project config; every key has a default. See README.md for all sections.
agent:
  provider: offline        # offline (no key: a search over search.space) | anthropic | openai | claude_cli | codex_cli
  max_cycles: 0            # 0: until stopped (or --max-cycles N)
metric:
  name: val_loss           # read by the controller from `val_loss: 0.42` lines of the log
  goal: min
search:
  command: "python3 train.py --lr {lr}"   # each {name} is filled from search.space
  space:
    lr: [0.001, 0.003, 0.01]
experiment:
  mandatory_dry_run: true  # `command --dry-run` must pass before each launch
gpu:
  gpus_per_trial: 0        # 0: CPU trials; set 1 (or more) when train.py uses a GPU
monitor:
  poll_interval: 5
"""

BRIEF = """\
# Project brief

Goal: ...
Metric: val_loss (lower is better)
Constraints: ...
"""

TRAIN = '''\
"""A stand-in for your training script: replace its body, keep its contract.

The contract: the arguments search.command passes (--lr), a --dry-run that checks the whole
path quickly and exits 0, and the metric printed as `val_loss: VALUE` lines (the last one counts).
"""

import argparse
import math


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=0.001)
    parser.add_argument("--dry-run", action="store_true", help="check the setup in seconds, then exit")
    args = parser.parse_args()
    epochs = 1 if args.dry_run else 5
    for epoch in range(1, epochs + 1):
        # replace with real training: a toy loss that is lowest near lr=0.003
        val_loss = abs(math.log10(args.lr / 0.003)) + 1.0 / (epoch + 1)
        print(f"epoch={epoch} val_loss: {val_loss:.4f}", flush=True)
    if args.dry_run:
        print("dry-run ok")


if __name__ == "__main__":
    main()
'''

NEXT_STEPS = """\
next, edit:
  {dir}/PROJECT_BRIEF.md      the goal, the metric, the constraints (the leader reads it)
  {dir}/workspace/train.py    your training: keep --dry-run and the `val_loss: VALUE` lines
  {dir}/config.yaml           search.command and search.space (and metric.name if yours differs)
then: tui-researcher run {dir} --no-ui   (or without --no-ui for the full-screen app)"""


def write_starter(target: Path) -> None:
    """Write the starter project into ``target`` (an empty or new directory)."""
    (target / "workspace").mkdir(parents=True, exist_ok=True)
    (target / "PROJECT_BRIEF.md").write_text(BRIEF, encoding="utf-8")
    (target / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (target / "workspace" / "train.py").write_text(TRAIN, encoding="utf-8")
