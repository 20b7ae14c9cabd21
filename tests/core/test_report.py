"""`tui-researcher report` from a recorded ledger: the markdown and its SVG match the ledger, point by point."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

from tui_researcher.ledger import Ledger
from tui_researcher.store import Store
from tui_researcher.trial import Trial, TrialStatus

from tests.helpers import cli

SVG = "{http://www.w3.org/2000/svg}"
STATUSES = [TrialStatus.KEEP, TrialStatus.DISCARD, TrialStatus.CRASH, TrialStatus.KEEP, TrialStatus.NAN,
            TrialStatus.DISCARD, TrialStatus.CRASH, TrialStatus.KEEP, TrialStatus.GATED, TrialStatus.TIMEOUT]


def recorded_project(tmp_path: Path, n: int = 30) -> tuple[Path, list[Trial]]:
    """A project whose ledger holds ``n`` finished trials of every kind, written as the controller writes them."""
    project = tmp_path / "proj"
    (project / "workspace").mkdir(parents=True)
    (project / "PROJECT_BRIEF.md").write_text("# Spirals\n\nCan a 2-layer MLP reach val_loss < 0.1 on two spirals?\n")
    (project / "config.yaml").write_text(yaml.safe_dump({"metric": {"name": "val_loss", "goal": "min"},
                                                         "search": {"command": "python train.py --lr {lr}",
                                                                    "space": {"lr": [0.1]}}}))
    store = Store(project / "workspace" / "researcher.db")
    ledger, trials = Ledger(store), []
    for i in range(1, n + 1):
        status = STATUSES[i % len(STATUSES)]
        failed = status in (TrialStatus.CRASH, TrialStatus.TIMEOUT)
        trial = Trial(id=f"t{i:04d}", cycle=i, parent=f"t{i - 1:04d}" if i > 1 else None, status=status,
                      hypothesis=f"try lr {i / 100}", command=f"python train.py --lr {i / 100}",
                      params={"lr": i / 100}, metric=None if failed else round(1.0 / i + (i % 3) * 0.05, 6),
                      label="CUDA out of memory" if status == TrialStatus.CRASH else "", started=1000.0 + i * 60,
                      ended=1030.0 + i * 60, duration=30.0, decision=f"decided {i}")
        ledger.record(trial, "finished")
        trials.append(trial)
    store.close()
    return project, trials


def test_the_report_and_its_plot_match_the_ledger(tmp_path: Path):
    project, trials = recorded_project(tmp_path)
    done = cli("report", str(project), check=True)
    md_path, svg_path = project / "report" / "report.md", project / "report" / "metric.svg"
    assert str(md_path) in done.stdout
    md = md_path.read_text()

    root = ET.parse(svg_path).getroot()                  # well-formed XML, an SVG document
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter(f"{SVG}foreignObject"))
    circles = list(root.iter(f"{SVG}circle"))
    with_metric = [t for t in trials if t.metric is not None]
    assert [(c.get("data-trial"), float(c.get("data-metric"))) for c in circles] == [
        (t.id, t.metric) for t in with_metric]
    by_metric = sorted(circles, key=lambda c: float(c.get("data-metric")))
    assert [float(c.get("cy")) for c in by_metric] == sorted((float(c.get("cy")) for c in circles), reverse=True)
    xs = [float(c.get("cx")) for c in circles]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)  # one column per trial, in ledger order
    [line] = list(root.iter(f"{SVG}polyline"))           # the best-so-far steps of kept trials
    kept = [t.metric for t in trials if t.status == TrialStatus.KEEP]
    best = min(kept)
    best_y = float(next(c.get("cy") for c in circles if float(c.get("data-metric")) == best
                        and c.get("data-status") == "keep"))
    assert math.isclose(float(line.get("points").split()[-1].split(",")[1]), best_y)

    winner = min((t for t in trials if t.status == TrialStatus.KEEP), key=lambda t: t.metric)
    assert f"**{winner.id}**: val_loss = {winner.metric:.6g}" in md
    assert "Can a 2-layer MLP reach val_loss < 0.1" in md and "![val_loss over trials](metric.svg)" in md
    rows = re.findall(r"^\| (t\d{4}) \| (\w+) \| ([^|]+) \|", md, re.M)
    assert [(tid, status) for tid, status, _ in rows] == [(t.id, str(t.status)) for t in trials]
    crashes = [t.id for t in trials if t.status == TrialStatus.CRASH]
    assert f"- **crash: CUDA out of memory** ({len(crashes)}): {', '.join(crashes[:12])}" in md
    assert "- trials: 30 (" in md and "training time: 15:00 in all" in md


def test_a_report_of_a_project_that_never_ran_says_so(tmp_path: Path):
    project = tmp_path / "empty"
    project.mkdir()
    failed = cli("report", str(project))
    assert failed.returncode != 0 and "has not run yet" in failed.stderr and not (project / "report").exists()
