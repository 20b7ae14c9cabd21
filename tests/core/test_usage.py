"""Usage is summed per cycle and per day into state, and the daily cap pauses planning."""

from __future__ import annotations

from pathlib import Path

from tui_researcher.config import load_config
from tui_researcher.controller import Controller

from tests.helpers import make_project


def test_usage_is_summed_per_cycle_and_per_day(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok"], extra={"agent": {"max_usd_per_day": 1.0}})
    controller = Controller(project, load_config(project / "config.yaml"))
    controller.state.cycle = 1
    controller.add_usage(input_tokens=1000, output_tokens=200, cache_read_tokens=50, usd=0.4)
    controller.state.cycle = 2
    controller.add_usage(input_tokens=10, output_tokens=5, usd=0.7)
    usage = controller.state.usage
    assert usage.by_cycle == {"1": {"tokens": 1250, "usd": 0.4}, "2": {"tokens": 15, "usd": 0.7}}
    assert round(usage.usd_today, 6) == 1.1 and usage.tokens_today == 1265
    assert controller._over_budget()   # 1.1 >= 1.0: planning pauses, training is not touched
    for cycle in range(3, 100):
        controller.state.cycle = cycle
        controller.add_usage(input_tokens=1)
    assert len(usage.by_cycle) == 50 and "99" in usage.by_cycle and "1" not in usage.by_cycle
