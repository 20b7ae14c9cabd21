"""The controller reads the metric; NaN, gates and goals are decided here."""

from __future__ import annotations

import math

from tui_researcher.config import MetricConfig
from tui_researcher.metrics import MetricReader, failure_label, parse_key_values
from tui_researcher.planner import render_argv


def test_key_value_lines_in_both_styles_last_value_wins():
    text = "epoch=1 loss=0.9 val_acc=0.5\nepoch: 2\nval_acc: 0.75\naccuracy=1e-1 lr=3e-4\n"
    found = parse_key_values(text)
    assert found["val_acc"] == 0.75 and found["epoch"] == 2 and found["lr"] == 3e-4 and found["accuracy"] == 0.1


def test_regex_pattern_and_json_file_sources():
    reader = MetricReader(MetricConfig(name="bleu", goal="max", pattern=r"BLEU = ([\d.]+)"))
    assert reader.read("BLEU = 20.1\nBLEU = 27.4, 58.3/33\n").value == 27.4
    reader = MetricReader(MetricConfig(name="acc", goal="max", json_key="eval.acc", file="results.json"))
    result = reader.read("", '{"eval": {"acc": 0.93}, "loss": 0.2}')
    assert result.value == 0.93 and result.source == "file" and result.metrics["loss"] == 0.2


def test_nan_loss_or_metric_is_flagged():
    reader = MetricReader(MetricConfig(name="val_acc", goal="max"))
    assert "loss became nan" in reader.read("epoch=1 loss=0.5\nloss: nan\nval_acc=0.3\n").nonfinite
    assert reader.read("val_acc=inf\n").nonfinite
    assert reader.read("val_acc=0.3 loss=0.2\n").nonfinite == ""


def test_goal_decides_better():
    assert MetricReader(MetricConfig(goal="min")).better(0.1, 0.2)
    assert not MetricReader(MetricConfig(goal="max")).better(0.1, 0.2)
    assert MetricReader(MetricConfig(goal="max")).better(0.1, None)
    assert not MetricReader(MetricConfig(goal="max")).better(math.nan, None)


def test_gates_name_what_was_missed():
    reader = MetricReader(MetricConfig(name="val_loss", goal="min", gates={"val_acc": ">= 0.96", "f1": 0.5}))
    result = reader.read("val_loss=0.1 val_acc=0.9\n")
    assert result.gate_failures == ["val_acc >= 0.96 missed (0.9)", "f1 >= 0.5 missed (absent)"]


def test_failure_label_is_the_tracebacks_last_line():
    log = "step 1\nTraceback (most recent call last):\n  File \"t.py\", line 3\n    x()\ntorch.OutOfMemoryError: CUDA out of memory\n"
    assert failure_label(log) == "torch.OutOfMemoryError: CUDA out of memory"
    assert failure_label("one\ntwo\n") == "two"


def test_rendered_command_values_never_become_shell_text():
    argv = render_argv("python train.py --lr {lr} --name run-{name}", {"lr": 0.1, "name": "x; rm -rf / #"})
    assert argv == ["python", "train.py", "--lr", "0.1", "--name", "run-x; rm -rf / #"]
