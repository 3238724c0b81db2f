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
    plot = tmp_path / "pictures" / "moons_sgd.png"
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
    assert not list(tmp_path.iterdir())
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
