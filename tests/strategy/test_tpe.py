"""search.strategy tpe: Optuna's TPE fed from the ledger; a restart continues it; nothing tried or running again."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.helpers import REPO, latest_trials, make_project
from tui_researcher.config import load_config
from tui_researcher.controller import Controller
from tui_researcher.ledger import Ledger, params_key
from tui_researcher.planner import OfflinePlanner, ThinkContext
from tui_researcher.store import Store
from tui_researcher.trial import Trial, TrialStatus

SCORES = [round(0.05 * i, 2) for i in range(1, 15)]


def context(cycle: int) -> ThinkContext:
    return ThinkContext(cycle=cycle, brief="", memory="", directive="", pivot="", lineage="", running=[],
                        free_slots=1, goal="max", metric="val_acc")


async def test_a_restart_continues_the_study_from_the_ledger_and_repeats_no_configuration(tmp_path):
    project = make_project(tmp_path, modes=["ok"], scores=SCORES, extra={"search": {"strategy": "tpe"}})
    config = load_config(project / "config.yaml")
    await Controller(project, config, max_cycles=5).run()
    assert len(latest_trials(project)) == 5

    second = Controller(project, config, max_cycles=10)
    await second.run()

    trials = latest_trials(project).values()
    keys = [params_key(t["params"]) for t in trials]
    assert len(keys) == 10 and len(set(keys)) == 10
    assert all(t["status"] in ("keep", "discard") for t in trials)
    study = second.planner.tpe.study
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    # the second process's study holds the first process's five results: it was fed from the ledger
    assert len(done) >= 9
    first_five = {SCORES.index(t["params"]["score"]) for t in list(trials)[:5]}
    assert first_five <= {t.params["score"] for t in done}
    hypotheses = [t["hypothesis"] for t in trials]
    assert hypotheses[0].startswith("baseline") and all(h.startswith("tpe") for h in hypotheses[1:])


async def test_a_running_configuration_is_never_proposed(tmp_path):
    project = make_project(tmp_path, modes=["ok"], scores=[0.1, 0.2, 0.3],
                           extra={"search": {"strategy": "tpe", "baseline": {"mode": "ok", "score": 0.1}}})
    config = load_config(project / "config.yaml")
    ledger = Ledger(Store(tmp_path / "t.db"))
    ledger.record(Trial(id="t0001", cycle=1, params={"mode": "ok", "score": 0.1}, status=TrialStatus.KEEP,
                        metric=0.1), "finished")
    ledger.record(Trial(id="t0002", cycle=2, params={"mode": "ok", "score": 0.3}, status=TrialStatus.RUNNING),
                  "launched")
    planner = OfflinePlanner(config, ledger)
    for cycle in (3, 4, 5):
        plan = await planner.think(context(cycle))
        assert plan.params == {"mode": "ok", "score": 0.2}, plan     # never 0.3: it runs
        assert plan.hypothesis.startswith("tpe:")
        planner.tpe.asked.clear()       # proposed, then never recorded: it may be proposed again
    ledger.record(Trial(id="t0003", cycle=3, params={"mode": "ok", "score": 0.2}, status=TrialStatus.DISCARD,
                        metric=0.2), "finished")
    plan = await planner.think(context(6))
    assert plan.action == "report" and "exhausted" in plan.hypothesis


def test_without_optuna_the_config_says_how_to_install_it_and_nothing_runs(tmp_path):
    project = make_project(tmp_path, modes=["ok"], scores=SCORES)
    cfg = yaml.safe_load((project / "config.yaml").read_text())
    cfg["search"]["strategy"] = "tpe"
    (project / "config.yaml").write_text(yaml.safe_dump(cfg))
    hide = ("import sys; sys.modules['optuna'] = None; from tui_researcher.cli import main; "
            f"sys.exit(main(['run', {str(project)!r}, '--no-ui', '--max-cycles', '1']))")
    proc = subprocess.run([sys.executable, "-c", hide], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2, proc.stderr
    line = next(i for i, l in enumerate((project / "config.yaml").read_text().splitlines(), 1) if "strategy" in l)
    assert "config.yaml" in proc.stderr and "search.strategy" in proc.stderr and f"line {line}" in proc.stderr
    assert "pip install 'tui-researcher[optuna]'" in proc.stderr
    assert not (project / "workspace" / "researcher.db").exists()
