"""Does a bad webhook slow the loop? The monitor's poll cadence with no notification, with a receiver that
answers 500 to everything (retried every 50 ms), and with one that never answers (held 60 s).

Run: python benchmarks/bench_notify.py [--seconds 4] [--poll 0.2]

Each case runs the real controller on a project whose first trial sets a new best (an alert, sent at
once) and whose second trial trains for ``--seconds`` while the send fails or hangs. Printed per case:
the monitor samples of the second trial, the median and the 95th percentile of the gaps between them,
and their ratio to the case without notifications (1.0: the cadence is unchanged).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers import make_project  # noqa: E402
from tests.webhook import Receiver  # noqa: E402
from tui_researcher.config import load_config  # noqa: E402
from tui_researcher.controller import Controller  # noqa: E402
from tui_researcher.events import MonitorSample  # noqa: E402


async def gaps(url: str | None, seconds: float, poll: float) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        project = make_project(Path(tmp), modes=["ok", "sleep"], scores=[0.9], seconds=seconds,
                               extra={"monitor": {"poll_interval": poll},
                                      **({"notify": {"urls": [url]}} if url else {})})
        controller = Controller(project, load_config(project / "config.yaml"), max_cycles=2)
        controller.outreach.retry_delays, controller.outreach.flush_s = (0.05,) * 10_000, 0.2
        queue, times = controller.subscribe(), []

        async def watch() -> None:
            while (event := await queue.get()) is not None:
                if isinstance(event, MonitorSample) and any(t.trial_id == "t0002" for t in event.trials):
                    times.append(asyncio.get_running_loop().time())
        watcher = asyncio.create_task(watch())
        await controller.run()
        await watcher
    return [b - a for a, b in zip(times, times[1:])]


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * (len(values) - 1))]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--poll", type=float, default=0.2)
    args = ap.parse_args()
    base = await gaps(None, args.seconds, args.poll)
    with Receiver(fail_first=10**9) as failing:
        bad = await gaps(failing.url, args.seconds, args.poll)
    with Receiver(hang=True) as hanging:
        held = await gaps(hanging.url + "?rto=60&cto=5", args.seconds, args.poll)
    print(f"{'case':<22}{'samples':>8}{'median_s':>10}{'p95_s':>8}{'median_ratio':>14}{'p95_ratio':>11}")
    for name, values in (("no notification", base), ("receiver answers 500", bad), ("receiver never answers", held)):
        print(f"{name:<22}{len(values) + 1:>8}{statistics.median(values):>10.3f}{p95(values):>8.3f}"
              f"{statistics.median(values) / statistics.median(base):>14.2f}{p95(values) / p95(base):>11.2f}")
    print(f"notify: failing_attempts={failing.attempts} hanging_attempts={hanging.attempts}")


if __name__ == "__main__":
    asyncio.run(main())
