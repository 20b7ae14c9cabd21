"""The dashboard: plan, tool calls and memory on the left; GPUs, running trials and the training log on the right."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from ..widgets.gpu_meters import GpuMeters
from ..widgets.memory_log import MemoryPane
from ..widgets.plan import PlanPane
from ..widgets.running_trials import RunningTrials
from ..widgets.status_bar import StatusBar
from ..widgets.tool_calls import ToolCallsTable
from ..widgets.training_log import TrainingLog


class MainScreen(Screen):
    def __init__(self, hosts: tuple[str, ...], *, log_max_lines: int, status: dict) -> None:
        super().__init__(id="main")
        self.hosts = hosts
        self.log_max_lines = log_max_lines
        self.status_options = status

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status", **self.status_options)
        with Horizontal(id="body"):
            with Vertical(id="left"):
                plan = PlanPane(id="plan")
                plan.border_title = "Leader plan"
                yield plan
                tools = ToolCallsTable(id="tools")
                tools.border_title = "Worker tool calls"
                yield tools
                memory = MemoryPane(id="memory")
                memory.border_title = "Memory log"
                yield memory
            with Vertical(id="right"):
                gpus = GpuMeters(self.hosts, id="gpus")
                gpus.border_title = "GPUs"
                yield gpus
                yield RunningTrials(id="running", **self.status_options)
                log = TrainingLog(max_lines=self.log_max_lines, id="log")
                log.border_title = "Training log"
                yield log
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TrainingLog).focus()
