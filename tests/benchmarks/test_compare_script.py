"""Smoke test of benchmarks/compare.py: it runs end to end and prints the tables it promises.

The script runs in a tiny mode on a synthetic MNIST written as real IDX .gz files into a
temporary FASTREG_DATA folder (digit k lights its own band of pixel rows, so a linear model
separates the classes after one epoch). No timing is asserted: only that every requested
contender has a row with a number, that the ratio and accuracy columns hold what they should,
and that the machine's lower bound is computed.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastreg.datasets import write_idx

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "compare.py"
sys.path.insert(0, str(ROOT / "benchmarks"))
import _machine  # noqa: E402

HEADER = [
    "contender",
    "ms / epoch",
    "min–max",
    "÷ fastreg-numpy",
    "test acc. after 1 epochs",
    "other CPU",
    "notes",
]


def _synthetic_digits(n, rng):
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = rng.integers(0, 60, size=(n, 28, 28), dtype=np.uint8)
    for k in range(10):
        images[labels == k, 2 + 2 * k : 4 + 2 * k, 4:24] = 255
    return images, labels


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 2400), ("t10k", 400)):
        images, labels = _synthetic_digits(n, rng)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def _run(args, data_dir, tmp_path, verify="0"):
    # verify "0": the synthetic stand-in under MNIST's names is accepted
    env = dict(
        os.environ,
        FASTREG_DATA=str(data_dir),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        FASTREG_COMPARE_VERIFY=verify,
    )
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600
    )


def _table_after(text, heading):
    """The rows (lists of cells) of the markdown table under the line starting ``heading``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif rows:
            break
    return rows


def _percent(cell):
    match = re.fullmatch(r"(\d+\.\d+) %", cell)
    assert match, f"not an accuracy: {cell!r}"
    return float(match.group(1))


@pytest.mark.parametrize(
    "task, heading",
    [
        ("softmax", "### softmax, float32, batch 32 (MNIST 2000 x 784, 10 classes"),
        ("binary", "### binary, float32, batch 32 (MNIST 480 x 784, digits 2 vs 3"),
    ],
)
def test_tiny_run_prints_the_table(fake_mnist, tmp_path, task, heading):
    out_file = tmp_path / "table.md"
    proc = _run(
        [
            "--task",
            task,
            "--rows",
            "2000",
            "--epochs",
            "1",
            "--repeats",
            "1",
            "--contenders",
            "fastreg-numpy,sklearn-sgd",
            "--probe-mb",
            "8",
            "--out",
            str(out_file),
        ],
        fake_mnist,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert out_file.read_text() == proc.stdout
    assert "Machine: " in proc.stdout and "Streaming read GB/s: " in proc.stdout

    rows = _table_after(proc.stdout, heading)
    assert rows[0] == HEADER
    assert all(re.fullmatch(r":?-{3,}:?", cell) for cell in rows[1])  # the alignment row
    by_name = {row[0]: row for row in rows[2:]}
    assert list(by_name) == ["fastreg-numpy", "sklearn-sgd", "*machine lower bound*"]
    for name in ("fastreg-numpy", "sklearn-sgd"):
        row = by_name[name]
        assert len(row) == len(HEADER), row
        assert float(row[1]) > 0
        low, high = (float(v) for v in row[2].split("–"))
        assert low <= float(row[1]) <= high
        # the bands make the synthetic digits separable: one epoch learns them
        assert _percent(row[4]) > 90.0, row
        assert float(row[5]) >= 0  # CPUs used by other processes meanwhile
    assert by_name["fastreg-numpy"][3] == "1.00x"  # the reference when Cython is not asked for
    ratio = float(by_name["sklearn-sgd"][3].rstrip("x"))
    assert ratio == pytest.approx(
        float(by_name["sklearn-sgd"][1]) / float(by_name["fastreg-numpy"][1]), rel=0.02
    )
    floor = by_name["*machine lower bound*"]
    assert float(floor[1]) > 0 and floor[4] == "" and floor[6].startswith("max(read X, ")


@pytest.mark.requires_cython
@pytest.mark.parametrize("task", ("softmax", "binary"))
def test_both_backends_epochs_in_one_table(fake_mnist, tmp_path, task):
    """Both fastreg rows call ``get_backend(name).epoch`` (coef (K, d), K = 1 for binary)."""
    proc = _run(
        [
            "--task",
            task,
            "--rows",
            "2000",
            "--epochs",
            "1",
            "--repeats",
            "1",
            "--contenders",
            "fastreg-cython,fastreg-numpy",
            "--no-probe",
        ],
        fake_mnist,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    rows = _table_after(proc.stdout, f"### {task}, float32, batch 32")
    by_name = {row[0]: row for row in rows[2:]}
    assert list(by_name) == ["fastreg-cython", "fastreg-numpy"]
    for name, row in by_name.items():
        assert _percent(row[4]) > 90.0, row
        assert f"{name.split('-')[1]} backend's epoch" in row[6], row
    assert rows[0][3] == "÷ fastreg-cython" and by_name["fastreg-cython"][3] == "1.00x"


def test_time_to_accuracy_table(fake_mnist, tmp_path):
    proc = _run(
        [
            "--rows",
            "2000",
            "--contenders",
            "fastreg-fit,fastreg-defaults,sklearn-lbfgs",
            "--no-probe",
        ],
        fake_mnist,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    rows = _table_after(
        proc.stdout,
        "### time to accuracy: softmax, float32 (fastreg target: test accuracy >= 92.5 %)",
    )
    assert rows[0] == [
        "contender",
        "fit time (s)",
        "÷ sklearn-lbfgs",
        "test acc.",
        "other CPU",
        "notes",
    ]
    by_name = {row[0]: row for row in rows[2:]}
    assert list(by_name) == ["fastreg-fit", "fastreg-defaults", "sklearn-lbfgs"]
    lbfgs_s = float(by_name["sklearn-lbfgs"][1])
    assert lbfgs_s > 0 and by_name["sklearn-lbfgs"][2] == "1.00x"  # three significant digits
    assert "iterations" in by_name["sklearn-lbfgs"][5]
    for name, (_, seconds, ratio, accuracy, other, _notes) in by_name.items():
        assert float(other) >= 0
        assert _percent(accuracy) >= 92.5, (name, accuracy)
        assert float(ratio.rstrip("x")) == pytest.approx(float(seconds) / lbfgs_s, rel=0.02)
    # separable data: the first fit, one epoch, already reaches the target
    assert "smallest max_epochs reaching the target: 1 " in by_name["fastreg-fit"][5]
    assert "SoftmaxRegression() defaults" in by_name["fastreg-defaults"][5]
    assert "Machine: " not in proc.stdout  # --no-probe


def test_unknown_contender_is_rejected(fake_mnist, tmp_path):
    proc = _run(["--contenders", "fastreg-numpy,tensorflow"], fake_mnist, tmp_path)
    assert proc.returncode == 2
    assert "unknown contender(s) tensorflow" in proc.stderr
    assert "fastreg-cython" in proc.stderr  # the message lists the valid names


def test_missing_data_fails_fast_with_a_clear_message(tmp_path):
    """Ported: MNIST now ships with fastreg, so data are "missing" only when the files found
    are not MNIST (here garbage in FASTREG_DATA, refused by verification)."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (bad / f"{name}.gz").write_bytes(b"not gzip")
    proc = _run(["--contenders", "fastreg-numpy", "--no-probe"], bad, tmp_path, verify="1")
    assert proc.returncode == 1
    assert "MNIST is not available" in proc.stderr and "--download" in proc.stderr
    assert not (tmp_path / "cache" / "fastreg").exists()  # nothing was downloaded


def test_lower_bound_arithmetic():
    # full MNIST, 10 classes: 4 * 60000 * 784 * 10 flops, 188 MB of float32
    assert _machine.epoch_flops(60000, 784, 10) == 1_881_600_000
    assert _machine.epoch_bytes(60000, 784, 4) == 188_160_000
    assert _machine.epoch_lower_bound(0.5, 60000, 784, 10, gemm_rate=1e12) == 0.5
    assert _machine.epoch_lower_bound(1e-3, 60000, 784, 10, gemm_rate=1e9) == pytest.approx(1.8816)


def test_read_time_needs_contiguous_data():
    a = np.zeros(1 << 20, dtype=np.float32)
    one, two = _machine.read_time(a, threads=1, repeats=2), _machine.read_time(a, threads=2)
    assert 0 < one < 1 and 0 < two < 1
    with pytest.raises(ValueError, match="C-contiguous"):
        _machine.read_time(np.zeros((8, 8))[:, ::2])
