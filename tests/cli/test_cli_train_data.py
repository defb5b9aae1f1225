"""``fastreg train`` on all the training rows (--val-fraction 0) and on the user's own files
(--data FILE), and the quick start of ``fastreg --help`` / ``--version``."""

import json
import subprocess
import sys

import numpy as np
import pytest

from fastreg import cli


def train(tmp_path, *args, name="run"):
    out = tmp_path / name
    status = cli.main(["train", "--no-progress", "--out", str(out), *args])
    return status, out


def blobs_npz(path, k=3, d=20, n=600, test=True, seed=0):
    rng = np.random.default_rng(seed)

    def part(m):
        y = rng.integers(0, k, m)
        return (rng.normal(size=(m, d)) + 3.0 * np.eye(k, d)[y]).astype(np.float32), y

    X, y = part(n)
    arrays = {"X": X, "y": y}
    if test:
        arrays["X_test"], arrays["y_test"] = part(n // 4)
    np.savez(path, **arrays)
    return arrays


# --------------------------------------------------------------------------- --val-fraction 0
def test_val_fraction_0_needs_no_early_stopping(tmp_path, capsys):
    status, out = train(tmp_path, "--val-fraction", "0")
    assert status == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--val-fraction 0 leaves no validation set" in err and "--no-early-stopping" in err
    assert not out.exists()


@pytest.mark.real_data
def test_val_fraction_0_trains_on_every_training_image(mnist, tmp_path, capsys):
    status, out = train(
        tmp_path, "--val-fraction", "0", "--no-early-stopping", "--epochs", "2", "--no-plots"
    )
    assert status == cli.EXIT_OK, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    twos_and_threes = int(np.isin(mnist.y_train, (2, 3)).sum())
    assert metrics["n_train"] == twos_and_threes and metrics["n_validation"] == 0
    assert metrics["validation"] is None and metrics["test"]["accuracy"] > 0.95
    text = capsys.readouterr().out
    assert f"{twos_and_threes} train / no validation" in text
    assert "validation         -          -  (--val-fraction 0)" in text


@pytest.mark.real_data
def test_softmax_on_all_60000_images(mnist, tmp_path, capsys):
    args = ["--task", "softmax", "--val-fraction", "0", "--no-early-stopping", "--epochs", "1"]
    status, out = train(tmp_path, *args, "--no-plots")
    assert status == cli.EXIT_OK, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_train"] == 60000 and metrics["test"]["accuracy"] > 0.85


# --------------------------------------------------------------------------- --data FILE
def test_npz_with_a_test_set(tmp_path, capsys):
    arrays = blobs_npz(tmp_path / "blobs.npz")
    status, out = train(tmp_path, "--data", str(tmp_path / "blobs.npz"), "--epochs", "3")
    assert status == cli.EXIT_OK, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "softmax"  # three classes: chosen from the labels
    assert metrics["data"]["kind"] == "npz" and metrics["dataset"] is None
    assert metrics["class_names"] == ["0", "1", "2"]
    assert metrics["n_test"] == len(arrays["y_test"]) and metrics["test"]["accuracy"] > 0.9
    assert metrics["n_train"] + metrics["n_validation"] == 600
    assert np.array(metrics["test_confusion_matrix"]).sum() == len(arrays["y_test"])
    names = set((out).iterdir())
    assert {p.name for p in names} >= {"loss.png", "accuracy.png", "report.html"}
    assert not (out / "weights.png").exists()  # rows are not images unless --image-shape
    from fastreg import load

    model = load(out / "model.npz")
    assert model.input_scale in (None, 1.0)  # a file's values are used as they are


def test_image_shape_draws_the_weights(tmp_path, capsys):
    blobs_npz(tmp_path / "blobs.npz")
    status, out = train(
        tmp_path, "--data", str(tmp_path / "blobs.npz"), "--epochs", "1", "--image-shape", "4", "5"
    )
    assert status == cli.EXIT_OK, capsys.readouterr().err
    assert (out / "weights.png").is_file()
    assert json.loads((out / "metrics.json").read_text())["image_shape"] == [4, 5]
    status, out = train(
        tmp_path, "--data", str(tmp_path / "blobs.npz"), "--image-shape", "3", "5", name="bad"
    )
    assert status == cli.EXIT_USAGE and not out.exists()
    assert "20" in capsys.readouterr().err


def test_csv_with_text_labels_and_no_test_set(tmp_path, capsys):
    rng = np.random.default_rng(1)
    lines = ["height,width,kind"]
    for _ in range(300):
        kind = rng.choice(["cat", "dog"])
        base = 1.0 if kind == "cat" else -1.0
        lines.append(f"{base + rng.normal():.4f},{rng.normal():.4f},{kind}")
    path = tmp_path / "pets.csv"
    path.write_text("\n".join(lines) + "\n")
    status, out = train(tmp_path, "--data", str(path), "--target", "kind", "--epochs", "3")
    assert status == cli.EXIT_OK, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "binary" and metrics["class_names"] == ["cat", "dog"]
    assert metrics["test"] is None and metrics["test_confusion_matrix"] is None
    assert metrics["validation"]["accuracy"] > 0.7
    assert "(the data has no test set)" in capsys.readouterr().out


def test_data_refusals(tmp_path, capsys):
    blobs_npz(tmp_path / "blobs.npz")
    data = ["--data", str(tmp_path / "blobs.npz")]
    status, _ = train(tmp_path, *data, "--dataset", "mnist")
    assert status == cli.EXIT_USAGE
    assert "--dataset applies to the built-in data sets" in capsys.readouterr().err
    status, _ = train(tmp_path, *data, "--task", "binary")
    assert status == cli.EXIT_USAGE
    assert "--task binary needs two classes" in capsys.readouterr().err
    status, out = train(tmp_path, "--data", str(tmp_path / "missing.npz"))
    assert status == cli.EXIT_FAILURE and not out.exists()
    assert "missing.npz" in capsys.readouterr().err


# --------------------------------------------------------------------------- quick start
@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_help_and_version_import_neither_numpy_nor_sklearn(argv):
    """What makes them quick (benchmarks/bench_cli_startup.py times them)."""
    code = (
        "import sys\nfrom fastreg.cli import main\nimport contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    status = main({argv!r})\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'sklearn', "
        "'matplotlib', 'scipy'})\n"
        "print(status, heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "0 []", proc.stderr


def test_help_defaults_read_from_the_source_equal_the_signature():
    """``train --help`` reads the estimators' defaults from their source (no scikit-learn
    import); they must be the defaults Python sees."""
    import inspect

    from fastreg import LogisticRegression, SoftmaxRegression
    from fastreg.cli.parser import estimator_defaults

    for cls in (LogisticRegression, SoftmaxRegression):
        signature = inspect.signature(cls.__init__).parameters.items()
        assert estimator_defaults() == {n: p.default for n, p in signature if n != "self"}
