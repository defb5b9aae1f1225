"""Ctrl-C during ``fastreg train``: real SIGINTs sent to a real process.

The first press stops training after the current batch, keeps the best weights so far (as
early stopping would), writes the complete run folder and marks it interrupted; a second
press aborts at once and leaves nothing.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fastreg import cli
from helpers import cli_data

# a learnable synthetic set large enough that training runs until it is stopped
SYNTHETIC = cli_data.source(20000, 2000, hard=True) + (
    "from fastreg.cli import training_data\ntraining_data.load_data = synthetic\n"
)


def start(out, *extra, pre=""):
    args = ["train", "--task", "softmax", "--epochs", "100000", "--patience", "100000"]
    args += ["--batch-size", "1", "--no-progress", "--out", str(out), *extra]
    code = f"{SYNTHETIC}{pre}\nimport sys\nfrom fastreg.cli import main\nsys.exit(main({args!r}))"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()  # "training softmax regression on ...": the fit starts
    assert first.startswith("training"), first + proc.stderr.read()
    return proc


def test_first_ctrl_c_keeps_the_best_and_writes_the_run(tmp_path):
    out = tmp_path / "run"
    proc = start(out, "--validation-interval", "4", "--dtype", "float64")
    time.sleep(3.0)  # several epochs and checks
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == cli.EXIT_OK, stderr
    assert "interrupted" in stdout and "Traceback" not in stderr
    names = set(os.listdir(out))
    assert {"history.csv", "metrics.json", "model.npz", "report.html"} <= names
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True
    assert "interrupted" in (out / "report.html").read_text().lower()
    with open(out / "history.csv") as fh:
        val = [float(row["val_loss"]) for row in csv.DictReader(fh)]
    assert len(val) >= 2
    # the weights kept are the best validation weights so far, as early stopping keeps them
    assert metrics["validation"]["loss"] == pytest.approx(min(val), rel=1e-5)
    assert metrics["best_epoch"] <= metrics["epochs_run"]


def test_second_ctrl_c_aborts_and_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    slow_write = (
        "import time\n"
        "from fastreg.cli import report\n"
        "real = report.write_json\n"
        "def write_json(record, path):\n"
        "    real(record, path)\n"
        "    time.sleep(30)\n"
        "report.write_json = write_json\n"
    )
    proc = start(out, pre=slow_write)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)  # stop training; the writing starts (and hangs)
    time.sleep(2.0)
    proc.send_signal(signal.SIGINT)  # abort
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == cli.EXIT_INTERRUPTED, stderr
    assert stderr.strip().splitlines()[-1] == "fastreg: error: interrupted"
    assert os.listdir(tmp_path) == []
