"""Named moments where the fault suite kills the controller, so crash consistency is tested at the
boundaries that matter (a side effect done, its record not yet written), not only at random times.

Off unless ``TUI_RESEARCHER_FAILPOINT`` names one: ``name`` (its first hit in this process) or
``name@N`` (its Nth). There the controller's process group is SIGKILLed, as a user's ``kill -9`` or
a power cut would leave it: the helper and a dry-run die with it, training (its own session) lives on.
"""

from __future__ import annotations

import os
import signal

ENV = "TUI_RESEARCHER_FAILPOINT"
POINTS = ("planned", "dry_run", "launch", "launched", "collect", "finished", "reflect")
"""In loop order: after THINK's record, a dry-run done but unrecorded, training started but unrecorded,
launch recorded, a trial's end seen but unrecorded, its result recorded but unreflected, memory written
but the decision unrecorded."""

_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    want, _, nth = spec.partition("@")
    if want != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == int(nth or 1):
        os.killpg(os.getpgid(0), signal.SIGKILL)
