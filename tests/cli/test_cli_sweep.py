"""``fastreg sweep``: one run folder per value, summary.csv, the overlays, and Ctrl-C.

Most tests train on a small synthetic stand-in for MNIST (``fake_data`` replaces the data
loader of :mod:`fastreg.cli.training_data`; 28x28 images whose class lights one row), so they
need no data set and take a second. ``--jobs 2`` (spawned workers, which load the data
themselves, so no loader can be replaced) must give the bits of a sequential sweep: on an
.npz file (``--data``) and on the real MNIST (``real_data``). Ctrl-C is a real SIGINT in a
child process: in a sequential sweep, and forwarded to the workers of ``--jobs 2`` (real
MNIST, long enough to be interrupted). The naming and value-axis rules are tested in
test_cli_compare.py.
"""

import contextlib
import csv
import io
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fastreg import cli
from fastreg.cli import overlays, summary, training_data
from helpers import cli_data

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUN_FILES = {"history.csv", "metrics.json", "model.npz", "report.html"}
OVERLAYS = {"val_loss.png", "val_accuracy.png", "final_accuracy.png", "weight_norm.png"}
OVERLAYS |= {"weights.png"}

SYNTHETIC = cli_data.source(600, 200)
synthetic = cli_data.synthetic_loader(600, 200)


@pytest.fixture
def fake_data(monkeypatch):
    """The sweep's data loader returns the synthetic set; the list counts its calls."""
    calls = []

    def load_data(*args, **kwargs):
        calls.append(args)
        return synthetic()

    monkeypatch.setattr(training_data, "load_data", load_data)
    return calls


def quick(out, *options):
    return ["sweep", "--epochs", "2", "--no-progress", "--out", str(out), *options]


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def leftovers(parent):
    return sorted(name for name in os.listdir(parent) if ".frw-" in name)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def run_cli(*args, pre=""):
    code = f"{pre}\nimport sys\nfrom fastreg.cli import main\nsys.exit(main({list(args)!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600
    )


# --------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "options, message",
    [
        (["--l2", "0.01"], "give one option two values or more to sweep"),
        ([], "give one option two values or more to sweep"),
        (["--l2", "0", "0.1", "--lr", "0.1", "0.2"], "--l2 and --lr both have several values"),
        (["--l2", "0.01", "1e-2"], "--l2 lists 0.01 twice"),
        (["--shuffle", "on", "off", "on"], "--shuffle lists on twice"),
        (["--batch-size", "32", "0"], "argument --batch-size"),
        (["--l2", "0", "0.1", "--jobs", "0"], "argument --jobs: must be at least 1"),
    ],
)
def test_refusals(options, message, tmp_path, capsys, fake_data):
    out = tmp_path / "sweep"
    assert cli.main(quick(out, *options)) == cli.EXIT_USAGE
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith("fastreg sweep: error: ") and message in line, line
    assert os.listdir(tmp_path) == [] and fake_data == []  # nothing written, nothing loaded


def test_every_value_is_checked_before_any_training(tmp_path, capsys, fake_data):
    """The second schedule's decay is out of its range: refused before the first trains."""
    argv = quick(tmp_path / "s", "--lr-schedule", "constant", "exponential", "--lr-decay", "1.5")
    assert cli.main(argv) == cli.EXIT_USAGE
    assert "--lr-decay" in capsys.readouterr().err
    assert os.listdir(tmp_path) == [] and fake_data == []


# --------------------------------------------------------------------------- a sweep
@pytest.fixture(scope="module")
def l2_sweep(tmp_path_factory):
    """A sequential sweep of --l2 over 0, 0.001, 0.1 on the synthetic set, softmax (made once
    for the tests that only read it); (the sweep folder, what it printed)."""
    out = tmp_path_factory.mktemp("l2") / "sweep"
    calls, printed = [], io.StringIO()

    def load_data(*args, **kwargs):
        calls.append(args)
        return synthetic()

    argv = quick(out, "--task", "softmax", "--lr", "0.5", "--l2", "0", "0.001", "0.1")
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.setattr(training_data, "load_data", load_data)
        assert cli.main(argv) == cli.EXIT_OK
    assert len(calls) == 1  # the data is loaded once for all values
    return out, printed.getvalue()


def test_sweep_writes_a_run_per_value_and_the_summary(l2_sweep):
    out, printed = l2_sweep
    names = ["l2=0", "l2=0.001", "l2=0.1"]
    assert set(os.listdir(out)) == {*names, "summary.csv", "report.html", *OVERLAYS}
    assert leftovers(out.parent) == [] and leftovers(out) == []
    rows = read_csv(out / "summary.csv")
    assert [r["value"] for r in rows] == ["0", "0.001", "0.1"]  # the order given
    for name, row, l2 in zip(names, rows, [0.0, 0.001, 0.1]):
        assert RUN_FILES <= set(os.listdir(out / name))
        m = json.loads((out / name / "metrics.json").read_text())
        assert m["params"]["l2"] == l2 and m["task"] == "softmax"
        assert row["run"] == name and row["status"] == "complete"
        assert row["interrupted"] == "false"
        assert int(row["epochs_run"]) == m["epochs_run"]
        assert int(row["best_epoch"]) == m["best_epoch"]
        assert float(row["wall_time_s"]) == m["wall_time_s"]
        for part, key in (("train", "train"), ("validation", "val"), ("test", "test")):
            assert float(row[f"{key}_loss"]) == m[part]["loss"]
            assert float(row[f"{key}_accuracy"]) == m[part]["accuracy"]
        coef = np.load(out / name / "model.npz", allow_pickle=False)["coef_"].astype(float)
        assert math.isclose(float(row["weight_norm_sq"]), np.sum(coef**2), rel_tol=1e-9)
    norms = [float(r["weight_norm_sq"]) for r in rows]
    assert norms[2] < min(norms[:2])  # the largest penalty, the smallest weights
    for name in OVERLAYS:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    table = printed[printed.index("  l2 ") :].splitlines()
    assert [line.split()[0] for line in table[1:4]] == ["0", "0.001", "0.1"]
    assert all(line.rstrip().endswith("complete") for line in table[1:4])
    assert f"wrote {out}/: l2=0, l2=0.001, l2=0.1, summary.csv" in printed


def test_sweep_overlays_draw_one_line_per_value(l2_sweep):
    """The figures the sweep saved, drawn again from its folders: a line (or image row) per
    value, a symmetric-log value axis (0 is among the values)."""
    out, _ = l2_sweep
    runs = [summary.read_run(out / n) for n in ("l2=0", "l2=0.001", "l2=0.1")]
    values, labels = [0.0, 0.001, 0.1], ["l2=0", "l2=0.001", "l2=0.1"]
    fig = overlays.curves_figure(runs, values, labels, "val_loss", "t")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == labels
    for line, run in zip(ax.get_lines(), runs):
        np.testing.assert_array_equal(line.get_ydata(), run.history["val_loss"])
        assert line.get_xdata()[-1] == run.metrics["epochs_run"]  # x in epochs
    rows = [overlays._results(run) for run in runs]
    fig = overlays.final_accuracy_figure(values, labels, rows, "l2")
    (ax,) = fig.axes
    assert ax.get_xscale() == "symlog" and len(ax.get_lines()) == 3  # train, val, test
    fig = overlays.weight_norm_figure(values, labels, rows, "l2")
    assert fig.axes[0].get_xscale() == "symlog"
    np.testing.assert_allclose(
        fig.axes[0].get_lines()[0].get_ydata(), [r.weight_norm_sq for r in runs]
    )
    fig = overlays.weights_figure(runs, labels)
    images = [ax for ax in fig.axes if ax.get_images()]
    assert len(images) == 3 * 10  # a row per value, a column per class
    first_row = [ax.get_images()[0] for ax in fig.axes[:10]]
    limit = float(np.max(np.abs(runs[0].coef)))
    assert all(im.get_clim() == (-limit, limit) for im in first_row)  # one scale per model


def test_binary_weights_are_one_row(tmp_path, capsys, fake_data):
    out = tmp_path / "sweep"
    argv = quick(out, "--task", "binary", "--digits", "2", "3", "--shuffle", "on", "off")
    assert cli.main(argv) == cli.EXIT_OK, capsys.readouterr().err
    assert sorted(n for n in os.listdir(out) if "=" in n) == ["shuffle=off", "shuffle=on"]
    runs = [summary.read_run(out / n) for n in ("shuffle=on", "shuffle=off")]
    assert runs[0].params["shuffle"] is True and runs[1].params["shuffle"] is False
    fig = overlays.weights_figure(runs, ["shuffle=on", "shuffle=off"])
    assert [ax.get_title() for ax in fig.axes] == ["shuffle=on", "shuffle=off"]
    rows = [overlays._results(run) for run in runs]
    ax = overlays.final_accuracy_figure([True, False], ["on", "off"], rows, "shuffle").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["on", "off"]  # categories


def test_overwrite_replaces_an_earlier_sweep(tmp_path, capsys, fake_data):
    out = tmp_path / "sweep"
    assert cli.main(quick(out, "--l2", "0", "0.1")) == cli.EXIT_OK
    argv = quick(out, "--lr", "0.1", "0.2")
    assert cli.main(argv) == cli.EXIT_FAILURE
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main([*argv, "--overwrite"]) == cli.EXIT_OK, capsys.readouterr().err
    assert sorted(n for n in os.listdir(out) if "=" in n) == ["lr=0.1", "lr=0.2"]
    assert leftovers(out.parent) == []
    (out / "notes.txt").write_text("mine")  # not a sweep's: the folder is never replaced
    assert cli.main([*argv, "--overwrite"]) == cli.EXIT_FAILURE
    assert "notes.txt" in capsys.readouterr().err


def test_without_matplotlib_runs_and_summary_are_written(tmp_path, capsys, fake_data, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    out = tmp_path / "sweep"
    assert cli.main(quick(out, "--l2", "0", "0.1")) == cli.EXIT_OK
    warnings = [line for line in capsys.readouterr().err.splitlines() if "matplotlib" in line]
    assert sorted(os.listdir(out)) == ["l2=0", "l2=0.1", "report.html", "summary.csv"]
    assert len(warnings) == 1  # the runs say it (once): the overlays do not repeat it
    assert all(w.startswith("fastreg: warning: matplotlib is not installed") for w in warnings)


def test_diverged_value_is_a_row_not_the_end(tmp_path, capsys, fake_data):
    out = tmp_path / "sweep"
    assert cli.main(quick(out, "--lr", "0.5", "1e38")) == cli.EXIT_OK, capsys.readouterr().err
    rows = read_csv(out / "summary.csv")
    assert [r["status"] for r in rows] == ["complete", "failed"]
    assert rows[1]["run"] == "" and "--lr" in rows[1]["note"]
    assert sorted(n for n in os.listdir(out) if "=" in n) == ["lr=0.5"]
    assert cli.main(quick(tmp_path / "none", "--lr", "1e38", "3e38")) == cli.EXIT_FAILURE
    assert "every value of the sweep failed" in capsys.readouterr().err
    assert not (tmp_path / "none").exists() and leftovers(tmp_path) == []


# --------------------------------------------------------------------------- Ctrl-C
def _press_at_check(presses, check):
    """Child-process code: SIGINT ``presses`` times at the ``check``-th validation check of
    the sweep (counting from 1; two per value here), i.e. while a value trains."""
    return SYNTHETIC + (
        "import os, signal, time\n"
        "from fastreg.cli import training_data\n"
        "from fastreg._training.evaluator import Evaluator\n"
        "training_data.load_data = synthetic\n"
        "real, calls = Evaluator.__call__, []\n"
        "def check(self, *args, **kwargs):\n"
        "    calls.append(1)\n"
        f"    if len(calls) == {check}:\n"
        f"        for _ in range({presses}):\n"
        "            os.kill(os.getpid(), signal.SIGINT)\n"
        "            time.sleep(0.2)\n"
        "    return real(self, *args, **kwargs)\n"
        "Evaluator.__call__ = check\n"
    )


def test_first_ctrl_c_keeps_what_completed(tmp_path):
    out = tmp_path / "sweep"
    proc = run_cli(*quick(out, "--l2", "0", "0.01", "0.1"), pre=_press_at_check(1, check=3))
    assert proc.returncode == cli.EXIT_OK, proc.stderr
    assert sorted(n for n in os.listdir(out) if "=" in n) == ["l2=0", "l2=0.01"]
    rows = read_csv(out / "summary.csv")
    assert [r["status"] for r in rows] == ["complete", "interrupted", "not run"]
    assert [r["interrupted"] for r in rows] == ["false", "true", "true"]
    assert json.loads((out / "l2=0.01" / "metrics.json").read_text())["interrupted"] is True
    assert json.loads((out / "l2=0" / "metrics.json").read_text())["interrupted"] is False
    assert {"report.html", "val_loss.png"} <= set(os.listdir(out))
    assert "sweep interrupted: 1 of 3 values not run" in proc.stdout
    assert leftovers(tmp_path) == []


def test_second_ctrl_c_leaves_nothing(tmp_path):
    out = tmp_path / "sweep"
    proc = run_cli(*quick(out, "--l2", "0", "0.01", "0.1"), pre=_press_at_check(2, check=3))
    assert proc.returncode == cli.EXIT_INTERRUPTED, proc.stderr
    assert error_lines(proc.stderr)[-1] == "fastreg: error: interrupted"
    assert os.listdir(tmp_path) == []  # neither the sweep nor a temporary folder


def test_jobs_on_a_data_file_give_the_bits_of_a_sequential_sweep(tmp_path, capsys):
    """--data FILE: two values in two spawned workers (each reads the file itself) against
    the same sweep in this process; weights and histories bit for bit. 16 features: the
    weights are drawn as 4x4 images."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(800, 16))
    y = (X[:, :4].sum(axis=1) + 0.5 * rng.normal(size=800) > 0).astype(np.int64)
    data = tmp_path / "data.npz"
    np.savez(data, X=X[:600], y=y[:600], X_test=X[600:], y_test=y[600:])
    common = ["--data", str(data), "--shuffle", "on", "off", "--epochs", "3"]
    assert cli.main(quick(tmp_path / "seq", *common)) == cli.EXIT_OK, capsys.readouterr().err
    argv = quick(tmp_path / "par", *common, "--jobs", "2")
    assert cli.main(argv) == cli.EXIT_OK, capsys.readouterr().err
    names = ("shuffle=on", "shuffle=off")
    for name in names:
        seq, par = tmp_path / "seq" / name, tmp_path / "par" / name
        assert (seq / "history.csv").read_bytes() == (par / "history.csv").read_bytes()
        a, b = (np.load(p / "model.npz", allow_pickle=False) for p in (seq, par))
        assert a["coef_"].tobytes() == b["coef_"].tobytes()
        assert a["intercept_"].tobytes() == b["intercept_"].tobytes()
    on, off = (np.load(tmp_path / "seq" / n / "model.npz")["coef_"] for n in names)
    assert on.tobytes() != off.tobytes()  # the option swept made a difference
    assert OVERLAYS <= set(os.listdir(tmp_path / "par"))
    runs = [summary.read_run(tmp_path / "par" / n) for n in names]
    assert [run.image_shape for run in runs] == [(4, 4), (4, 4)]


# --------------------------------------------------------------------------- real data
@pytest.mark.real_data
def test_jobs_give_the_bits_of_a_sequential_sweep(mnist, tmp_path, capsys):
    """Two values in two spawned workers, each loading MNIST itself: the same weights and
    histories, bit for bit, as one after the other in this process."""
    common = ["--task", "binary", "--batch-size", "64", "128"]
    assert cli.main(quick(tmp_path / "seq", *common)) == cli.EXIT_OK, capsys.readouterr().err
    argv = quick(tmp_path / "par", *common, "--jobs", "2")
    assert cli.main(argv) == cli.EXIT_OK, capsys.readouterr().err
    for name in ("batch_size=64", "batch_size=128"):
        seq, par = tmp_path / "seq" / name, tmp_path / "par" / name
        assert (seq / "history.csv").read_bytes() == (par / "history.csv").read_bytes()
        a, b = (np.load(p / "model.npz", allow_pickle=False) for p in (seq, par))
        assert a["coef_"].tobytes() == b["coef_"].tobytes()
        assert a["intercept_"].tobytes() == b["intercept_"].tobytes()
    seq_rows, par_rows = (read_csv(tmp_path / d / "summary.csv") for d in ("seq", "par"))
    for a, b in zip(seq_rows, par_rows):
        a.pop("wall_time_s"), b.pop("wall_time_s")
        assert a == b
    assert float(seq_rows[0]["test_accuracy"]) > 0.9


@pytest.mark.real_data
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_reaches_the_workers(presses, mnist, tmp_path):
    """--jobs 2: a real SIGINT to the parent once both workers train. The first is forwarded
    (each worker stops after its batch, keeps its best weights, writes its folder marked
    interrupted) and the third value never starts; a second aborts: the workers stop and
    nothing is left. Training is long (300 epochs) so that only a forwarded stop ends it."""
    out = tmp_path / "sweep"
    argv = quick(out, "--task", "softmax", "--epochs", "300", "--no-early-stopping")
    argv += ["--l2", "0", "0.01", "0.1", "--jobs", "2"]
    code = f"import sys\nfrom fastreg.cli import main\nsys.exit(main({argv!r}))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        started = 0
        for line in proc.stdout:  # the workers say when they start training
            started += line.startswith("training ")
            if started == 2:
                break
        time.sleep(2)  # a few epochs in (a stop before the first step keeps no weights)
        for _ in range(presses):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
        rest, err = proc.communicate(timeout=120)  # returns once the workers are gone too
    finally:
        proc.kill()
    if presses == 2:
        assert proc.returncode == cli.EXIT_INTERRUPTED, err
        assert os.listdir(tmp_path) == []
        return
    assert proc.returncode == cli.EXIT_OK, err
    rows = read_csv(out / "summary.csv")
    assert [r["status"] for r in rows] == ["interrupted", "interrupted", "not run"]
    for name in ("l2=0", "l2=0.01"):
        m = json.loads((out / name / "metrics.json").read_text())
        assert m["interrupted"] is True and 0 < m["epochs_run"] < 300
    assert not (out / "l2=0.1").exists()
    assert "sweep interrupted: 1 of 3 values not run" in rest
