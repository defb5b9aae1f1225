"""The command line, end to end: ``fastreg train`` / ``fastreg evaluate`` and their failures.

Tests marked ``real_data`` train on the real MNIST (FASTREG_DATA, through the ``mnist``
fixture's skip/fail rule) for one or two epochs, then check the files written, reload
``model.npz`` and score it against what was printed and recorded. The others need no data:
argument errors, the output folder, the writers, missing data and missing matplotlib.
Nothing here downloads: every run that could passes ``--no-download``.
"""

import csv
import importlib.metadata
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastreg
from fastreg import cli
from fastreg.cli import report
from fastreg.datasets import binary_subset, flatten
from fastreg.metrics import accuracy, confusion_matrix, mean_cross_entropy, per_class_accuracy

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(*args, env=None, cwd=None, pre=""):
    """``python -m fastreg ARGS`` in a subprocess, with the fastreg this interpreter imports.

    ``pre`` is Python code run before the CLI (to block an import, say)."""
    full_env = dict(os.environ if env is None else env)
    if pre:
        cmd = [
            sys.executable,
            "-c",
            f"{pre}\nimport sys\nfrom fastreg.cli import main\nsys.exit(main({list(args)!r}))",
        ]
    else:
        cmd = [sys.executable, "-m", "fastreg", *args]
    return subprocess.run(cmd, env=full_env, cwd=cwd, capture_output=True, text=True, timeout=600)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def no_data_env(tmp_path):
    """An environment in which MNIST is nowhere: empty FASTREG_DATA and cache folders."""
    empty = tmp_path / "no-data"
    empty.mkdir(exist_ok=True)
    env = dict(os.environ)
    env["FASTREG_DATA"] = str(empty)
    env["XDG_CACHE_HOME"] = str(empty / "cache")
    return env


# --------------------------------------------------------------------------- entry points
def test_console_script():
    """pyproject declares ``fastreg = fastreg.cli:main``; when the package is installed (CI
    installs it), the ``fastreg`` command beside this interpreter runs it."""
    text = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^fastreg\s*=\s*"fastreg\.cli:main"\s*$', text, re.MULTILINE)
    try:
        importlib.metadata.distribution("fastreg-sgd")
    except importlib.metadata.PackageNotFoundError:
        return  # running from a source tree: the declaration above is what there is to check
    (entry,) = [
        e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "fastreg"
    ]
    assert entry.load() is cli.main
    script = Path(sys.executable).parent / ("fastreg.exe" if os.name == "nt" else "fastreg")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"fastreg {fastreg.__version__}"


def test_distribution_name_is_our_own():
    """On the package index "fastreg" is another project: ours is fastreg-sgd, which installs
    the module fastreg and the command fastreg. Every install hint says so."""
    text = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^name\s*=\s*"fastreg-sgd"\s*$', text, re.MULTILINE)
    sources = [
        REPO / "README.md",
        REPO / "CHANGELOG.md",
        REPO / "pyproject.toml",
        *(REPO / "fastreg").rglob("*.py"),
        *(REPO / "docs").rglob("*.md"),
    ]
    bare = re.compile(r"""fastreg\[|pip install ['"]?fastreg(?![\w-])""")
    found = [
        f"{path.relative_to(REPO)}: {m.group(0)}"
        for path in sources
        if path.is_file()
        for m in bare.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not found, found
    try:
        dist = importlib.metadata.distribution("fastreg-sgd")
    except importlib.metadata.PackageNotFoundError:
        return  # a source tree, or an environment installed before the rename
    assert dist.version == fastreg.__version__


def test_help_lists_every_option():
    proc = run_cli("train", "--help")
    assert proc.returncode == 0, proc.stderr
    for option in (
        "--task",
        "--digits",
        "--epochs",
        "--batch-size",
        "--lr",
        "--lr-schedule",
        "--l2",
        "--patience",
        "--backend",
        "--dtype",
        "--seed",
        "--data-dir",
        "--dataset",
        "--out",
        "--no-download",
        "--no-verify",
        "--overwrite",
    ):
        assert option in proc.stdout, option
    assert "fashion-mnist" in proc.stdout
    assert cli.main(["evaluate", "--help"]) == 0
    assert cli.main(["--version"]) == 0


# --------------------------------------------------------------------------- bad arguments
BAD_ARGS = [
    ([], "required: COMMAND"),
    (["frob"], "invalid choice: 'frob'"),
    # the option types are the parameter table's checks (fastreg._validation.argparse_type)
    (["train", "--epochs", "0"], "--epochs: must be an integer >= 1, got '0'"),
    (["train", "--epochs", "two"], "--epochs: must be an integer >= 1, got 'two'"),
    (["train", "--batch-size", "-3"], "--batch-size: must be an integer >= 1"),
    (["train", "--lr", "0"], "--lr: must be a real number > 0"),
    (["train", "--lr", "nan"], "--lr: must be a real number > 0 or 'auto', got 'nan'"),
    (["train", "--lr", "Auto"], "--lr: must be a real number > 0 or 'auto', got 'Auto'"),
    (["train", "--l2=-1e-3"], "--l2: must be a real number >= 0"),
    (["train", "--l2", "-1e-3"], "--l2: expected one argument"),  # argparse: an option?
    (["train", "--patience", "0"], "--patience: must be an integer >= 1"),
    (["train", "--val-fraction", "1"], "--val-fraction: must be a real number in (0, 1)"),
    (["train", "--seed", "-1"], "--seed: must be an int >= 0"),
    (["train", "--threads", "0"], "--threads: must be an integer >= 1"),
    (["train", "--task", "multi"], "invalid choice: 'multi'"),
    (["train", "--dtype", "float16"], "--dtype: must be 'float32' or 'float64', got 'float16'"),
    (["train", "--backend", "gpu"], "invalid choice: 'gpu'"),
    (["train", "--dataset", "cifar"], "invalid choice: 'cifar'"),
    (["train", "--lr-schedule", "warmup"], "invalid choice: 'warmup'"),
    (["train", "--digits", "2"], "--digits: expected 2 arguments"),
    (["train", "--digits", "2", "10"], "--digits: must be a class 0..9, got 10"),
    (["train", "--digits", "4", "4"], "--digits needs two different classes"),
    (["train", "--task", "softmax", "--digits", "1", "7"], "--digits applies to --task binary"),
    # a rule across two options (make_schedule's): the message names the option at fault
    (["train", "--lr-schedule", "step", "--lr-decay", "1.5"], "argument --lr-decay: "),
    (["train", "--lr-schedule", "inverse", "--lr-decay=-1"], "argument --lr-decay: "),
    (["train", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["train", "--out", "", "--no-download"], "argument --out: must name a folder, got ''"),
    (["train", "--out", "  ", "--no-download"], "argument --out: must name a folder"),
    (["evaluate"], "required: MODEL.npz"),
]


@pytest.mark.parametrize(
    "argv, message", BAD_ARGS, ids=[" ".join(a) or "nothing" for a, _ in BAD_ARGS]
)
def test_bad_arguments_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert re.match(r"fastreg( train| evaluate)?: error: ", lines[0]), lines[0]
    assert message in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing was created


def test_bad_arguments_through_the_interpreter():
    """The same in a real process: status 2, one line on stderr, no traceback."""
    proc = run_cli("train", "--epochs", "-1")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        "fastreg train: error: argument --epochs: must be an integer >= 1, got '-1' "
        "(see `fastreg train --help`)"
    ]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_unexpected_error_is_one_line_and_debug_reraises(monkeypatch, capsys):
    def broken(args, argv):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli.train, "run_train", broken)
    assert cli.main(["train"]) == cli.EXIT_FAILURE
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert "unexpected RuntimeError: boom" in lines[0] and "--debug" in lines[0]
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["train", "--debug"])


def test_interrupt_exits_130(monkeypatch, capsys):
    def interrupted(args, argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.train, "run_train", interrupted)
    assert cli.main(["train"]) == cli.EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err


def test_cython_backend_missing(monkeypatch, tmp_path, capsys):
    """--backend cython without the built extension: how to build it, or use NumPy."""
    from fastreg import _kernels

    monkeypatch.setitem(
        _kernels._cache, "cython", ImportError("No module named 'fastreg._kernels._linear'")
    )
    out = tmp_path / "run"
    assert cli.main(["train", "--backend", "cython", "--out", str(out)]) == cli.EXIT_FAILURE
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "pip install" in lines[0] and "--backend numpy" in lines[0]
    assert not out.exists()  # checked before the output folder is made


# --------------------------------------------------------------------------- output folder
# test_default_out_dir_..., test_out_dir_existing_run_..., test_out_dir_unwritable: moved to
# test_cli_faults.py with the atomic run folder (fastreg.cli.run_folder).


def test_unwritable_out_is_reported_before_loading_data(tmp_path):
    """Checked first: the message is about --out even though the data is missing too."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = run_cli(
        "train", "--no-download", "--out", str(blocker / "run"), env=no_data_env(tmp_path)
    )
    assert proc.returncode == 1
    lines = error_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("fastreg: error: cannot write to the output folder")
    assert "Not a directory" in lines[0] and "choose a writable folder with --out DIR" in lines[0]
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- missing data
def test_missing_data_says_where_it_looked_and_what_to_do(tmp_path):
    """Fashion-MNIST is a download (MNIST ships with the package, so it is never missing when
    no folder is named): every place searched, every way to provide it, each file's digest."""
    env = no_data_env(tmp_path)
    out = tmp_path / "run"
    proc = run_cli(
        "train", "--no-download", "--dataset", "fashion-mnist", "--out", str(out), env=env
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("fastreg: error: Fashion-MNIST was not found")
    assert f"FASTREG_DATA: {env['FASTREG_DATA']}" in proc.stderr  # the places searched
    cache = Path(env["XDG_CACHE_HOME"]) / "fastreg" / "fashion-mnist"
    assert str(cache) in proc.stderr
    for hint in (
        "--data-dir DIR",
        "FASTREG_DATA=DIR",
        "drop --no-download",
        f"put them (gzip'd or not) in {cache}:",
        "train-images-idx3-ubyte.gz (26421880 bytes, md5 8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ):
        assert hint in proc.stderr, hint
    assert "data_dir=" not in proc.stderr  # the Python spelling is replaced by the CLI one
    assert not out.exists() and os.listdir(tmp_path) == ["no-data"]  # nothing left behind

    # a named folder is the only place looked at, for MNIST too
    given = tmp_path / "given"
    proc = run_cli("train", "--no-download", "--data-dir", str(given), "--out", str(out), env=env)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"fastreg: error: MNIST was not found in {given}")
    assert "FASTREG_DATA=DIR" not in proc.stderr and f"into {given}" in proc.stderr


def test_evaluate_missing_or_foreign_model(tmp_path, capsys):
    assert cli.main(["evaluate", str(tmp_path / "nothing.npz")]) == 1
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and "no model file at" in err
    np.savez(tmp_path / "other.npz", a=np.arange(3))
    assert cli.main(["evaluate", str(tmp_path / "other.npz")]) == 1
    assert "is not a fastreg model file" in capsys.readouterr().err


# --------------------------------------------------------------------------- writers
def test_history_csv_round_trip(tmp_path):
    history = {
        "step": [10, 20],
        "epoch": [1, 2],
        "train_loss": [0.5, 0.25],
        "val_loss": [float("nan"), 1 / 3],
    }
    report.write_history_csv(history, tmp_path / "h.csv")
    with open(tmp_path / "h.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["step", "epoch", "train_loss", "val_loss"]
    assert rows[1] == ["10", "1", "0.5", ""]  # NaN: an empty field
    assert float(rows[2][3]) == 1 / 3  # full precision


def test_json_writer(tmp_path):
    record = {
        "a": np.float32(0.5),
        "n": np.int64(3),
        "nan": float("nan"),
        "flag": np.bool_(True),
        "cm": np.array([[1, 2], [3, 4]]),
        "inf": np.inf,
        "nested": {"x": [1.5, -2e-7]},
    }
    report.write_json(record, tmp_path / "m.json")
    text = (tmp_path / "m.json").read_text()
    assert json.loads(text) == {
        "a": 0.5,
        "n": 3,
        "nan": None,
        "flag": True,
        "cm": [[1, 2], [3, 4]],
        "inf": None,
        "nested": {"x": [1.5, -2e-7]},
    }
    assert "[1, 2]" in text  # matrix rows on one line each


def test_kept_step():
    h = {"step": [10, 20, 30, 40], "val_loss": [0.5, 0.3, 0.4, 0.35]}
    assert report.kept_step(h, early_stopping=True) == 20
    assert report.kept_step(h, early_stopping=False) == 40
    assert report.kept_step({"step": [5], "val_loss": [float("nan")]}, early_stopping=True) == 5
    assert report.kept_step({"step": []}, early_stopping=True) is None


def test_confusion_matrix_text():
    cm = np.array([[5, 1], [0, 12]])
    text = report.format_confusion_matrix(cm, ["3", "2"])
    lines = text.splitlines()
    assert lines[1].split() == ["3", "2"]
    assert lines[2].split() == ["3", "5", "1"] and lines[3].split() == ["2", "0", "12"]
    long = report.format_confusion_matrix(np.eye(2, dtype=int), ["Sneaker", "Bag"])
    assert long.splitlines()[1].split() == ["0", "1"]
    assert "classes: 0 Sneaker, 1 Bag" in long


# --------------------------------------------------------------------------- metrics
def naive_confusion(y_true, y_pred, labels):
    cm = [[0] * len(labels) for _ in labels]
    for t, p in zip(y_true, y_pred):
        cm[list(labels).index(t)][list(labels).index(p)] += 1
    return np.array(cm)


def test_metrics_against_loops():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 10, 500)
    pred = np.where(rng.random(500) < 0.7, y, rng.integers(0, 10, 500))
    labels = list(range(10))
    cm = confusion_matrix(y, pred, labels=labels)
    np.testing.assert_array_equal(cm, naive_confusion(y, pred, labels))
    assert cm.sum() == 500 and np.trace(cm) / 500 == accuracy(y, pred)
    np.testing.assert_allclose(
        per_class_accuracy(cm), [np.mean(pred[y == k] == k) for k in labels]
    )
    # label order is respected, absent labels give zero rows, unknown ones are refused
    cm2 = confusion_matrix([3, 2, 2], [2, 2, 3], labels=[3, 2, 7])
    np.testing.assert_array_equal(cm2, [[0, 1, 0], [1, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match=r"y_pred holds labels \[9\]"):
        confusion_matrix([1, 2], [1, 9], labels=[1, 2])
    with pytest.raises(ValueError, match="one prediction per sample") as info:
        accuracy([1, 2], [1])
    assert info.value.param == "y_pred"  # an InvalidParameterError


def test_mean_cross_entropy_against_loop():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(50, 4)) * 30  # large logits: log-probabilities, never log(0)
    log_p = (
        z
        - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
        - z.max(1, keepdims=True)
    )
    y = rng.integers(0, 4, 50)
    expected = sum(-log_p[n, y[n]] for n in range(50)) / 50
    assert math.isclose(mean_cross_entropy(log_p, y), expected, rel_tol=1e-12)
    assert math.isfinite(mean_cross_entropy(log_p.astype(np.float32), y))
    with pytest.raises(ValueError, match="columns"):
        mean_cross_entropy(log_p, np.full(50, 4))


# --------------------------------------------------------------------------- real MNIST runs
def _summary_value(stdout, row):
    """(loss, accuracy as a fraction) of a row of the printed summary."""
    m = re.search(rf"^\s+{row}\s+(\d+\.\d+)\s+(\d+\.\d+)%$", stdout, re.MULTILINE)
    assert m, f"no {row} row in:\n{stdout}"
    return float(m.group(1)), float(m.group(2)) / 100


def _png_ok(path):
    data = Path(path).read_bytes()
    return data[:8] == PNG_MAGIC and 1_000 < len(data) < 100_000


@pytest.mark.real_data
def test_train_binary_end_to_end(mnist, tmp_path):
    out = tmp_path / "run"
    proc = run_cli(
        "train", "--task", "binary", "--epochs", "2", "--no-download", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "LogisticRegression" in proc.stderr  # the progress bar
    for name in report.RUN_FILES:
        assert (out / name).is_file(), name
    for name in report.PICTURES:
        assert _png_ok(out / name), name

    metrics = json.loads((out / "metrics.json").read_text())
    _X_sub, y_sub = binary_subset(mnist.X_train, mnist.y_train, 2, 3)
    X_test, y_test = binary_subset(mnist.X_test, mnist.y_test, 2, 3)
    assert metrics["task"] == "binary" and metrics["digits"] == {"positive": 2, "negative": 3}
    assert metrics["n_train"] + metrics["n_validation"] == len(y_sub) == 12089
    # the one stratified hold-out: floor(0.1 * n_c + 1/2) rows of each class
    held = sum(math.floor(0.1 * n + 0.5) for n in np.bincount(y_sub))
    assert metrics["n_validation"] == held
    assert metrics["n_test"] == len(y_test) == 2042
    assert metrics["dtype"] == "float32" and metrics["backend"] in fastreg.available_backends()
    assert 1 <= metrics["best_epoch"] <= metrics["epochs_run"] == 2
    assert metrics["wall_time_s"] > 0

    # the saved model reloads and scores exactly what was recorded and printed
    model = fastreg.load(out / "model.npz")
    assert isinstance(model, fastreg.LogisticRegression)
    test_acc = model.score(flatten(X_test), y_test)
    assert test_acc == metrics["test"]["accuracy"]
    assert test_acc > 0.95
    cm = np.array(metrics["test_confusion_matrix"])
    assert cm.sum() == 2042 and np.trace(cm) / 2042 == test_acc
    printed_loss, printed_acc = _summary_value(proc.stdout, "test")
    assert printed_acc == pytest.approx(test_acc, abs=5e-5)
    assert printed_loss == pytest.approx(metrics["test"]["loss"], abs=5e-5)
    for row, key in (("train", "train"), ("validation", "validation")):
        assert _summary_value(proc.stdout, row)[1] == pytest.approx(
            metrics[key]["accuracy"], abs=5e-5
        )
    for word in ("epochs      2 run, best epoch", "wall time", "float32", metrics["backend"]):
        assert word in proc.stdout

    # history.csv: one row per epoch (one validation check each), as the model's history_
    with open(out / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], model.history_["val_loss"])
    # under early stopping the kept weights are those of the lowest validation loss
    assert metrics["validation"]["loss"] == pytest.approx(
        min(model.history_["val_loss"]), rel=1e-4
    )


@pytest.mark.real_data
def test_train_softmax_and_evaluate(mnist, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out lands under runs/
    code = cli.main(
        [
            "train",
            "--task",
            "softmax",
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--lr",
            "0.2",
            "--no-early-stopping",
            "--dtype",
            "float64",
            "--seed",
            "7",
            "--no-download",
            "--no-progress",
        ]
    )
    _out, err = capsys.readouterr()
    assert code == 0, err
    (run,) = list((tmp_path / "runs").iterdir())
    assert re.fullmatch(r"softmax-\d{8}-\d{6}", run.name)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["epochs_run"] == 2 and metrics["best_epoch"] == 2
    assert metrics["dtype"] == "float64" and metrics["params"]["batch_size"] == 64
    assert metrics["params"]["learning_rate"] == 0.2 and metrics["params"]["random_state"] == 7
    assert metrics["n_train"] + metrics["n_validation"] == 60000 and metrics["n_test"] == 10000

    model = fastreg.load(run / "model.npz")
    assert isinstance(model, fastreg.SoftmaxRegression) and model.coef_.shape == (10, 784)
    assert model.coef_.dtype == np.float64
    X_test = flatten(mnist.X_test)
    assert model.score(X_test, mnist.y_test) == metrics["test"]["accuracy"] > 0.88

    assert cli.main(["evaluate", str(run / "model.npz"), "--no-download"]) == 0
    text = capsys.readouterr().out
    m = re.search(r"accuracy\s+(\d+\.\d+)% \((\d+) of (\d+) correct\)", text)
    assert m and int(m.group(3)) == 10000
    assert int(m.group(2)) == round(metrics["test"]["accuracy"] * 10000)
    assert float(m.group(1)) == pytest.approx(100 * metrics["test"]["accuracy"], abs=5e-3)
    lines = text.splitlines()
    start = lines.index("confusion matrix (rows: true class, columns: predicted class)")
    assert lines[start + 1].split() == [str(k) for k in range(10)]  # predicted classes
    rows = [line.split() for line in lines[start + 2 : start + 12]]
    assert [row[0] for row in rows] == [str(k) for k in range(10)]  # true classes
    cm = np.array([[int(v) for v in row[1:]] for row in rows])
    assert cm.shape == (10, 10) and cm.sum() == 10000
    np.testing.assert_array_equal(cm, metrics["test_confusion_matrix"])
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(mnist.y_test, minlength=10))


@pytest.mark.real_data
def test_evaluate_binary_needs_its_classes(mnist, tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        cli.main(
            [
                "train",
                "--digits",
                "7",
                "1",
                "--epochs",
                "1",
                "--no-download",
                "--no-progress",
                "--no-plots",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    metrics = json.loads((run / "metrics.json").read_text())
    # --no-plots: no PNG
    assert sorted(os.listdir(run)) == ["history.csv", "metrics.json", "model.npz", "report.html"]
    capsys.readouterr()
    assert cli.main(["evaluate", str(run), "--no-download"]) == 0  # a run folder works too
    text = capsys.readouterr().out
    assert "7 (label 1) vs 1 (label 0)" in text and "from " in text
    assert f"({round(metrics['test']['accuracy'] * metrics['n_test'])} of" in text

    alone = tmp_path / "elsewhere" / "m.npz"
    alone.parent.mkdir()
    alone.write_bytes((run / "model.npz").read_bytes())
    assert cli.main(["evaluate", str(alone), "--no-download"]) == cli.EXIT_USAGE
    assert "pass --digits POS NEG" in capsys.readouterr().err
    assert cli.main(["evaluate", str(alone), "--digits", "7", "1", "--no-download"]) == 0
    assert (
        f"({round(metrics['test']['accuracy'] * metrics['n_test'])} of" in capsys.readouterr().out
    )


@pytest.mark.real_data
def test_same_seed_same_model(mnist, tmp_path):
    for name in ("a", "b"):
        assert (
            cli.main(
                [
                    "train",
                    "--epochs",
                    "1",
                    "--seed",
                    "11",
                    "--no-download",
                    "--no-progress",
                    "--no-plots",
                    "--out",
                    str(tmp_path / name),
                ]
            )
            == 0
        )
    a, b = (fastreg.load(tmp_path / name / "model.npz") for name in ("a", "b"))
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert (
        cli.main(
            [
                "train",
                "--epochs",
                "1",
                "--seed",
                "12",
                "--no-download",
                "--no-progress",
                "--no-plots",
                "--out",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    assert not np.array_equal(a.coef_, fastreg.load(tmp_path / "c" / "model.npz").coef_)


@pytest.mark.real_data
def test_divergence_is_a_message_not_a_traceback(mnist, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        cli.main(
            [
                "train",
                "--lr",
                "1e38",
                "--epochs",
                "2",
                "--no-download",
                "--no-progress",
                "--out",
                str(out),
            ]
        )
        == cli.EXIT_FAILURE
    )
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith("fastreg: error: Training diverged in epoch 1")
    assert "Pass a smaller --lr (e.g. --lr 1e+37)" in lines[0]
    assert not out.exists()


@pytest.mark.real_data
def test_without_matplotlib_the_rest_is_written(mnist, tmp_path):
    out = tmp_path / "run"
    proc = run_cli(
        "train",
        "--epochs",
        "1",
        "--no-download",
        "--no-progress",
        "--out",
        str(out),
        pre="import sys; sys.modules['matplotlib'] = None",
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warning = [line for line in error_lines(proc.stderr) if line.startswith("fastreg: warning:")]
    assert len(warning) == 1 and "pip install 'fastreg-sgd[plot]'" in warning[0]
    assert sorted(os.listdir(out)) == ["history.csv", "metrics.json", "model.npz", "report.html"]
    assert "wrote" in proc.stdout and ".png" not in proc.stdout
    fastreg.load(out / "model.npz")
