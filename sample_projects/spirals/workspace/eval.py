"""The controller's evaluator for the spirals sample: accuracy of a trial's saved model on held-out
points (heldout.json) that train.py never reads. It imports nothing of train.py, which the worker
may change; the evaluator and its data are read-only to every command of the worker's side.
"""

import argparse
import json
import math
import os
import sys


def predict(model, x):
    hidden = [math.tanh(w[0] * x[0] + w[1] * x[1] + b) for w, b in zip(model["w1"], model["b1"])]
    z = max(-30.0, min(30.0, sum(w * h for w, h in zip(model["w2"], hidden)) + model["b2"]))
    return 1.0 / (1.0 + math.exp(-z)) >= 0.5


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True)
    args = ap.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "heldout.json")) as f:
        points = json.load(f)
    try:
        with open(os.path.join(args.run_dir, "model.json")) as f:
            model = json.load(f)
    except (OSError, ValueError) as exc:
        print(f"no model to evaluate in {args.run_dir}: {exc}", file=sys.stderr)
        return 1
    correct = sum(predict(model, (x, y)) == bool(label) for x, y, label in points)
    print(f"heldout={len(points)} val_acc={correct / len(points):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
