"""A tiny real training: an MLP on two interleaved spirals, standard library only.

It runs on a CPU in a few seconds, prints one metric line per epoch, and its validation
accuracy really depends on the learning rate, width and epochs, so a search can beat the
baseline. `--dry-run` checks the whole path on a handful of points and exits.
"""

import argparse
import json
import math
import os
import random
import sys


def spirals(n, noise, rng):
    points = []
    for i in range(n):
        label = i % 2
        t = 0.25 + 2.6 * math.pi * rng.random() ** 0.7
        r = t / (2.85 * math.pi)
        angle = t + label * math.pi
        x = r * math.cos(angle) + rng.gauss(0, noise)
        y = r * math.sin(angle) + rng.gauss(0, noise)
        points.append(((x * 2.0, y * 2.0), label))
    return points


class MLP:
    def __init__(self, hidden, rng):
        scale1, scale2 = 1.0 / math.sqrt(2), 1.0 / math.sqrt(hidden)
        self.w1 = [[rng.gauss(0, 1.5 * scale1) for _ in range(2)] for _ in range(hidden)]
        self.b1 = [rng.gauss(0, 0.5) for _ in range(hidden)]
        self.w2 = [rng.gauss(0, scale2) for _ in range(hidden)]
        self.b2 = 0.0

    def forward(self, x):
        h = [math.tanh(w[0] * x[0] + w[1] * x[1] + b) for w, b in zip(self.w1, self.b1)]
        z = sum(w * v for w, v in zip(self.w2, h)) + self.b2
        z = max(-30.0, min(30.0, z))
        return h, 1.0 / (1.0 + math.exp(-z))

    def step(self, x, y, lr):
        h, p = self.forward(x)
        dz = p - y
        for j, hj in enumerate(h):
            dh = dz * self.w2[j] * (1.0 - hj * hj)
            self.w2[j] -= lr * dz * hj
            w = self.w1[j]
            w[0] -= lr * dh * x[0]
            w[1] -= lr * dh * x[1]
            self.b1[j] -= lr * dh
        self.b2 -= lr * dz
        eps = 1e-12
        return -(y * math.log(p + eps) + (1 - y) * math.log(1 - p + eps))


def accuracy(model, data):
    return sum((model.forward(x)[1] >= 0.5) == bool(y) for x, y in data) / len(data)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--hidden", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dry-run", action="store_true", help="check the pipeline on a few points and exit")
    args = ap.parse_args(argv)
    if args.lr <= 0 or args.hidden <= 0 or args.epochs <= 0:
        ap.error("lr, hidden and epochs must be positive")

    data_rng = random.Random(1234)
    train = spirals(600, 0.06, data_rng)
    val = spirals(300, 0.06, data_rng)
    if args.dry_run:
        train, val, args.epochs = train[:16], val[:16], 1

    rng = random.Random(args.seed)
    model = MLP(args.hidden, rng)
    print(f"config lr={args.lr} hidden={args.hidden} epochs={args.epochs} train={len(train)} val={len(val)}", flush=True)
    for epoch in range(1, args.epochs + 1):
        rng.shuffle(train)
        loss = sum(model.step(x, y, args.lr) for x, y in train) / len(train)
        if not math.isfinite(loss):
            print(f"epoch={epoch} loss=nan", flush=True)
            return 1
        print(f"epoch={epoch} loss={loss:.4f} val_acc={accuracy(model, val):.4f}", flush=True)
    if args.dry_run:
        print("dry-run ok", flush=True)
        return 0
    save(model, os.environ.get("TUI_RESEARCHER_RUN_DIR"))
    return 0


def save(model, run_dir):
    """The weights, for eval.py: the controller measures the model on data this script never reads."""
    if run_dir:
        with open(os.path.join(run_dir, "model.json"), "w") as f:
            json.dump({"w1": model.w1, "b1": model.b1, "w2": model.w2, "b2": model.b2}, f)


if __name__ == "__main__":
    sys.exit(main())
