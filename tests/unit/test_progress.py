"""Progress, ETA and curve read from real-world log formats (tqdm, Lightning, HF Trainer, plain)."""

from __future__ import annotations

import pytest

from tui_researcher.progress import Progress, ProgressReader, metric_points, read_curve, totals_from_command

HF_TRAINER = """\
***** Running training *****
  Num examples = 4000
  Num Epochs = 3
{'loss': 0.6931, 'grad_norm': 1.234, 'learning_rate': 4.8e-05, 'epoch': 0.12}
 12%|█▏        | 60/500 [00:31<03:50,  1.91it/s]
"""

LIGHTNING_TQDM = ("Epoch 2: 100%|██████████| 938/938 [00:11<00:00, 82.10it/s, v_num=0, train_loss=0.401]\n"
                  "Epoch 3:  45%|████▌     | 422/938 [00:05<00:06, 82.10it/s, v_num=0, train_loss=0.312]\r"
                  "Epoch 3:  50%|█████     | 469/938 [00:05<00:05, 82.10it/s, v_num=0, train_loss=0.305]")

LIGHTNING_RICH = ("Epoch 3/9  ━━━━━━━━━━━━━╸━━━━━━━━━━━━━━ 469/938 0:00:05 • 0:00:06 82.10it/s v_num: 0 "
                  "train_loss: 0.305\n")

PLAIN = "starting\nepoch=11 loss=0.52 val_acc=0.81\nepoch=12 loss=0.41 val_acc=0.84\n"


def test_hugging_face_trainer_bar_is_the_whole_run_with_its_own_eta():
    reader = ProgressReader.for_trial("eval_accuracy", "python run.py --num_train_epochs 3")
    reader.feed(HF_TRAINER)
    assert reader.progress(elapsed_s=31) == Progress(60, 500, "step", 230)
    assert reader.points == [(None, None, 0.6931)]   # the loss came before the first bar


def test_an_evaluation_bar_in_between_does_not_move_the_runs_progress():
    reader = ProgressReader.for_trial("eval_accuracy", "python run.py")
    reader.feed(HF_TRAINER + " 40%|████      | 25/63 [00:02<00:03, 12.1it/s]\n"
                "{'eval_loss': 0.41, 'eval_accuracy': 0.83, 'epoch': 0.5}\n"
                " 13%|█▎        | 65/500 [00:34<03:48,  1.91it/s]\n")
    assert reader.progress() == Progress(65, 500, "step", 228)
    assert reader.points[-1] == (60.0, 0.83, 0.41)   # the evaluation, at the run's step 60


def test_lightning_tqdm_counts_epochs_from_zero_plus_the_epochs_batches():
    reader = ProgressReader.for_trial("val_loss", "python train.py trainer.max_epochs=10")
    reader.feed(LIGHTNING_TQDM)
    where = reader.progress(elapsed_s=35)
    assert where.unit == "epoch" and where.current == pytest.approx(3.5) and where.total == 10
    assert where.eta_s == pytest.approx(35 * 6.5 / 3.5)
    assert [p[2] for p in reader.points] == [0.401, 0.312, 0.305]


def test_lightning_rich_bar_numbers_its_last_epoch():
    reader = ProgressReader.for_trial("val_loss", "python train.py")
    reader.feed(LIGHTNING_RICH)
    where = reader.progress()
    assert where.current == pytest.approx(3.5) and where.total == 10 and where.unit == "epoch"


def test_plain_epoch_total_from_the_command_and_eta_from_the_pace():
    reader = ProgressReader.for_trial("val_acc", "python train.py --epochs 40 --lr 0.1")
    reader.feed(PLAIN)
    where = reader.progress(elapsed_s=12.0)
    assert where == Progress(12, 40, "epoch", 28.0)
    assert where.text() == "progress=12/40 eta=0:28"
    assert reader.points == [(11, 0.81, 0.52), (12, 0.84, 0.41)]


@pytest.mark.parametrize("line, expected", [
    ("Epoch 12/40 loss 0.3", (12, 40)),
    ("Epoch [3/10], Step [100/600], Loss: 0.2", (3, 10)),
    ("epoch 3 of 10", (3, 10)),
    ("epoch: 7", (7, None)),
])
def test_epoch_forms(line, expected):
    reader = ProgressReader.for_trial("val_acc", "python t.py")
    reader.feed(line)
    where = reader.progress()
    assert (where.current, where.total) == expected and where.unit == "epoch"


def test_step_counter_and_previous_runs_total():
    reader = ProgressReader.for_trial("val_acc", "python t.py")
    reader.feed("step 120/4000 loss=1.2\n")
    assert reader.progress() == Progress(120, 4000, "step", None)
    bare = ProgressReader.for_trial("val_acc", "python t.py")
    bare.feed("step=30 loss=0.1\n")
    assert bare.progress(previous_total=60, elapsed_s=30).text() == "progress=30/60 eta=0:30"


def test_custom_pattern_wins():
    reader = ProgressReader.for_trial("val_acc", "python t.py --epochs 5",
                                      pattern=r"round (?P<current>\d+) of (?P<total>\d+)")
    reader.feed("epoch=1\nround 7 of 20 done\n")
    assert reader.progress() == Progress(7, 20, "step", None)


def test_totals_from_command_arguments():
    assert totals_from_command("python t.py --num_train_epochs 3 --warmup_steps 50") == {"epoch": 3}
    assert totals_from_command("python t.py --max-steps=500 --steps_per_epoch 9") == {"step": 500}
    assert totals_from_command("python t.py trainer.max_epochs=40") == {"epoch": 40}
    assert totals_from_command("python t.py --seconds 60") == {}


def test_nonfinite_loss_is_seen_with_where():
    reader = ProgressReader.for_trial("val_acc", "python t.py")
    reader.feed("epoch=1 loss=0.9\nepoch=2 loss: nan\n")
    assert reader.nonfinite == "loss became nan at epoch 2"
    reader.feed("epoch=3 loss=inf\n")
    assert reader.nonfinite == "loss became nan at epoch 2"   # the first one stays


def test_metric_seen_as_nan_in_a_hugging_face_dict():
    reader = ProgressReader.for_trial("eval_loss", "python t.py")
    reader.feed("{'eval_loss': nan, 'epoch': 1.0}\n")
    assert reader.nonfinite.startswith("eval_loss became nan")


def test_curve_kept_whole_and_bounded():
    text = "".join(f"epoch={i} loss={1 / i:.4f} val_acc={i / 1000:.4f}\n" for i in range(1, 1001))
    curve = read_curve(text, "val_acc", "python t.py --epochs 1000")
    assert curve["unit"] == "epoch" and curve["total"] == 1000
    points = metric_points(curve)
    assert 32 <= len(points) <= 64 and points[0] == (1, 0.001) and points[-1] == (1000, 1.0)
    assert points == sorted(points)
    assert read_curve("hello\n", "val_acc", "python t.py") == {}


def test_progress_round_trips_as_json():
    where = Progress(3.5, 10, "epoch", 12.0)
    assert Progress.from_dict(where.to_dict()) == where
    assert Progress.from_dict(None) is None
