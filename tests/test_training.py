"""The training loop, its on_step hook, the decision grid, and the `demo` command."""

from __future__ import annotations

import gc
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from microgrboard import demo
from microgrboard.cli import main
from microgrboard.core import Value, no_grad
from microgrboard.datasets import Dataset, blobs, xor
from microgrboard.nn import MLP
from microgrboard.optim import SGD, Adam, LinearLR
from microgrboard.training import (
    StepRecord,
    batch_loss,
    decision_grid,
    evaluate,
    train_classifier,
)


@pytest.mark.slow  # 100 full-batch steps: about 10 s on an idle core
def test_demo_trains_moons_to_full_accuracy_and_saves_the_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []  # seeds moons_data was called with

    def counted_moons_data(seed: int = 1337) -> Dataset:
        built.append(seed)
        return moons_data(seed)

    moons_data = demo.moons_data
    monkeypatch.setattr(demo, "moons_data", counted_moons_data)
    # The CLI defaults: sgd, 100 steps, seed 1337 (micrograd's recipe).
    logdir = tmp_path / "runs"
    assert main(["demo", "--out", str(tmp_path / "pictures"), "--logdir", str(logdir)]) == 0
    assert built == [1337]  # the data set is built once, for the board and for training
    out = capsys.readouterr().out
    assert out.startswith("apple-tax: output = 220")  # the book example comes first
    assert "training accuracy 100/100" in out
    plot = tmp_path / "pictures" / "001" / "moons_sgd.png"  # each run gets a new folder
    assert f"saved to {plot}" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # ...and the run is on the board's store, with the command that opens it.
    assert out.rstrip().endswith(f"microgrboard board --logdir {logdir}")
    from microgrboard.board.store import StoreReader

    reader = StoreReader(logdir)
    (run,) = reader.runs()
    assert run["name"] == "moons-sgd"
    scalars = reader.scalars("moons-sgd")
    assert len(scalars["loss"]["steps"]) == 100
    assert scalars["accuracy"]["values"][-1] == 1.0
    assert reader.graphs("moons-sgd") and reader.payload_steps("boundary", "moons-sgd")


def test_demo_examples_only_and_bad_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--examples-only", "--out", str(tmp_path), "--logdir", "x"]) == 0
    assert "Training" not in capsys.readouterr().out
    (folder,) = tmp_path.iterdir()  # the book's pictures and player, no training plot
    assert folder.name == "001" and not list(folder.glob("moons_*"))
    assert main(["demo", "--optimizer", "lbfgs", "--out", str(tmp_path)]) == 2
    assert "unknown optimizer 'lbfgs'" in capsys.readouterr().err
    assert main(["demo", "--steps", "0", "--out", str(tmp_path)]) == 2


def test_demo_without_its_extra_says_how_to_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)  # None in sys.modules: import fails
    logdir = tmp_path / "runs"
    assert main(["demo", "--out", str(tmp_path / "out"), "--logdir", str(logdir)]) == 2
    captured = capsys.readouterr()
    assert "pip install 'microgrboard[demo]'" in captured.err and "tqdm" in captured.err
    assert "Training" not in captured.out
    assert not logdir.exists() and not (tmp_path / "out").exists()  # nothing trained or logged
    # The examples alone need neither.
    assert main(["demo", "--examples-only", "--out", str(tmp_path), "--logdir", "x"]) == 0


def test_train_moons_uses_the_data_it_is_given() -> None:
    data = demo.moons_data(seed=3)
    model, used, history = demo.train_moons("adam", steps=2, seed=3, progress=False,
                                            data=data)
    assert used is data
    assert len(history.loss) == 2 and len(model.parameters()) == 337  # 2·16+16 + 16·16+16 + 17


def test_on_step_sees_every_step_before_its_update() -> None:
    data = xor(20, seed=0)
    model = MLP(2, [4, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.5, schedule=LinearLR(1.0, 0.5, total_iters=4))
    records: list[StepRecord] = []
    snapshots = []

    def watch(record: StepRecord) -> None:
        records.append(record)
        # Gradients are in place and the parameters not yet moved:
        params = record.model.parameters()
        snapshots.append(([p.data for p in params], [p.grad for p in params]))
        assert record.loss_node.data == record.loss

    history = train_classifier(model, data.X, data.y, opt, steps=4, on_step=watch)
    assert [r.step for r in records] == [0, 1, 2, 3]
    assert [r.lr for r in records] == pytest.approx([0.5, 0.4375, 0.375, 0.3125])
    assert history.lr == [r.lr for r in records]
    assert history.loss == [r.loss for r in records]
    assert all(r.batch_size == 20 and r.optimizer is opt for r in records)
    # The next step's parameters are this step's, moved by -lr·grad (plain SGD).
    for (before, grads), (after, _), lr in zip(snapshots, snapshots[1:], history.lr):
        assert after == pytest.approx([b - lr * g for b, g in zip(before, grads)])
    assert any(g != 0 for g in snapshots[0][1])
    assert gc.isenabled()  # the collector pause is undone


def test_training_lowers_the_loss_and_reports_the_final_state() -> None:
    data = xor(40, seed=1)
    model = MLP(2, [8, 1], seed=1)
    history = train_classifier(model, data.X, data.y, Adam(model.parameters(), lr=0.05),
                               steps=40, loss="bce")
    assert history.loss[-1] < 0.6 * history.loss[0]
    # The final scores, recomputed from the trained model's raw outputs with the
    # textbook formulas: BCE = mean(log(1 + e^-z) for class 1, log(1 + e^z) for class 0).
    with no_grad():
        scores = [model(x).data for x in data.X]  # type: ignore[union-attr]
    bce = sum(math.log1p(math.exp(-z if t == 1 else z))
              for z, t in zip(scores, data.y, strict=True)) / len(scores)
    l2 = 1e-4 * sum(p.data ** 2 for p in model.parameters())
    hits = sum((z > 0) == (t == 1) for z, t in zip(scores, data.y, strict=True))
    assert history.final_loss == pytest.approx(bce + l2, rel=1e-12)
    assert history.final_accuracy == hits / len(scores)
    assert evaluate(model, data.X, data.y, loss="bce") == pytest.approx(
        (bce + l2, hits / len(scores)), rel=1e-12
    )
    assert history.final_accuracy >= 0.9


def test_mini_batches_and_multiclass_cross_entropy() -> None:
    data = blobs(30, centers=[(-2.0, 0.0), (2.0, 0.0), (0.0, 3.0)], std=0.3, seed=2)
    model = MLP(2, [8, 3], seed=2)
    sizes = []
    history = train_classifier(
        model, data.X, data.y, Adam(model.parameters(), lr=0.05), steps=12,
        loss="cross_entropy", batch_size=8, seed=0, on_step=lambda r: sizes.append(r.batch_size),
    )
    assert sizes == [8, 8, 8, 6] * 3  # shuffled epochs of 30 points, last batch short
    assert history.final_accuracy == 1.0


def test_batch_loss_hinge_matches_micrograds_formula() -> None:
    class Fixed:  # a "model" whose score is x0 - x1
        def __call__(self, x: Sequence[float]) -> Value:
            return Value(x[0]) - x[1]

        def parameters(self) -> list[Value]:
            return []

    X = [(2.0, 0.0), (0.0, 0.5), (1.0, 0.25)]
    loss, accuracy = batch_loss(Fixed(), X, [1, 0, 0], loss="hinge", l2=0.0)
    # scores 2, -0.5, 0.75 with labels +1, -1, -1: relu(1-2) + relu(1-0.5) + relu(1+0.75)
    assert loss.data == pytest.approx((0 + 0.5 + 1.75) / 3)
    assert accuracy == pytest.approx(2 / 3)
    # -1/+1 labels are read the same way as 0/1
    assert batch_loss(Fixed(), X, [1, -1, -1], l2=0.0)[0].data == loss.data


def test_bad_training_arguments() -> None:
    model = MLP(2, [1], seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="binary labels"):
        train_classifier(model, [(0.0, 0.0)], [2], opt, 1)
    with pytest.raises(ValueError, match="must match"):
        train_classifier(model, [(0.0, 0.0)], [0, 1], opt, 1)
    with pytest.raises(ValueError, match="steps"):
        train_classifier(model, [(0.0, 0.0)], [0], opt, -1)
    with pytest.raises(ValueError, match="one output per class"):
        train_classifier(model, [(0.0, 0.0)], [0], opt, 1, loss="cross_entropy")


def test_decision_grid_scores_the_model_over_the_data() -> None:
    class Diagonal:
        def __call__(self, x: Sequence[float]) -> Value:
            return Value(x[0]) - x[1]

    grid = decision_grid(Diagonal(), [(0.0, 0.0), (2.0, 1.0)], resolution=5, margin=0.5)
    assert grid.xs == pytest.approx([-0.5, 0.25, 1.0, 1.75, 2.5])
    assert grid.ys == pytest.approx([-0.5, 0.0, 0.5, 1.0, 1.5])
    assert grid.scores[1][3] == pytest.approx(1.75 - 0.0)  # row = y index, column = x index
    assert not grid.multiclass

    model = MLP(2, [4, 3], seed=0)
    classes = decision_grid(model, [(0.0, 0.0), (1.0, 1.0)], resolution=3)
    assert classes.multiclass
    assert {v for row in classes.scores for v in row} <= {0.0, 1.0, 2.0}
    assert all(p.grad == 0.0 for p in model.parameters())


def test_an_unknown_loss_is_named_before_the_labels_are_judged() -> None:
    from microgrboard.nn import MLP
    from microgrboard.optim import SGD

    model = MLP(2, [3], seed=0)
    with pytest.raises(ValueError, match="loss must be one of"):
        train_classifier(model, [(0.0, 1.0)], [2], SGD(model.parameters(), lr=0.1), 1,
                         loss="xent")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        train_classifier(model, [(0.0, 1.0)], [2], SGD(model.parameters(), lr=0.1), 1,
                         loss="cross_entropy", batch_size=True)


# --- ten classes, epochs, progress ------------------------------------------------------


@pytest.fixture(scope="module")
def small_digits() -> tuple[Dataset, Dataset]:
    from microgrboard.datasets import digits

    train, test = digits(seed=0)
    return Dataset(train.X[:150], train.y[:150]), Dataset(test.X[:60], test.y[:60])


def argmax_accuracy(model: MLP, X: Sequence[Sequence[float]], y: Sequence[int]) -> float:
    with no_grad():
        rows = [[v.data for v in model(x)] for x in X]  # type: ignore[union-attr]
    return sum(row.index(max(row)) == k for row, k in zip(rows, y, strict=True)) / len(y)


def test_ten_digit_classes_with_per_epoch_train_and_test_accuracy(
    small_digits: tuple[Dataset, Dataset], capsys: pytest.CaptureFixture[str]
) -> None:
    from microgrboard.training import EpochRecord, steps_per_epoch

    train, test = small_digits
    model = MLP(64, [12, 10], init="he", seed=0)
    seen: list[EpochRecord] = []
    per_epoch = steps_per_epoch(len(train.X), 25)
    assert per_epoch == 6
    history = train_classifier(
        model, train.X, train.y, Adam(model.parameters(), lr=0.02), steps=3 * per_epoch + 2,
        loss="cross_entropy", batch_size=25, seed=0, test=test, on_epoch=seen.append,
    )
    assert capsys.readouterr().err == ""  # quiet unless asked
    assert [e.epoch for e in history.epochs] == [1, 2, 3]  # the 2 extra steps are no epoch
    assert [e.step for e in history.epochs] == [5, 11, 17]
    assert seen == history.epochs
    assert history.test_accuracy == [e.test_accuracy for e in seen]
    # Learned something: far above chance (10 %) on images it never trained on.
    assert history.test_accuracy[-1] > 0.5
    assert history.train_accuracy[-1] > 0.6
    # The final scores, recomputed independently from the trained model's outputs.
    assert history.final_accuracy == argmax_accuracy(model, train.X, train.y)


def test_epoch_scores_are_the_models_scores_at_that_moment(
    small_digits: tuple[Dataset, Dataset],
) -> None:
    train, test = small_digits
    model = MLP(64, [8, 10], seed=1)
    at_epoch_end: list[tuple[float, float]] = []

    def score(record: object) -> None:
        at_epoch_end.append((argmax_accuracy(model, train.X, train.y),
                             argmax_accuracy(model, test.X, test.y)))

    history = train_classifier(model, train.X, train.y, Adam(model.parameters(), lr=0.02),
                               steps=2, loss="cross_entropy", batch_size=None, test=test,
                               on_epoch=score)
    assert [(e.train_accuracy, e.test_accuracy) for e in history.epochs] == at_epoch_end


def test_progress_bar_when_asked(
    small_digits: tuple[Dataset, Dataset], capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = small_digits
    model = MLP(64, [4, 10], seed=0)
    train_classifier(model, train.X[:20], train.y[:20], Adam(model.parameters(), lr=0.01),
                     steps=2, loss="cross_entropy", test=(test.X[:5], test.y[:5]),
                     progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "epoch 2: train accuracy" in err


def test_progress_without_tqdm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    model = MLP(2, [2, 3], seed=0)
    with pytest.raises(ImportError, match=r"microgrboard\[demo\]"):
        train_classifier(model, [(0.0, 1.0)], [2], SGD(model.parameters(), lr=0.1), 1,
                         loss="cross_entropy", progress=True)


def test_ten_class_bad_input_is_caught_before_training(
    small_digits: tuple[Dataset, Dataset],
) -> None:
    train, test = small_digits
    model = MLP(64, [4, 10], seed=0)
    before = [p.data for p in model.parameters()]
    opt = Adam(model.parameters(), lr=0.1)

    def fit(X: list[tuple[float, ...]], y: list[int], **kw: object) -> None:
        train_classifier(model, X, y, opt, 5, loss="cross_entropy", batch_size=4, **kw)  # type: ignore[arg-type]

    labels = list(train.y[:20])
    labels[13] = 10  # a label outside 0-9, deep in a later batch
    with pytest.raises(ValueError, match=r"y\[13\] = 10 is not a class .* 10 outputs.*0\.\.9"):
        fit(train.X[:20], labels)
    points = list(train.X[:20])
    points[7] = points[7][:63]  # one image a pixel short
    with pytest.raises(ValueError, match=r"X\[7\] has 63 numbers but X\[0\] has 64"):
        fit(points, train.y[:20])
    with pytest.raises(ValueError, match="expected 64 inputs, got 63"):
        fit([x[:63] for x in train.X[:20]], train.y[:20])  # all short: the model says so
    with pytest.raises(ValueError, match=r"y\[5\] = -1: cross_entropy labels must be class"):
        fit(train.X[:20], [*train.y[:5], -1, *train.y[6:20]])
    with pytest.raises(ValueError, match=r"y_test\[2\] = -1: cross_entropy labels"):
        fit(train.X[:20], train.y[:20], test=(test.X[:3], [0, 1, -1]))
    with pytest.raises(ValueError, match=r"y_test\[1\] = 12 is not a class"):
        fit(train.X[:20], train.y[:20], test=(test.X[:3], [0, 12, 1]))
    with pytest.raises(ValueError, match=r"X_test\[0\] has 2 numbers"):
        fit(train.X[:20], train.y[:20], test=([(0.0, 1.0)], [1]))
    with pytest.raises(ValueError, match="test must be a pair"):
        fit(train.X[:20], train.y[:20], test=test.X)
    assert [p.data for p in model.parameters()] == before  # nothing trained


def test_train_digits_recipe_on_a_subset(small_digits: tuple[Dataset, Dataset]) -> None:
    from microgrboard.training import train_digits

    model, history = train_digits(epochs=8, hidden=16, data=small_digits)
    assert model.nouts == [16, 10] and model.init == "he"
    assert len(history.epochs) == 8 and len(history.loss) == 8 * 10  # 150 images / 16
    assert history.test_accuracy[-1] > 0.75  # 60 test images never trained on; chance is 10 %
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        train_digits(epochs=0, data=small_digits)
    for batch_size in (0, -5, True):
        with pytest.raises(ValueError, match=rf"batch_size must be a positive int or None, "
                                             rf"got {batch_size!r}"):
            train_digits(epochs=1, batch_size=batch_size, data=small_digits)
    with pytest.raises(TypeError, match="data must be .train, test."):
        train_digits(epochs=1, data=small_digits[0])  # type: ignore[arg-type]
    (train, test) = small_digits
    plain = ((list(train.X), list(train.y)), (list(test.X), list(test.y)))
    _, from_pairs = train_digits(epochs=1, hidden=16, data=plain)  # type: ignore[arg-type]
    _, from_datasets = train_digits(epochs=1, hidden=16, data=small_digits)
    assert from_pairs.test_accuracy == from_datasets.test_accuracy  # same data, same numbers


def test_cli_trains_on_digits_and_logs_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logdir = tmp_path / "runs"
    assert main(["train", "digits", "--epochs", "1", "--hidden", "8", "--quiet",
                 "--logdir", str(logdir)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # --quiet: no progress bar
    lines = captured.out.splitlines()
    assert lines[0].startswith("Training MLP(64, [8, 10]) on the digits")
    assert lines[1].startswith("epoch 1: train accuracy ")
    assert lines[2].startswith("test accuracy ") and "after 1 epoch " in lines[2]
    assert lines[-1].endswith(f"board --logdir {logdir}")
    from microgrboard.board.store import StoreReader

    reader = StoreReader(logdir)
    (run,) = reader.runs()
    scalars = reader.scalars(run["name"])
    accuracy = scalars["test_accuracy"]["values"]
    assert len(accuracy) == 1 and f"{accuracy[0]:.1%}" in lines[2]
    assert len(scalars["loss"]["steps"]) == 90  # 1437 images in batches of 16


def test_cli_train_bad_flags_and_missing_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train", "digits", "--epochs", "0"])
    assert exit_.value.code == 2
    assert "--epochs: must be positive, got 0" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "sklearn", None)
    assert main(["train", "digits", "--logdir", str(tmp_path / "runs")]) == 2
    assert "pip install 'microgrboard[data]'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
