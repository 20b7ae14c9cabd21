"""The leader's plan: hypothesis, task and success criteria, and the last REFLECT decision."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.containers import VerticalScroll
from textual.widgets import Markdown

if TYPE_CHECKING:
    from ...events import PlanProposed, Reflected
    from ...trial import Trial

WAITING = "_Waiting for the first plan…_"


class PlanPane(VerticalScroll):
    """Markdown, rebuilt whenever the leader proposes or decides."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._updating: AwaitComplete | None = None
        self._plan = ""
        self._decision = ""

    def compose(self) -> ComposeResult:
        yield Markdown(WAITING)

    def show_plan(self, plan: "PlanProposed") -> None:
        self._plan = plan_markdown(plan.cycle, plan.trial_id, plan.hypothesis, plan.task, plan.success_criteria,
                                   plan.command, plan.worker, plan.directive, plan.role)
        self._update_markdown()

    def show_trial(self, trial: "Trial") -> None:
        """Before any plan event (a restart, an attach): the newest trial's plan from the ledger."""
        if not self._plan:
            self._plan = plan_markdown(trial.cycle, trial.id, trial.hypothesis, trial.task, trial.success_criteria,
                                       trial.command, role=trial.role)
            if trial.decision and not self._decision:
                self._decision = f"**Last decision** ({trial.id})  \n{trial.decision}"
            self._update_markdown()

    def show_decision(self, reflection: "Reflected") -> None:
        head = f"**Last decision** ({reflection.trial_id} → {reflection.next_action})"
        self._decision = f"{head}  \n{reflection.decision}"
        self._update_markdown()

    def _update_markdown(self) -> None:
        parts = [p for p in (self._plan, self._decision) if p]
        self._updating = self.query_one(Markdown).update("\n\n---\n\n".join(parts) or WAITING)

    async def rendered(self) -> None:
        """Wait until the newest text is on screen (Markdown parses off the UI thread)."""
        if self._updating is not None:
            await self._updating


def plan_markdown(cycle: int, trial_id: str, hypothesis: str, task: str = "", criteria: str = "",
                  command: str = "", worker: str = "", directive: str = "", role: str = "") -> str:
    """The command right under the heading: what runs is in view at any size, the prose may scroll."""
    head = (f"**Cycle {cycle} · {trial_id}**" + (f" · role `{role}`" if role else "")
            + (f" · worker `{worker}`" if worker else ""))
    lines = [head]
    if command:
        lines += ["", f"`{command}`"]
    lines += ["", f"**Hypothesis**  \n{hypothesis or '–'}"]
    if task:
        lines += ["", f"**Task**  \n{task}"]
    if criteria:
        lines += ["", f"**Success criteria**  \n{criteria}"]
    if directive:
        lines += ["", f"**Directive used**  \n{directive}"]
    return "\n".join(lines)
