"""One epoch of ``fastreg.dask.DataParallel`` against dask-ml's ``Incremental``, same blocks.

    FASTREG_DATA=/path/to/mnist python benchmarks/data_parallel.py --workers 2 --json w2.json
    FASTREG_DATA=/path/to/mnist python benchmarks/data_parallel.py --workers 1 --json w1.json

(the results and the scaling model built on them: docs/guide/cluster_scaling.md).

Starts ``LocalCluster(host="127.0.0.1", n_workers=W, threads_per_worker=1, processes=True)``
and builds the training set ON THE WORKERS: MNIST's 60000 training images (uint8, 784 pixels)
replicated to ``--rows`` rows, block i = rows [i*B, (i+1)*B) of the replicated array, each
block a ``dask.delayed`` call that loads MNIST on the worker (fastreg.datasets.load_mnist) and
takes its rows; labels likewise. Both arrays are persisted before any timing. Then, in one run,
alternating the two contenders ``--repeats`` times after one discarded warm-up of each:

a) ``DataParallel(SoftmaxRegression(input_scale=1/255, random_state=0, dtype=D),
   max_epochs=1, sync_every=S).fit(X, y, classes=0..9)``: wall time of the whole ``fit``
   (placement, first state, the round), and from ``history_`` the round's compute (slowest
   shard) and sync seconds; rows/s/worker = rows / compute / workers;
b) ``Incremental(SoftmaxRegression(same), shuffle_blocks=True, random_state=0).fit(X, y,
   classes=0..9)``: one pass over the same blocks (a chain of partial_fit tasks);

and prints the ratio of the medians a / b and the median of the per-repeat ratios (each pair
runs back to back, so it is the steadier figure on a noisy machine). The warm-up is reported
too: DataParallel's first fit also moves the blocks of a shard that the scheduler persisted on
another worker (the timed repeats find those copies in place).

Accuracy: DataParallel(max_epochs=E), Incremental (fit, then E - 1 partial_fit passes) and an
in-memory ``SoftmaxRegression(max_epochs=E, early_stopping=False).fit`` on the same replicated
rows (built in this process only for that), scored on MNIST's 10000 test images.

Synchronisation: submit + gather of a no-op task that takes and returns a float32 (K, d)
array on every worker at once (median of 50), for 4 bytes, K x d = 10 x 784 and larger
payloads (latency and bandwidth on loopback), beside the rounds' own
``history_["sync_seconds"]``. The SHA-256 of fastreg/dask/*.py and the load average go into
the JSON: the code under test and the machine's other work both change.
Prints a markdown table; ``--json PATH`` writes every number.
"""

import argparse
import functools
import hashlib
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

N_TRAIN, D, K = 60_000, 784, 10
CLASSES = np.arange(K)


@functools.cache
def _mnist():
    from fastreg.datasets import flatten, load_mnist

    data = load_mnist(download=False)
    return flatten(data.X_train), np.asarray(data.y_train)


def replicated_block(start, stop, which):
    """Rows [start, stop) of MNIST's training set tiled without end (X uint8 or y); runs on
    the worker, which reads MNIST itself (cached per process)."""
    X, y = _mnist()
    rows = np.arange(start, stop) % N_TRAIN
    return np.take(X if which == "X" else y, rows, axis=0)


def replicated_dask(client, rows, block_rows):
    """X (rows, 784) uint8 and y (rows,) as Dask arrays made and persisted on the workers."""
    import dask.array as da
    from dask.delayed import delayed
    from distributed import wait

    Xs, ys = [], []
    for start in range(0, rows, block_rows):
        stop = min(start + block_rows, rows)
        Xs.append(
            da.from_delayed(
                delayed(replicated_block, pure=True)(start, stop, "X"),
                shape=(stop - start, D),
                dtype=np.uint8,
            )
        )
        ys.append(
            da.from_delayed(
                delayed(replicated_block, pure=True)(start, stop, "y"),
                shape=(stop - start,),
                dtype=_mnist()[1].dtype,
            )
        )
    X, y = client.persist([da.concatenate(Xs), da.concatenate(ys)])
    wait([X, y])
    return X, y


def _echo(a):
    return a


def sync_cost(client, workers):
    """Median seconds to submit tasks that take and return a float32 array and gather them:
    one task per worker for payloads of 4 bytes to 31 MB (of 50 rounds; of 10 above 1 MB),
    then P = 1, 8, 32, 64 tasks with a state-sized payload (11 x 784: W and the step sizes)
    spread over the workers in turn (of 20), which gives the star's cost per shard."""
    out = {}
    warnings.filterwarnings("ignore", message="Sending large graph")
    W = len(workers)
    cases = [(s, W) for s in ((1, 1), (10, 784), (100, 784), (1000, 784), (10000, 784))]
    cases += [((11, 784), P) for P in (1, 8, 32, 64)]
    for shape, tasks in cases:
        a = np.random.default_rng(0).random(shape, dtype=np.float32)
        times = []
        for _ in range(10 if a.nbytes > 2**20 else 50 if tasks == W else 20):
            t = time.perf_counter()
            futures = [
                client.submit(_echo, a, workers=[workers[i % W]], pure=False) for i in range(tasks)
            ]
            client.gather(futures)
            times.append(time.perf_counter() - t)
        key = f"{shape[0]}x{shape[1]}" + ("" if tasks == W else f" x{tasks} tasks")
        out[key] = {"bytes": a.nbytes, "tasks": tasks, "median_s": statistics.median(times)}
    return out


def make_estimator(dtype, **kw):
    from fastreg import SoftmaxRegression

    return SoftmaxRegression(input_scale=1 / 255, random_state=0, dtype=dtype, **kw)


def run_dp(client, X, y, args, epochs):
    from fastreg.dask import DataParallel

    t = time.perf_counter()
    model = DataParallel(
        make_estimator(args.dtype), max_epochs=epochs, sync_every=args.sync_every, client=client
    ).fit(X, y, classes=CLASSES)
    return time.perf_counter() - t, model


def run_inc(X, y, args, passes):
    from dask_ml.wrappers import Incremental

    t = time.perf_counter()
    model = Incremental(make_estimator(args.dtype), shuffle_blocks=True, random_state=0)
    model.fit(X, y, classes=CLASSES)
    for _ in range(passes - 1):
        model.partial_fit(X, y, classes=CLASSES)
    return time.perf_counter() - t, model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--block-rows", type=int, default=100_000)
    p.add_argument("--epochs", type=int, default=3, help="epochs of the accuracy comparison")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--sync-every", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--no-accuracy", action="store_true", help="skip the accuracy comparison")
    args = p.parse_args(argv)

    from distributed import Client, LocalCluster

    from _machine import describe
    from fastreg.datasets import flatten, load_mnist

    test = load_mnist(download=False)
    X_test, y_test = flatten(test.X_test), np.asarray(test.y_test)
    res = {"args": {k: str(v) for k, v in vars(args).items()}, "machine": describe()}
    # fastreg.dask is young and changing: name the exact code measured
    code = sorted(Path(__file__).resolve().parents[1].glob("fastreg/dask/*.py"))
    res["fastreg_dask_sha256"] = hashlib.sha256(b"".join(f.read_bytes() for f in code)).hexdigest()
    res["load_average"] = os.getloadavg()
    print(res["machine"], flush=True)
    with (
        LocalCluster(
            host="127.0.0.1",
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(args.workers)
        workers = sorted(client.nthreads())
        t = time.perf_counter()
        X, y = replicated_dask(client, args.rows, args.block_rows)
        res["build_seconds"] = time.perf_counter() - t
        held = client.who_has(X)
        res["blocks_per_worker"] = {w: sum(w in v for v in held.values()) for w in workers}
        print(
            f"built {X.shape} {X.dtype} in {X.numblocks[0]} blocks on the workers "
            f"({res['build_seconds']:.1f} s): {res['blocks_per_worker']}",
            flush=True,
        )

        dp, inc, dp_hist, warm = [], [], [], {}
        for rep in range(args.repeats + 1):
            t_dp, model = run_dp(client, X, y, args, 1)
            t_inc, _ = run_inc(X, y, args, 1)
            h = model.history_
            row = {
                "wall": t_dp,
                "round": h["round_seconds"][0],
                "compute": h["compute_seconds"][0],
                "sync": h["sync_seconds"][0],
                "outside_rounds": t_dp - sum(h["round_seconds"]),
            }
            print(
                f"{'warm-up' if rep == 0 else f'repeat {rep}'}: DataParallel {t_dp:.3f} s "
                f"(round {row['round']:.3f}, compute {row['compute']:.3f}, sync "
                f"{row['sync']:.3f}, outside the round {row['outside_rounds']:.3f}); "
                f"Incremental {t_inc:.3f} s; ratio {t_dp / t_inc:.3f}",
                flush=True,
            )
            if rep == 0:
                local = [
                    sum(sh.worker in held[X.to_delayed().ravel()[b].key] for b in sh.blocks)
                    for sh in model.shards_
                ]
                warm = {
                    "dp": row,
                    "inc": t_inc,
                    "shards": [repr(s) for s in model.shards_],
                    "shard_blocks_already_on_its_worker": local,
                }
                print(
                    f"shards {warm['shards']}; blocks already on the shard's worker before "
                    f"the first fit: {local}",
                    flush=True,
                )
                continue
            dp.append(t_dp)
            inc.append(t_inc)
            dp_hist.append(row)
        med = {k: statistics.median(r[k] for r in dp_hist) for k in dp_hist[0]}
        res["warm_up"] = warm
        res["epoch"] = {
            "dp_seconds": dp,
            "inc_seconds": inc,
            "dp_history": dp_hist,
            "dp_median": statistics.median(dp),
            "inc_median": statistics.median(inc),
            "ratio": statistics.median(dp) / statistics.median(inc),
            "ratio_per_repeat": [a / b for a, b in zip(dp, inc)],
            "median_of_ratios": statistics.median(a / b for a, b in zip(dp, inc)),
            "dp_median_parts": med,
            "rows_per_s_per_worker": args.rows / med["compute"] / args.workers,
            "inc_rows_per_s": args.rows / statistics.median(inc),
        }
        res["sync_probe"] = sync_cost(client, workers)

        if not args.no_accuracy:
            E = args.epochs
            t_dp, model = run_dp(client, X, y, args, E)
            t_inc, inc_model = run_inc(X, y, args, E)
            acc = {
                "epochs": E,
                "dp": model.score(X_test, y_test),
                "dp_seconds": t_dp,
                "dp_sync_seconds": model.history_["sync_seconds"],
                "dp_compute_seconds": model.history_["compute_seconds"],
                "incremental": inc_model.estimator_.score(X_test, y_test),
                "inc_seconds": t_inc,
            }
    if not args.no_accuracy:
        X_np = replicated_block(0, args.rows, "X")
        y_np = replicated_block(0, args.rows, "y")
        t = time.perf_counter()
        ref = make_estimator(args.dtype, max_epochs=E, early_stopping=False).fit(X_np, y_np)
        acc["in_memory_seconds"] = time.perf_counter() - t
        acc["in_memory"] = ref.score(X_test, y_test)
        acc["gap_points"] = 100 * (acc["in_memory"] - acc["dp"])
        res["accuracy"] = acc
    res["load_average_end"] = os.getloadavg()
    report(res, args)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=float))
        print(f"wrote {args.json}")
    return res


def report(res, args):
    e, s = res["epoch"], res["sync_probe"]
    m = e["dp_median_parts"]
    print(
        f"\n### {args.rows:,} rows, {args.workers} worker(s), {args.dtype}, "
        f"blocks of {args.block_rows:,}, sync_every {args.sync_every}, "
        f"median of {args.repeats}\n"
    )
    print("| quantity | value |\n|---|---:|")
    lines = [
        ("DataParallel one epoch, whole fit (s)", f"{e['dp_median']:.3f}"),
        ("  of which the round (s)", f"{m['round']:.3f}"),
        ("  compute, slowest shard (s)", f"{m['compute']:.3f}"),
        ("  sync (round - compute) (s)", f"{m['sync']:.3f}"),
        ("  outside the round: placement, first state (s)", f"{m['outside_rounds']:.3f}"),
        ("Incremental one pass (s)", f"{e['inc_median']:.3f}"),
        ("ratio DataParallel / Incremental (medians)", f"{e['ratio']:.3f}"),
        (
            "ratio per repeat (pairs run back to back)",
            ", ".join(f"{r:.3f}" for r in e["ratio_per_repeat"]),
        ),
        ("median of the per-repeat ratios", f"{e['median_of_ratios']:.3f}"),
        ("rows/s/worker (DataParallel compute)", f"{e['rows_per_s_per_worker']:,.0f}"),
        ("rows/s (Incremental, whole pass)", f"{e['inc_rows_per_s']:,.0f}"),
    ]
    lines += [
        (
            f"submit+gather {v['tasks']} task(s) of {k.split()[0]} float32 ({v['bytes']:,} B) "
            "over the workers (ms)",
            f"{1e3 * v['median_s']:.2f}",
        )
        for k, v in s.items()
    ]
    if "accuracy" in res:
        a = res["accuracy"]
        lines += [
            (f"test accuracy after {a['epochs']} epochs: DataParallel", f"{100 * a['dp']:.2f} %"),
            ("  in-memory fit", f"{100 * a['in_memory']:.2f} %"),
            ("  Incremental", f"{100 * a['incremental']:.2f} %"),
            ("  gap in-memory - DataParallel (points)", f"{a['gap_points']:+.2f}"),
            (
                f"per epoch of these {a['epochs']}-epoch fits: DataParallel / Incremental (s)",
                f"{a['dp_seconds'] / a['epochs']:.3f} / {a['inc_seconds'] / a['epochs']:.3f} "
                f"(ratio {a['dp_seconds'] / a['inc_seconds']:.3f})",
            ),
            (
                "  DataParallel sync per round (s)",
                ", ".join(f"{x:.3f}" for x in a["dp_sync_seconds"]),
            ),
        ]
    for name, value in lines:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
