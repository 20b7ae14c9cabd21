"""Two-tier memory: constant size however long the loop runs."""

from __future__ import annotations

import random
from pathlib import Path

from tui_researcher.config import MemoryConfig
from tui_researcher.memory import Memory, load_brief


def test_ten_thousand_cycles_of_random_entries_never_exceed_the_caps(tmp_path: Path):
    cfg = MemoryConfig()
    memory = Memory.load(tmp_path / "MEMORY_LOG.md", cfg)
    rng = random.Random(7)
    for cycle in range(10_000):
        size = rng.choice([1, 20, 150, 900, 5000])
        lines = rng.randint(1, 6)
        text = "\n".join("x" * (size // lines) + f" c{cycle}" for _ in range(lines))
        (memory.add_result if rng.random() < 0.3 else memory.add_decision)(text)
        rendered = memory.render()
        assert len(rendered) <= cfg.log_max_chars
        assert len(memory._section(memory.results, memory.compacted)) <= cfg.milestone_max_chars or len(memory.results) == 1
        assert len(memory.decisions) <= cfg.max_recent_entries
        if cycle % 500 == 0:
            memory.save()
            assert len((tmp_path / "MEMORY_LOG.md").read_text()) <= cfg.log_max_chars
    assert memory.decisions and memory.results and memory.compacted > 0


def _assert_whole(text: str, memory: Memory, newest: str) -> None:
    """The file's text parses back to the same entries, is under the cap, and holds the newest decision."""
    assert text.endswith("\n") and len(text) <= memory.cfg.log_max_chars
    assert text.startswith("# Memory Log\n\n## Key Results\n") and "\n## Recent Decisions\n" in text
    again = Memory(memory.path, memory.cfg)
    again._parse(text)
    assert (again.results, again.decisions) == (memory.results, memory.decisions)
    assert memory.decisions[-1] == newest and f"- {newest.splitlines()[0]}" in text


def test_ten_thousand_cycles_keep_the_newest_decision_and_a_whole_file(tmp_path: Path):
    """The cap evicts old decisions and compacts old results; it never cuts the file's tail."""
    for cfg in (MemoryConfig(), MemoryConfig(log_max_chars=400, milestone_max_chars=150, max_recent_entries=50)):
        path = tmp_path / f"MEMORY_{cfg.log_max_chars}.md"
        memory = Memory.load(path, cfg)
        rng = random.Random(11)
        newest = ""
        for cycle in range(10_000):
            words = rng.choice([1, 3, 30, 200, 600])
            text = " ".join(f"w{cycle}-{i}" for i in range(words))
            if rng.random() < 0.4:
                memory.add_result(text)
            else:
                memory.add_decision(text)
                newest = memory.decisions[-1]
                assert newest.startswith(f"w{cycle}-0")
            text = memory.save() if cycle % 500 == 0 else memory.render()
            _assert_whole(text, memory, newest)
        assert memory.save() == path.read_text()
        assert memory.compacted > 0 and len(memory.decisions) > 1


def test_small_cap_shortens_the_newest_decision_rather_than_losing_it(tmp_path: Path):
    cfg = MemoryConfig(log_max_chars=120, milestone_max_chars=60, max_recent_entries=5)
    memory = Memory.load(tmp_path / "m.md", cfg)
    for i in range(30):
        memory.add_result(f"t{i:04d} keep val_acc=0.{i:02d}")
        memory.add_decision(f"decision {i}: " + "because " * 20)
        assert memory.decisions[-1].startswith(f"decision {i}:")
        _assert_whole(memory.save(), memory, memory.decisions[-1])


def test_multiline_entries_survive_a_rewrite(tmp_path: Path):
    path = tmp_path / "MEMORY_LOG.md"
    memory = Memory.load(path, MemoryConfig())
    memory.add_result("t0003: val_acc=0.91\n  with lr=0.1\n## not a heading")
    memory.add_decision("keep t0003\nbecause: wider net helped\n- not a new entry")
    memory.save()
    again = Memory.load(path, MemoryConfig())
    assert again.results == ["t0003: val_acc=0.91\n  with lr=0.1\n## not a heading"]
    assert again.decisions == ["keep t0003\nbecause: wider net helped\n- not a new entry"]
    again.save()
    assert path.read_text() == memory.render()


def test_oversize_entry_is_truncated_not_dropped(tmp_path: Path):
    memory = Memory.load(tmp_path / "m.md", MemoryConfig())
    memory.add_decision("y" * 10_000)
    assert len(memory.decisions[0]) <= memory.entry_max_chars and memory.decisions[0].endswith("…")


def test_tiny_cap_is_still_never_exceeded(tmp_path: Path):
    cfg = MemoryConfig(log_max_chars=60, milestone_max_chars=30, max_recent_entries=3)
    memory = Memory.load(tmp_path / "m.md", cfg)
    for i in range(50):
        memory.add_result(f"result {i} " * 5)
        memory.add_decision(f"decision {i} " * 5)
        assert len(memory.render()) <= 60


def test_long_brief_is_cut_with_a_warning(tmp_path: Path):
    brief = tmp_path / "PROJECT_BRIEF.md"
    brief.write_text("b" * 5000)
    text, warning = load_brief(brief, 3000)
    assert len(text) == 3000 and "5,000 chars" in warning
    brief.write_text("short")
    assert load_brief(brief, 3000) == ("short", "")
