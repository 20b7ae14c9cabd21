"""`status` and `export` read the store from another process: aggregates, never the whole ledger."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

from tests.helpers import cli, latest_trials, make_project


def test_status_answers_from_the_store_and_export_streams_every_trial(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok", "crash", "ok"], scores=[0.5, 0.1, 0.9])
    cli("run", str(project), "--no-ui", "--max-cycles", "3", check=True)

    trials = latest_trials(project)
    counts = Counter(t["status"] for t in trials.values())
    kept = max((t for t in trials.values() if t["status"] == "keep"), key=lambda t: t["metric"])

    status = json.loads(cli("status", str(project), "--json", check=True).stdout)
    assert status["trials"] == 3 and status["by_status"] == dict(counts)
    assert status["best"] == {"trial": kept["id"], "metric": kept["metric"], "self_reported": False}
    assert status["controller"] == "not running"
    text = cli("status", str(project), check=True).stdout
    shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    assert f"trials    3 in the ledger ({shown})" in text

    lines = cli("export", str(project), check=True).stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == ["t0001", "t0002", "t0003"]
    assert [r["status"] for r in records] == [trials[r["id"]]["status"] for r in records]
    assert all("tool_calls" in r for r in records)

    out = tmp_path / "trials.csv"
    done = cli("export", str(project), "--csv", "-o", str(out), check=True)
    assert "exported 3 trial(s)" in done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["status"] for r in rows] == [r["status"] for r in records] and json.loads(rows[0]["params"])
    for row in rows:                        # every column a spreadsheet or pandas sees is the ledger's value
        trial = trials[row["id"]]
        assert float(row["metric"] or "nan") == trial["metric"] or (row["metric"] == "" and trial["metric"] is None)
        assert json.loads(row["params"]) == trial["params"] and row["label"] == trial["label"]
        assert (row["cycle"], row["host"], row["command"]) == (str(trial["cycle"]), trial["host"], trial["command"])
        assert float(row["duration"]) == trial["duration"] and row["exit_code"] == str(trial["exit_code"])


def test_status_of_a_project_that_never_ran_creates_nothing(tmp_path: Path):
    project = make_project(tmp_path, modes=["ok"], scores=[0.5])
    status = json.loads(cli("status", str(project), "--json", check=True).stdout)
    assert status["trials"] == 0 and status["cycle"] == 0
    assert not (project / "workspace" / "researcher.db").exists()
    failed = cli("export", str(project))
    assert failed.returncode != 0 and "has not run yet" in failed.stderr


def test_status_reads_config_leniently_but_reports_a_broken_file(tmp_path: Path):
    from tui_researcher.config import MetricConfig
    from tui_researcher.status import DEFAULT_METRIC

    assert DEFAULT_METRIC == (MetricConfig().name, MetricConfig().goal)
    project = make_project(tmp_path, modes=["ok"], scores=[0.5])
    (project / "config.yaml").write_text("metric: [unclosed\n")
    failed = cli("status", str(project))
    assert failed.returncode == 2 and "config.yaml" in failed.stderr and failed.stderr.count("\n") == 1


def test_status_does_not_load_the_config_models_textual_or_an_sdk(tmp_path: Path):
    import subprocess
    import sys

    project = make_project(tmp_path, modes=["ok"], scores=[0.5])
    code = ("import sys; from tui_researcher.cli import main; main(['status', sys.argv[1]]); "
            "print(sorted(m for m in ('pydantic', 'textual', 'anthropic', 'openai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
