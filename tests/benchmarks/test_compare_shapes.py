"""benchmarks/compare.py --shapes, and the seams of the split (contenders, tables, spawn).

Tiny sizes only (``--rows-scale 0.001``: 64 to 500 rows a shape); no timing is asserted, only
that the tables hold what they promise: a row per (dtype, threads, batch, contender), a floor
from the probes and the ratio time / floor beside it.
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import fastreg

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "compare.py"
sys.path.insert(0, str(ROOT / "benchmarks"))
import compare_spawn  # noqa: E402
import compare_tables  # noqa: E402
import contenders  # noqa: E402
from contenders import shapes  # noqa: E402

TINY = ["--rows-scale", "0.001", "--repeats", "2", "--probe-mb", "8"]
HEADER = [
    "dtype",
    "threads",
    "batch",
    "contender",
    "ms / epoch",
    "min–max",
    "floor ms",
    "÷ floor",
    "notes",
]


def _run(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )


def _torch_missing():
    try:
        import torch  # noqa: F401
    except ImportError:
        return True
    return False


def _tables(text):
    """``{heading: rows}`` of every ``### `` table (rows as lists of cells, header first)."""
    found, heading = {}, None
    for line in text.splitlines():
        if line.startswith("### "):
            heading = line[4:]
            found[heading] = []
        elif heading and line.startswith("|"):
            found[heading].append([c.strip() for c in line.strip().strip("|").split("|")])
    return found


def test_tiny_shape_matrix_prints_rows_beside_the_floor():
    proc = _run(
        "--shapes",
        "--shape",
        "mnist",
        "binary-small",
        "text",
        "--dtype",
        "float32",
        "--batch-size",
        "32",
        "--threads",
        "1",
        *TINY,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.index("Machine (before): ") < out.index("Machine (after): ") < out.index("### ")
    tables = _tables(out)
    assert [h.split(":")[0] for h in tables] == ["mnist", "binary-small", "text"]
    assert "N 64 x d 784 x K 10 (dense)" in next(iter(tables))
    assert re.search(r"N 200 x d 100000 x K 20 \(CSR, \d+\.\d nonzeros a row\)", list(tables)[2])
    for heading, rows in tables.items():
        assert rows[0] == HEADER
        body = {row[3]: row for row in rows[2:]}
        assert list(body) == list(shapes.API_CONTENDERS), heading
        for name in ("fastreg partial_fit", "fastreg fit", "fastreg-numpy partial_fit"):
            row = body[name]
            assert row[:3] == ["float32", "1", "32"]
            ms, floor = float(row[4]), float(row[6])
            assert ms > 0 and floor > 0
            low, high = (float(v) for v in row[5].split("–"))
            assert low <= ms <= high
            assert float(row[7].rstrip("x")) == pytest.approx(ms / floor, rel=0.02)
            model = "LogisticRegression" if heading.startswith("binary") else "SoftmaxRegression"
            assert row[8].startswith(model) and "floor " in row[8]
        assert "numpy backend" in body["fastreg-numpy partial_fit"][8]
        kernel = body["fastreg kernel"]
        if "cython" in fastreg.available_backends():
            assert float(kernel[4]) > 0 and kernel[8].startswith("the compiled epoch kernel")
        else:
            assert kernel[8].startswith("not available: the compiled backend")
        if _torch_missing():
            assert body["torch"][8].startswith("not available: PyTorch is not installed")
    assert "learning_rate fixed at 0.01" in out and "fit(max_epochs=1" in out


def test_no_probe_leaves_the_floor_empty_and_subsets_contenders():
    proc = _run(
        "--shapes",
        "--shape",
        "binary-large",
        "--dtype",
        "float64",
        "--batch-size",
        "1",
        "256",
        "--threads",
        "1",
        "2",
        "--no-probe",
        "--shape-contenders",
        "fastreg fit",
        *TINY,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Machine" not in proc.stdout
    rows = next(iter(_tables(proc.stdout).values()))[2:]
    assert [(r[1], r[2], r[3]) for r in rows] == [
        ("1", "1", "fastreg fit"),
        ("1", "256", "fastreg fit"),
        ("2", "1", "fastreg fit"),
        ("2", "256", "fastreg fit"),
    ]
    assert all(r[6] == "—" and r[7] == "—" for r in rows)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--shapes", "--shape", "imagenet"], "invalid choice: 'imagenet'"),
        (["--shapes", "--shape-contenders", "jax"], "unknown shape contender(s) jax"),
        (["--shapes", "--rows-scale", "0"], "must be a positive number"),
        (["--threads", "1", "2", "--no-probe"], "several --threads are for --shapes only"),
    ],
)
def test_bad_options_are_rejected(args, message):
    proc = _run(*args)
    assert proc.returncode == 2 and message in proc.stderr


def test_shapes_worker_protocol_makes_data_once_for_every_batch_size():
    proc = _run(
        "--worker",
        "shapes",
        "--shape",
        "few-features",
        "--dtype",
        "float64",
        "--batch-size",
        "1",
        "32",
        "--threads",
        "1",
        "--shape-contenders",
        "fastreg partial_fit",
        *TINY,
    )
    assert proc.returncode == 0, proc.stderr
    line = next(s for s in proc.stdout.splitlines() if s.startswith(compare_spawn.RESULT_TAG))
    result = json.loads(line[len(compare_spawn.RESULT_TAG) :])
    assert result["status"] == "ok"
    assert (result["n"], result["d"], result["k"], result["dtype"]) == (500, 54, 7, "float64")
    assert result["bytes"] == 500 * 54 * 8 and result["flops"] == 4 * 500 * 54 * 7
    assert result["read_s"] > 0
    assert [(r["batch"], r["contender"], len(r["ms"])) for r in result["rows"]] == [
        (1, "fastreg partial_fit", 2),
        (32, "fastreg partial_fit", 2),
    ]


@pytest.mark.skipif(not _torch_missing(), reason="PyTorch is installed here")
def test_mnist_worker_reports_a_missing_library():
    proc = _run("--worker", "torch", "--no-probe")
    line = next(s for s in proc.stdout.splitlines() if s.startswith(compare_spawn.RESULT_TAG))
    result = json.loads(line[len(compare_spawn.RESULT_TAG) :])
    assert result["status"] == "not available" and "PyTorch" in result["reason"]


def test_every_contender_has_a_worker_and_a_documented_module():
    assert set(contenders.CONTENDERS) | {"machine", "floor", "shapes"} == set(contenders.WORKERS)
    modules = [
        contenders.fastreg_epoch,
        contenders.sklearn_sgd,
        contenders.torch_sgd,
        contenders.sklearn_lbfgs,
        contenders.fastreg_fit,
        contenders.probes,
        shapes,
    ]
    documented = set()
    for module in modules:
        names = getattr(module, "NAMES", None) or (module.NAME,)
        for name in names:
            assert f"``{name}``" in module.__doc__, (module.__name__, name)
        documented.update(names)
    assert documented == set(contenders.WORKERS)


def test_shape_data_are_seeded_and_scaled():
    mnist = shapes.SHAPES["mnist"]
    assert mnist.rows(1.0) == 60000 and mnist.rows(0.05) == 3000
    assert mnist.rows(1e-9) == shapes.MIN_ROWS
    many = shapes.SHAPES["classes-1000"]
    assert many.rows(0.001) == 1000 and many.rows(0.001, every_class=False) == shapes.MIN_ROWS
    X, y = shapes.make_data(mnist, 100, "float32", seed=3)
    X2, y2 = shapes.make_data(mnist, 100, "float32", seed=3)
    assert X.dtype == np.float32 and X.shape == (100, 784) and X.flags.c_contiguous
    assert np.array_equal(X, X2) and np.array_equal(y, y2) and y.dtype == np.intc
    assert set(np.unique(y)) == set(range(10))  # every class present: fit infers K from y
    _, yb = shapes.make_data(shapes.SHAPES["binary-small"], 100, "float64", seed=0)
    assert set(np.unique(yb)) == {0, 1}
    Xs, _ = shapes.make_data(shapes.SHAPES["text"], 100, "float32", seed=0)
    assert shapes.data_flops(Xs, 20) == 4 * Xs.nnz * 20
    assert shapes.data_bytes(Xs) == Xs.data.nbytes + Xs.indices.nbytes + Xs.indptr.nbytes


def test_shape_floor_takes_the_best_probe():
    before = {
        "status": "ok",
        "bandwidth": {"1": 10e9, "2": 15e9},
        "gemm": {"float32": {"1": 50e9, "2": 90e9}, "float64": {"1": 20e9}},
    }
    after = {
        "status": "ok",
        "bandwidth": {"1": 12e9, "2": 14e9},
        "gemm": {"float32": {"1": 40e9, "2": 99e9}, "float64": {"1": 25e9}},
    }
    bandwidth, gemm = compare_tables.best_rates([before, after, {"status": "failed"}])
    assert bandwidth == {"1": 12e9, "2": 15e9} and gemm["float32"] == {"1": 50e9, "2": 99e9}
    result = {"dtype": "float32", "threads": 2, "bytes": 30e6, "flops": 1e9, "read_s": 1.0}
    floor, read_s, compute_s = compare_tables.shape_floor(result, bandwidth, gemm)
    assert read_s == pytest.approx(30e6 / 15e9)
    assert compute_s == pytest.approx(1e9 / 50e9)  # the one-thread GEMM rate, as documented
    assert floor == max(read_s, compute_s)
    cached = dict(result, read_s=1e-4)  # X read faster than DRAM streams: the caches
    assert compare_tables.shape_floor(cached, bandwidth, gemm)[1] == 1e-4
    assert compare_tables.shape_floor(result, {}, {}) is None


def test_shape_rows_format_failures_and_ratios():
    result = {
        "dtype": "float64",
        "threads": 1,
        "other_cpus": 0.0,
        "rows": [
            {
                "contender": "fastreg fit",
                "batch": 32,
                "status": "ok",
                "ms": [3.0, 2.0, 4.0],
                "notes": "SoftmaxRegression on the cython backend",
            },
            {"contender": "torch", "batch": 32, "status": "not available", "reason": "no torch"},
        ],
    }
    ok, missing = compare_tables.shape_rows(result, (0.002, 0.002, 0.001))
    assert ok.startswith("| float64 | 1 | 32 | fastreg fit | 3.00 | 2.00–4.00 | 2.00 | 1.50x |")
    assert "floor read-bound" in ok
    assert missing.endswith("| — | — | — | — | not available: no torch |")


def test_mnist_command_carries_every_option():
    args = SimpleNamespace(
        epochs=2,
        repeats=3,
        fit_repeats=1,
        lr=0.5,
        l2=0.0,
        seed=0,
        threads=2,
        probe_mb=8,
        max_fit_epochs=30,
        fit_schedule="cosine",
        target_accuracy=None,
        rows=100,
        download=True,
    )
    cmd = compare_spawn.mnist_command(args, "sklearn-sgd", ("binary", "float64", 64))
    assert cmd[1] == str(SCRIPT) and cmd[2:4] == ["--worker", "sklearn-sgd"]
    for flag, value in (
        ("--task", "binary"),
        ("--dtype", "float64"),
        ("--batch-size", "64"),
        ("--rows", "100"),
        ("--threads", "2"),
    ):
        assert cmd[cmd.index(flag) + 1] == value
    assert "--download" in cmd and "--target-accuracy" not in cmd
    assert compare_spawn.worker_env(3)["OPENBLAS_NUM_THREADS"] == "3"
