"""Train on a dataset file larger than memory, and measure the peak resident memory it takes.

The recipe ("Larger than RAM" in the manual, docs/guide/out_of_core.rst): convert once to a
dataset file, then stream it chunk by chunk through ``partial_fit``; each chunk is its own
memory mapping, released before the next one is used, so resident memory stays near one chunk
whatever the file size::

    python benchmarks/out_of_core.py --size-mb 4096 --chunk-mb 64 --epochs 2

writes a synthetic file of 4 GiB (uint8 rows of 784 "pixels", 10 classes; each class a random
prototype image plus uniform noise larger than the prototypes differ, so a linear model gets
about 92%; the rows generated a block at a time), then trains
``SoftmaxRegression(input_scale=1/255, dtype="float32")`` over it in a child process and prints
what the child measured: the resident-set peak (``getrusage(RUSAGE_SELF).ru_maxrss``) before
training, after imports and a warm-up fit (the peak is first lowered to the current resident set
through /proc/self/clear_refs, so the imports' transients do not hide what follows), and after
it; the growth between the two is what training over the file cost. ``--mode whole`` trains
over slices of one mapping of the whole file instead, the naive way, as a control: its pages
stay resident, and the growth is the file.
``--limit-mb`` caps the child's address space (RLIMIT_AS) after the warm-up, so the file cannot
be mapped at once: only streaming can train then. ``--json`` prints one JSON object instead of
the table (tests/test_out_of_core.py reads it).
"""

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

N_FEATURES = 784
N_CLASSES = 10
SPREAD = 12  # class prototypes: 128 +- SPREAD per pixel (pixel units)
NOISE = 110  # uniform noise amplitude around a prototype: classes overlap (~90% acc.)
SEED = 20261126
BLOCK_ROWS = 20_000  # rows generated at a time (16 MB)
TEST_BLOCK = 2**31  # the block index of the test rows: far beyond any file's blocks


def prototypes(seed=SEED):
    """One random uint8 image per class: the mean every row of that class scatters around."""
    spread = np.random.default_rng(seed).integers(
        -SPREAD, SPREAD + 1, size=(N_CLASSES, N_FEATURES), dtype=np.int16
    )
    return 128 + spread


def synthetic_block(block_index, rows, seed=SEED):
    """Rows ``(X uint8 (rows, 784), y uint8)`` of block ``block_index``; same seed, same rows."""
    rng = np.random.default_rng([seed, block_index])
    y = rng.integers(0, N_CLASSES, size=rows).astype(np.uint8)
    noise = rng.integers(-NOISE, NOISE + 1, size=(rows, N_FEATURES), dtype=np.int16)
    X = np.clip(prototypes(seed)[y] + noise, 0, 255).astype(np.uint8)
    return X, y


def make_file(path, size_bytes, seed=SEED):
    """Write a synthetic dataset file of about ``size_bytes`` of X; returns its row count."""
    from fastreg.datasets import DatasetWriter

    n_rows = max(1, size_bytes // N_FEATURES)
    with DatasetWriter(path, N_FEATURES, np.uint8, overwrite=True) as out:
        for b, start in enumerate(range(0, n_rows, BLOCK_ROWS)):
            out.append(*synthetic_block(b, min(BLOCK_ROWS, n_rows - start), seed))
    return n_rows


def peak_rss_bytes():
    """This process's resident-set peak so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss():
    """Lower the recorded peak to the current resident set (Linux >= 4.0: clear_refs 5), so
    that a later peak measures what came after, not the imports' transients. Returns whether
    the kernel took it (``ru_maxrss`` then follows the new peak)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def train(path, mode, chunk_bytes, epochs, limit_bytes=None):
    """Child process: train over the file and return the measurements (a dict)."""
    from fastreg import SoftmaxRegression
    from fastreg.datasets import open_dataset

    data = open_dataset(path)
    X_test, y_test = synthetic_block(TEST_BLOCK, 10_000)
    model = SoftmaxRegression(
        input_scale=1 / 255, dtype="float32", random_state=0, learning_rate=0.05
    )
    # warm-up: load everything a fit touches (scikit-learn, the kernels) before the baseline
    warm = SoftmaxRegression(input_scale=1 / 255, dtype="float32")
    warm.partial_fit(X_test[:100], y_test[:100], classes=data.classes)
    warm.score(X_test[:100], y_test[:100])
    if limit_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
    del warm
    gc.collect()
    reset = reset_peak_rss()
    baseline = peak_rss_bytes()
    chunk_rows = data.chunk_rows_for(chunk_bytes)
    start = time.perf_counter()
    chunks = 0
    for epoch in range(epochs):
        if mode == "chunks":
            for X_chunk, y_chunk in data.chunks(chunk_rows, shuffle=True, random_state=epoch):
                model.partial_fit(X_chunk, y_chunk, classes=data.classes)
                chunks += 1
        else:  # the control: slices of one mapping of the whole file
            X, y = data.X, data.y
            for lo in range(0, len(data), chunk_rows):
                model.partial_fit(
                    X[lo : lo + chunk_rows], y[lo : lo + chunk_rows], classes=data.classes
                )
                chunks += 1
    seconds = time.perf_counter() - start
    peak = peak_rss_bytes()
    return {
        "mode": mode,
        "file_bytes": data.nbytes,
        "n_samples": len(data),
        "chunk_rows": chunk_rows,
        "chunk_bytes": chunk_rows * data.row_bytes,
        "epochs": epochs,
        "partial_fit_calls": chunks,
        "train_seconds": seconds,
        "rows_per_second": epochs * len(data) / seconds,
        "baseline_rss_bytes": baseline,
        "peak_rss_bytes": peak,
        "growth_bytes": peak - baseline,
        "peak_was_reset": reset,
        "limit_as_bytes": limit_bytes,
        "test_accuracy": model.score(X_test, y_test),
        "backend": model.backend_,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", help="dataset file to train on (created when missing)")
    parser.add_argument(
        "--size-mb",
        type=float,
        default=512,
        help="size of X in the generated file, MiB (default 512)",
    )
    parser.add_argument("--chunk-mb", type=float, default=64, help="MiB of X per chunk")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--mode", choices=("chunks", "whole"), default="chunks")
    parser.add_argument(
        "--limit-mb",
        type=float,
        default=None,
        help="cap the child's address space (RLIMIT_AS) at this many MiB",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    limit = int(args.limit_mb * 2**20) if args.limit_mb else None

    if args.child:
        print(
            json.dumps(train(args.file, args.mode, int(args.chunk_mb * 2**20), args.epochs, limit))
        )
        return 0

    made, folder = False, None
    path = args.file
    generate_seconds = 0.0
    if path is None or not os.path.exists(path):
        if path is None:
            folder = tempfile.mkdtemp(prefix="fastreg-ooc-")
            path = os.path.join(folder, "synthetic.frd")
        start = time.perf_counter()
        make_file(path, int(args.size_mb * 2**20))
        generate_seconds = time.perf_counter() - start
        made = True
    try:
        child = [
            sys.executable,
            os.path.abspath(__file__),
            "--child",
            "--file",
            path,
            "--mode",
            args.mode,
            "--chunk-mb",
            str(args.chunk_mb),
            "--epochs",
            str(args.epochs),
        ]
        if args.limit_mb:
            child += ["--limit-mb", str(args.limit_mb)]
        done = subprocess.run(child, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stderr)
            print(
                f"out_of_core: the training child failed (exit {done.returncode})", file=sys.stderr
            )
            return 1
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["generate_seconds"] = generate_seconds
    finally:
        if made and not args.keep:
            os.unlink(path)
            if folder:
                os.rmdir(folder)
    if args.json:
        print(json.dumps(result))
    else:
        mib = 2**20
        print(
            f"file {result['file_bytes'] / mib:,.0f} MiB, {result['n_samples']:,} rows; "
            f"chunks of {result['chunk_bytes'] / mib:.0f} MiB; mode {result['mode']}; "
            f"backend {result['backend']}"
        )
        print(
            f"peak RSS {result['peak_rss_bytes'] / mib:,.0f} MiB, before training "
            f"{result['baseline_rss_bytes'] / mib:,.0f} MiB: training added "
            f"{result['growth_bytes'] / mib:,.0f} MiB"
        )
        print(
            f"{result['epochs']} epoch(s), {result['partial_fit_calls']} partial_fit calls in "
            f"{result['train_seconds']:.1f} s ({result['rows_per_second']:,.0f} rows/s); "
            f"test accuracy {result['test_accuracy']:.4f}"
            + (f"; file generated in {generate_seconds:.1f} s" if made else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
