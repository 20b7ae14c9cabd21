"""The store: answers from indexes, one transaction for a trial and the state, migration, tamper repair."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tui_researcher.config import load_config
from tui_researcher.ledger import Ledger, params_key
from tui_researcher.paths import ProjectPaths
from tui_researcher.project import Project
from tui_researcher.state import State
from tui_researcher.store import EVENTS_KEPT, Store
from tui_researcher.trial import RunningTrial, Trial, TrialStatus


@pytest.fixture
def ledger(tmp_path):
    return Ledger(Store(tmp_path / "researcher.db"))


def finished(tid: str, status: TrialStatus, metric: float | None = None, **params) -> Trial:
    return Trial(id=tid, cycle=int(tid[1:]), status=status, metric=metric, params=params)


def test_questions_are_answered_from_indexes(ledger):
    ledger.record(finished("t0001", TrialStatus.KEEP, 0.7, lr=0.1), "finished")
    ledger.record(finished("t0002", TrialStatus.KEEP, 0.9, lr=0.3), "finished")
    ledger.record(finished("t0003", TrialStatus.CRASH, lr=1.0), "finished")
    ledger.record(Trial(id="t0004", cycle=4, params={"lr": 0.01}), "planned")
    ledger.record(finished("t0005", TrialStatus.KEEP, 0.9, lr=0.03), "finished")     # a tie: the first stays best
    assert ledger.best("max").id == "t0002" and ledger.best("min").id == "t0001"
    assert [t.id for t in ledger.recent(2)] == ["t0004", "t0005"]
    assert [t.id for t in ledger.recent(2, finished=True)] == ["t0003", "t0005"]
    assert ledger.counts() == {"keep": 3, "crash": 1, "pending": 1} and len(ledger) == 5
    assert ledger.tried([{"lr": 0.3}, {"lr": 0.5}]) == {params_key({"lr": 0.3})}
    assert ledger.unreflected() == ["t0001", "t0002", "t0003", "t0005"]
    ledger.record(ledger.get("t0002"), "reflected")
    assert "t0002" not in ledger.unreflected() and ledger.last_id() == "t0005"
    assert [row for row, _ in ledger.page(2, 2)] == [3, 4]


def test_a_status_change_moves_the_count(ledger):
    trial = Trial(id="t0001", cycle=1)
    ledger.record(trial, "planned")
    trial.status = TrialStatus.RUNNING
    ledger.record(trial, "launched")
    ledger.record(trial, "launched")
    assert ledger.counts() == {"running": 1} and ledger.launch_count("t0001") == 2


def test_tool_calls_and_dry_run_output_are_streams_of_their_own(ledger):
    trial = Trial(id="t0001", cycle=1, dry_run={"ok": False, "exit_code": 1, "output": "x" * 2000})
    ledger.record(trial, "dry_run")
    ledger.dry_run_output(trial, {"ok": False, "output": "Traceback ... ValueError"})
    for i in range(50):
        ledger.tool_call(trial, {"tool": "read_file", "i": i})
        ledger.record(trial, "tool")
    row = ledger.store.query("SELECT length(record) FROM trials WHERE id='t0001'")[0][0]
    assert row < 800      # the record never carries the calls or the output
    full = ledger.with_calls("t0001")
    assert len(full.tool_calls) == 50 and full.dry_run["output"].endswith("ValueError")


def test_a_trial_and_the_state_commit_together(tmp_path):
    (tmp_path / "config.yaml").write_text("project: {workspace: .}\n")
    project = Project(tmp_path, load_config(tmp_path / "config.yaml"))
    trial = Trial(id="t0001", cycle=1, status=TrialStatus.RUNNING)
    project.state.running["t0001"] = RunningTrial(id="t0001", host="local", run_dir="runs/t0001", pid=7)
    with pytest.raises(RuntimeError):
        with project.store.transaction():
            project.commit(trial, "launched")
            raise RuntimeError("crash between the two writes")
    reader = Store.reader(tmp_path / "researcher.db")
    assert reader.trial("t0001") is None and reader.load_state() == (None, {})
    project.commit(trial, "launched")
    assert reader.trial("t0001")["status"] == "running" and list(reader.load_state()[1]) == ["t0001"]


def test_events_are_trimmed_to_what_a_face_replays(tmp_path):
    store = Store(tmp_path / "researcher.db")
    for i in range(EVENTS_KEPT + 1500):
        store.append_event({"type": "notice", "text": str(i)}, float(i))
    count = store.query("SELECT COUNT(*) FROM events")[0][0]
    assert EVENTS_KEPT <= count < EVENTS_KEPT + 1000
    last = store.events_after(store.last_event_seq() - 1)
    assert last[0][1]["text"] == str(EVENTS_KEPT + 1499)


def test_another_writer_is_undone_and_our_writes_replayed(tmp_path):
    store = Store(tmp_path / "researcher.db")
    ledger = Ledger(store)
    ledger.record(finished("t0001", TrialStatus.KEEP, 0.5), "finished")
    snap = store.snapshot()
    ledger.record(finished("t0002", TrialStatus.DISCARD, 0.4), "finished")   # the controller, meanwhile
    forger = sqlite3.connect(tmp_path / "researcher.db")
    forger.execute("UPDATE trials SET metric=0.999 WHERE id='t0001'")
    forger.commit()
    forger.close()
    assert store.tampered(snap)
    store.restore(snap)
    assert ledger.get("t0001").metric == 0.5 and ledger.get("t0002").metric == 0.4


def test_an_untouched_store_is_left_alone(tmp_path):
    store = Store(tmp_path / "researcher.db")
    snap = store.snapshot()
    Ledger(store).record(Trial(id="t0001", cycle=1), "planned")
    assert not store.tampered(snap)


def test_a_project_from_the_previous_version_is_migrated_losing_nothing(tmp_path):
    ws = tmp_path / "workspace"
    ws.mkdir()
    (tmp_path / "config.yaml").write_text("project: {name: old}\n")
    lines = [
        {"id": "t0001", "cycle": 1, "status": "pending", "event": "planned"},
        {"id": "t0001", "cycle": 1, "status": "running", "pid": 41, "event": "launched"},
        {"id": "t0001", "cycle": 1, "status": "keep", "metric": 0.8, "params": {"lr": 0.1}, "event": "finished",
         "tool_calls": [{"tool": "write_file", "ok": True}], "dry_run": {"ok": True, "output": "fine"}},
        {"id": "t0002", "cycle": 2, "status": "running", "pid": 42, "event": "launched"},
    ]
    (ws / "trials.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"id": "t0003", "cyc')
    (ws / "state.json").write_text(json.dumps({"cycle": 2, "next_trial": 3, "best_trial": "t0001",
                                               "running": {"t0002": {"host": "local", "run_dir": "runs/t0002",
                                                                     "pid": 42}}}))
    (ws / "events.jsonl").write_text(json.dumps({"type": "notice", "level": "info", "text": "old", "ts": 1.0}) + "\n")
    project = Project(tmp_path, load_config(tmp_path / "config.yaml"))
    assert project.notices and "2 trial(s), 1 event(s)" in project.notices[0]
    assert project.ledger.get("t0001").metric == 0.8 and project.ledger.launch_count("t0001") == 1
    assert project.ledger.with_calls("t0001").tool_calls == [{"tool": "write_file", "ok": True}]
    assert project.state.next_trial == 3 and project.state.running["t0002"].pid == 42
    assert (ws / "trials.jsonl.migrated").exists() and not (ws / "trials.jsonl").exists()
    again = Project(tmp_path, load_config(tmp_path / "config.yaml"))     # a second start migrates nothing
    assert again.notices == [] and len(again.ledger) == 2


def test_a_torn_ledger_line_and_a_torn_state_are_said_at_migration(tmp_path):
    ws = tmp_path / "workspace"
    ws.mkdir()
    (tmp_path / "config.yaml").write_text("project: {name: old}\n")
    (ws / "trials.jsonl").write_text(json.dumps({"id": "t0001", "cycle": 1, "status": "keep", "metric": 0.8,
                                                 "event": "finished"}) + "\n" + '{"id": "t0002", "cyc')
    (ws / "state.json").write_text('{"cycle": 1, "next_tr')
    project = Project(tmp_path, load_config(tmp_path / "config.yaml"))
    line = project.notices[0]
    assert "1 trial(s)" in line and "1 torn line(s) of trials.jsonl skipped" in line
    assert "state.json was unreadable" in line
    assert "t0002" in (ws / "trials.jsonl.migrated").read_text()        # the fragment is kept, never deleted


def test_paths_protect_the_store_files(tmp_path):
    (tmp_path / "config.yaml").write_text("{}\n")
    protected = ProjectPaths.of(tmp_path, load_config(tmp_path / "config.yaml")).protected()
    assert {"researcher.db", "researcher.db-wal", "researcher.db-shm"} <= set(protected)


def test_state_defaults_before_the_first_save(tmp_path):
    assert State.load(Store(tmp_path / "researcher.db")) == State()


def test_the_offline_planner_finds_untried_points_of_a_large_space_without_listing_it(tmp_path):
    """A 1,000,000-point space with its first 3,000 points tried: grid, random and neighbour choices stay untried."""
    import asyncio

    from tui_researcher.planner import OfflinePlanner, ThinkContext

    (tmp_path / "config.yaml").write_text(
        "search: {strategy: grid, command: 'python3 t.py {a} {b}', space: {a: %s, b: %s}}\n"
        % (list(range(1000)), list(range(1000))))
    config = load_config(tmp_path / "config.yaml")
    ledger = Ledger(Store(tmp_path / "researcher.db"))
    with ledger.store.transaction():
        for i in range(3000):
            ledger.record(finished(f"t{i + 1:04d}", TrialStatus.DISCARD, 0.1, a=i // 1000, b=i % 1000), "finished")
    planner = OfflinePlanner(config, ledger)

    def think(cycle, **changes):
        for key, value in changes.items():
            setattr(config.search, key, value)
        ctx = ThinkContext(cycle=cycle, brief="", memory="", directive="", pivot="", lineage="", running=[],
                           free_slots=1, goal="max", metric="val_acc")
        return asyncio.run(planner.think(ctx))

    assert think(1).params == {"a": 3, "b": 0}                     # the first untried point in grid order
    assert think(2).params == {"a": 3, "b": 0}                     # ... found again from the remembered cursor
    for cycle in range(3, 8):
        plan = think(cycle, strategy="random")
        assert params_key(plan.params) not in ledger.tried([plan.params]) and plan.action == "experiment"


async def test_best_neighbour_opens_with_random_probes_after_the_baseline(tmp_path):
    """search.random_probes random points after the baseline, then refinement of the best."""
    from tui_researcher.planner import OfflinePlanner, ThinkContext

    (tmp_path / "config.yaml").write_text(
        "search: {strategy: best_neighbour, exploration: 0, command: 'python3 t.py {a} {b}', "
        "space: {a: [1, 2, 3, 4, 5, 6], b: [1, 2, 3, 4, 5, 6]}, baseline: {a: 1, b: 1}}\n")
    config = load_config(tmp_path / "config.yaml")
    ledger = Ledger(Store(tmp_path / "researcher.db"))
    planner = OfflinePlanner(config, ledger)
    hypotheses = []
    for cycle in range(1, 6):
        plan = await planner.think(ThinkContext(cycle=cycle, brief="", memory="", directive="", pivot="", lineage="",
                                                running=[], free_slots=1, goal="max", metric="val_acc"))
        hypotheses.append(plan.hypothesis)
        ledger.record(finished(f"t{cycle:04d}", TrialStatus.KEEP if cycle == 1 else TrialStatus.DISCARD,
                               0.5 if cycle == 1 else 0.4, **plan.params), "finished")
        if cycle == 2:      # a seed re-run is not a probe
            ledger.record(finished("t0900", TrialStatus.SEED_RUN, 0.4, **plan.params), "finished")
    assert hypotheses[0].startswith("baseline configuration first")
    assert hypotheses[1:4] == [f"random probe {k} of 3 before refining the best" for k in (1, 2, 3)]
    assert hypotheses[4].startswith("refine the best (t0001)")


def test_a_memory_log_rewritten_while_trials_ran_unwatched_is_restored_from_the_store(tmp_path):
    """The sandbox's one gap (the controller's rename of MEMORY_LOG.md leaves the new file writable to a running
    trial) cannot carry a forgery past a crash: with trials running at the stop, the store's copy wins.
    Edited by hand with nothing running, the file is the user's and stays."""
    from tui_researcher.trial import RunningTrial

    (tmp_path / "config.yaml").write_text("project: {name: mem}\n")
    config = load_config(tmp_path / "config.yaml")
    project = Project(tmp_path, config)
    project.memory.add_decision("t0001 keep: the real lesson")
    project.memory.save()
    project.state.running["t0002"] = RunningTrial(id="t0002", host="local", run_dir="runs/t0002", pid=4242)
    project.save_state()
    project.close()
    memory = tmp_path / "workspace" / "MEMORY_LOG.md"
    memory.write_text(memory.read_text().replace("the real lesson", "FORGED: always keep t0002"))

    again = Project(tmp_path, config)
    assert "the real lesson" in memory.read_text() and "FORGED" not in memory.read_text()
    assert "FORGED" not in again.memory.render() and any("restored" in n for n in again.notices)
    again.state.running.clear()
    again.save_state()
    again.close()

    memory.write_text(memory.read_text() + "- my own note\n")
    third = Project(tmp_path, config)
    assert "my own note" in memory.read_text() and not any("restored" in n for n in third.notices)
    third.close()
