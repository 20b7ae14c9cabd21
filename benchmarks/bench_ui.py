"""How fast the app answers a key, with and without a log flood, and how soon it shows its first frame.

Run: python benchmarks/bench_ui.py [--presses 60] [--rate 5000] [--starts 5]

- Key-to-screen latency: from a key event entering the app to the first frame that shows its
  effect (``f`` toggles log follow; ``t`` switches to the trials view and back). A frame is
  counted when the app hands its update to the terminal driver, after the update has been
  turned into the bytes a terminal would receive. Measured idle (the baseline) and while
  a ``--rate`` lines/s flood arrives through the bridge. Goal: median under 50 ms under flood.
- Start to first frame: a real process in a pseudo-terminal (160x48), from spawn until the
  dashboard's pane titles have been written to the terminal: ``attach`` on a recorded loop and
  ``run`` on a fresh copy of the sample project, against a bare Textual app in the same harness
  (the floor: Python, Textual, one frame). Goal: under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import random
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from textual import events  # noqa: E402

from tui_researcher.events import MonitorSample  # noqa: E402
from tui_researcher.settings import Settings  # noqa: E402
from tui_researcher.ui.app import ResearcherApp  # noqa: E402
from tui_researcher.ui.screens.trials import TrialsScreen  # noqa: E402
from tui_researcher.ui.source import QueueSource  # noqa: E402
from tui_researcher.ui.widgets.training_log import TrainingLog  # noqa: E402

SIZE = (160, 48)


# key-to-screen latency ------------------------------------------------------------------------


class FrameClock:
    """Wraps the app's hand-off to the driver: every frame, timed once its terminal bytes exist."""

    def __init__(self, app: ResearcherApp) -> None:
        self.app = app
        self.pending: tuple[float, object] | None = None   # (key time, predicate)
        self.latencies: list[float] = []
        original = app._display

        def display(screen, renderable) -> None:
            if renderable is not None and hasattr(renderable, "render_segments"):
                renderable.render_segments(app.console)
            if self.pending is not None and self.pending[1]():
                self.latencies.append(time.perf_counter() - self.pending[0])
                self.pending = None
            original(screen, renderable)

        app._display = display


async def flood(source: QueueSource, rate: int, stop: asyncio.Event) -> int:
    """``rate`` lines a second in 20 samples a second, as a monitor with a fast poll would send them."""
    per_tick, sent = max(1, rate // 20), 0
    loop = asyncio.get_running_loop()
    next_tick = loop.time()
    while not stop.is_set():
        lines = tuple(("t0001", f"\x1b[32mstep={sent + i}\x1b[0m loss={1 / (sent + i + 1):.6f} lr=0.0100 "
                                f"grad_norm=1.234 throughput=4096 samples/s") for i in range(per_tick))
        source.push(MonitorSample(host="local", lines=lines))
        sent += per_tick
        next_tick += 0.05
        await asyncio.sleep(max(0.0, next_tick - loop.time()))
    return sent


async def key_latency(presses: int, rate: int) -> dict[str, list[float]]:
    source = QueueSource()
    with tempfile.TemporaryDirectory() as tmp:
        app = ResearcherApp(source, settings=Settings(), settings_path=Path(tmp) / "settings.toml", animate=False)
        async with app.run_test(size=SIZE) as pilot:
            clock = FrameClock(app)
            log = app.screen.query_one(TrainingLog)
            stop = asyncio.Event()
            producer = asyncio.create_task(flood(source, rate, stop)) if rate else None
            await pilot.pause(0.5)
            results: dict[str, list[float]] = {"f": [], "t": []}
            for i in range(presses):
                key = "f" if i % 4 < 2 else "t"   # f twice on the dashboard, then t there and back
                if key == "f":
                    before = log.follow
                    predicate = lambda before=before: log.follow != before  # noqa: E731
                else:
                    on_trials = isinstance(app.screen, TrialsScreen)
                    predicate = lambda on_trials=on_trials: isinstance(app.screen, TrialsScreen) != on_trials  # noqa: E731
                clock.pending = (time.perf_counter(), predicate)
                app.post_message(events.Key(key, key))
                deadline = time.perf_counter() + 5
                while clock.pending is not None and time.perf_counter() < deadline:
                    await asyncio.sleep(0.002)
                if clock.pending is not None:
                    raise SystemExit(f"no frame showed {key!r} within 5 s")
                results[key].append(clock.latencies[-1])
                await asyncio.sleep(random.uniform(0.08, 0.16))
            stop.set()
            if producer is not None:
                sent = await producer
                results["lines"] = [float(sent)]
                results["pane_lines"] = [float(log.line_count)]
    return results


# start to first frame ---------------------------------------------------------------------


BARE_APP = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    def compose(self):
        yield Static("Training log")
Bare().run()
"""


def first_frame(argv: list[str], marker: bytes, env: dict, timeout: float = 20.0) -> float:
    """Seconds from spawn until ``marker`` has been written to the pseudo-terminal."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO,
                            start_new_session=True, close_fds=True)
    os.close(slave)
    seen = b""
    elapsed = None
    try:
        while time.perf_counter() - start < timeout:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                seen += chunk
                if marker in seen:
                    elapsed = time.perf_counter() - start
                    break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        os.close(master)
    if elapsed is None:
        raise SystemExit(f"{' '.join(argv)}: no {marker!r} within {timeout}s")
    return elapsed


def start_times(starts: int) -> dict[str, list[float]]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", COLORTERM="truecolor")
    out: dict[str, list[float]] = {"bare textual app": [], "attach (recorded loop)": [], "run (sample project)": []}
    with tempfile.TemporaryDirectory() as tmp:
        env["XDG_CONFIG_HOME"] = str(Path(tmp) / "xdg")
        recording = Path(tmp) / "recording"
        shutil.copytree(REPO / "tests" / "ui" / "data" / "recording", recording)
        py = sys.executable
        for i in range(starts):
            out["bare textual app"].append(first_frame([py, "-c", BARE_APP], b"Training log", env))
            out["attach (recorded loop)"].append(
                first_frame([py, "-m", "tui_researcher.cli", "attach", str(recording)], b"Training log", env))
            project = Path(tmp) / f"spirals-{i}"
            shutil.copytree(REPO / "sample_projects" / "spirals", project,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))
            out["run (sample project)"].append(
                first_frame([py, "-m", "tui_researcher.cli", "run", str(project), "--max-cycles", "1"],
                            b"Training log", env))
    return out


# report -------------------------------------------------------------------------------------


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"median {statistics.median(values) * 1000:6.1f} ms   p95 {p95 * 1000:6.1f} ms   (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=60, help="keys per scenario")
    parser.add_argument("--rate", type=int, default=5000, help="log lines per second in the flood")
    parser.add_argument("--starts", type=int, default=5, help="process starts per first-frame measurement")
    args = parser.parse_args()
    random.seed(1)
    print(f"tui-researcher UI benchmark: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"terminal {SIZE[0]}x{SIZE[1]}\n")

    print("key-to-screen latency (key event in -> first frame showing its effect)")
    for label, rate in (("idle (baseline)", 0), (f"{args.rate:,} lines/s flood", args.rate)):
        result = asyncio.run(key_latency(args.presses, rate))
        print(f"  {label}")
        print(f"    f  toggle follow        {ms(result['f'])}")
        print(f"    t  dashboard <-> trials {ms(result['t'])}")
        print(f"    all keys                {ms(result['f'] + result['t'])}")
        if rate:
            print(f"    flood: {int(result['lines'][0]):,} lines sent; the pane holds {int(result['pane_lines'][0]):,}")

    print("\nstart to first frame (process spawn in a pty -> pane titles on the terminal)")
    for label, values in start_times(args.starts).items():
        print(f"  {label:<24} {ms(values)}")


if __name__ == "__main__":
    main()
