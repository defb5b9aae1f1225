"""``fastreg sweep``: train once per value of one option, every other option shared.

::

    fastreg sweep --l2 0 0.001 0.01 0.1 1 --task softmax --out runs/l2
    fastreg sweep --shuffle on off --jobs 2

The swept option is the one given several values (``--l2``, ``--lr``, ``--batch-size``,
``--lr-schedule``, ``--shuffle``; :data:`fastreg.cli.parser.SWEEPABLE`); the others take one.
Values run in the order given; a repeated value (``--l2 0.01 1e-2``) is refused. Every value
is checked (the schedule and the backend, as ``train`` checks them) before any data is read.
The data is loaded and split once; each value then trains with :func:`.train.train_one`,
which writes a complete run folder ``<option>=<value>`` (``l2=0.001``, ``shuffle=off``) inside
the sweep folder. Then summary.csv, the overlay pictures and report.html are written beside
them, by the code ``fastreg compare`` uses (:func:`.compare.write_outputs`), from the run
folders as written. The sweep folder (``--out``, default ``runs/sweep-<option>-<timestamp>``)
is written as a temporary sibling and renamed when complete (:mod:`.run_folder`).

A value whose training diverges is recorded as failed (its row says why) and the sweep goes
on; when every value fails, nothing is written. ``--jobs N`` trains N values at a time in
worker processes started with "spawn" (a forked child would run the compiled kernels on one
thread, which may change the bits); each worker loads the data itself, so the results are
those of a sequential sweep, bit for bit. Workers show no progress bar.

Ctrl-C: the first press stops the value(s) training after the current batch (each keeps its
best weights and writes its folder, marked interrupted), starts no further value, and writes
the summary, pictures and report of what completed (values not started are rows marked
"not run"); a second press aborts at once, stops the workers, and leaves no sweep folder.
"""

import copy
import os
import signal
import sys
import warnings
from pathlib import Path

from . import compare, run_folder, summary
from .arg_types import folder_name, positive_int
from .errors import EXIT_OK, CLIError, UsageError
from .parser import SWEEPABLE, HelpFormatter, add_train_options

PROG = "fastreg sweep"


def add_parser(sub, common):
    p = sub.add_parser(
        "sweep",
        parents=[common],
        formatter_class=HelpFormatter,
        help="train once per value of one option and compare the runs",
        description="Give one of --l2, --lr, --batch-size, --lr-schedule or --shuffle several "
        "values (e.g. --l2 0 0.001 0.01 0.1 1); every other option is shared. Writes one run "
        "folder per value (as `fastreg train` writes it), summary.csv, val_loss.png, "
        "val_accuracy.png, final_accuracy.png, weight_norm.png, weights.png and report.html "
        "into --out. The first Ctrl-C stops the running value(s), keeping their best weights, "
        "and writes what completed; a second one aborts and writes nothing.",
    )
    add_train_options(p, sweep=True)
    out = p.add_argument_group("sweep")
    out.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        type=folder_name,
        help="the sweep folder, written as a temporary sibling and renamed when complete "
        "(default: runs/sweep-<option>-<timestamp>/)",
    )
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier sweep in --out, once the new one is complete",
    )
    out.add_argument(
        "--jobs",
        metavar="N",
        type=positive_int,
        default=1,
        help="values trained at a time, in worker processes (results identical to --jobs 1)",
    )
    return p


def run(args, argv=()):
    """The ``sweep`` subcommand; returns the exit status."""
    from .train import check_model_options

    param, values = swept_option(args)
    per_value = [args_for_value(args, param, value) for value in values]
    for value_args in per_value:
        check_model_options(value_args)
    name = summary.option_label(param)
    folder = run_folder.prepare_out_dir(
        args.out, f"sweep-{name}", overwrite=args.overwrite, holds=compare.is_output_entry
    )
    folders = [summary.folder_name(param, value) for value in values]
    try:
        with folder.writing() as temp:
            trainer = _Parallel(args.jobs) if args.jobs > 1 and len(values) > 1 else _Sequential()
            outcomes = trainer.train_all(per_value, argv, [temp / f for f in folders], folders)
            rows, written = _write_summary(temp, param, values, folders, outcomes, args.no_plots)
    except BaseException:
        folder.abandon()
        raise
    print(summary.format_table(rows, name), flush=True)
    not_run = sum(row["status"] == "not run" for row in rows)
    if not_run:
        print(f"  sweep interrupted: {not_run} of {len(rows)} values not run", flush=True)
    print(f"  wrote {folder.path}/: {', '.join(written)}", flush=True)
    return EXIT_OK


def swept_option(args):
    """(the parameter swept, its values); UsageError unless exactly one option has several
    values, each given once."""
    given = {p: getattr(args, p) for p in SWEEPABLE if hasattr(args, p)}
    several = [p for p, values in given.items() if len(values) > 1]
    if not several:
        raise UsageError(
            "give one option two values or more to sweep, e.g. --l2 0 0.01 0.1 (options that "
            f"sweep: {', '.join(SWEEPABLE.values())})",
            prog=PROG,
        )
    if len(several) > 1:
        flags = " and ".join(SWEEPABLE[p] for p in several)
        raise UsageError(
            f"a sweep varies one option: {flags} both have several values; give the others "
            "one value, or run one sweep per option",
            prog=PROG,
        )
    param = several[0]
    values = given[param]
    for k, value in enumerate(values):
        if value in values[:k]:
            raise UsageError(
                f"{SWEEPABLE[param]} lists {summary.value_text(value)} twice; give each value "
                "once",
                prog=PROG,
            )
    return param, list(values)


def args_for_value(args, param, value):
    """A copy of the sweep's ``args`` as ``train`` takes them: ``param`` set to ``value``,
    the other swept options (given one value each) to that value."""
    one = copy.copy(args)
    for p in SWEEPABLE:
        if hasattr(one, p):
            setattr(one, p, getattr(one, p)[0])
    setattr(one, param, value)
    return one


# --------------------------------------------------------------------------- training
NOT_RUN = "not run"


class _Sequential:
    """The values one after the other, in this process."""

    def train_all(self, per_value, argv, paths, labels):
        """One outcome per value: metrics.json's dict, a CLIError (failed), or NOT_RUN."""
        from .interrupt import graceful_interrupts
        from .training_data import load_training_data

        outcomes = []
        with graceful_interrupts() as stop:
            data = load_training_data(per_value[0])
            for k, (value_args, path) in enumerate(zip(per_value, paths)):
                if stop.requested:
                    outcomes.append(NOT_RUN)
                    continue
                _announce(k, len(paths), labels[k])
                outcomes.append(_train(value_args, argv, data, path, not value_args.no_progress))
                # train_one shares ``stop``: a press during a value ends the loop above
                _report(labels[k], outcomes[-1])
        return outcomes


def _train(value_args, argv, data, path, show_progress):
    from .train import train_one

    try:
        metrics, _ = train_one(value_args, argv, data, path, show_progress=show_progress)
    except CLIError as exc:  # diverged: a result of the sweep, not its end
        return exc
    return metrics


def _announce(k, n, label):
    print(f"[{k + 1}/{n}] {label}", flush=True)


def _report(label, outcome):
    if isinstance(outcome, CLIError):
        print(f"  {label} failed: {outcome}", flush=True)
    elif isinstance(outcome, dict):
        test = (outcome.get("test") or {}).get("accuracy")
        shown = f"{100 * test:.2f}% test accuracy, " if isinstance(test, float) else ""
        mark = " (interrupted)" if outcome.get("interrupted") else ""
        print(f"  {label}: {shown}{outcome.get('epochs_run')} epochs{mark}", flush=True)


class _Parallel:
    """At most ``jobs`` values at a time in spawned worker processes.

    Values are handed out one per free worker (never queued ahead), so that after the first
    Ctrl-C none starts. Each worker tells the parent its pid when a task starts and ends,
    so that a press is forwarded to the busy ones only (SIGUSR1: stop gracefully; SIGTERM on
    the second: abort); an idle worker just exits at shutdown.
    """

    def __init__(self, jobs):
        self.jobs = jobs

    def train_all(self, per_value, argv, paths, labels):
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        from .interrupt import STOP_SIGNAL, graceful_interrupts

        context = multiprocessing.get_context("spawn")
        self.events, self.busy = context.SimpleQueue(), set()
        self.stopping = context.Event()
        outcomes = [NOT_RUN] * len(paths)
        pending = list(range(len(paths)))
        executor = ProcessPoolExecutor(
            max_workers=min(self.jobs, len(paths)),
            mp_context=context,
            initializer=_worker_start,
            initargs=(self.events, self.stopping),
        )
        running = {}
        try:
            with graceful_interrupts(on_first=lambda: self._signal(STOP_SIGNAL)) as stop:
                while pending or running:
                    while pending and len(running) < self.jobs and not stop.requested:
                        k = pending.pop(0)
                        _announce(k, len(paths), labels[k])
                        future = executor.submit(_worker_train, per_value[k], argv, paths[k])
                        running[future] = k
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        k = running.pop(future)
                        outcomes[k] = future.result()  # a worker's own error is raised here
                        _report(labels[k], outcomes[k])
        except BaseException:  # the second press, or an error: stop what still runs
            self.stopping.set()
            self._signal(signal.SIGTERM)
            executor.shutdown(wait=True, cancel_futures=True)
            raise
        executor.shutdown(wait=True)
        return outcomes

    def _signal(self, signum):
        """Send ``signum`` to the workers training a value now."""
        self.stopping.set()
        while not self.events.empty():
            what, pid = self.events.get()
            (self.busy.add if what == "start" else self.busy.discard)(pid)
        for pid in self.busy if signum is not None else ():  # no SIGUSR1 on Windows
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass


_stopping = None
_events = None
_data = None


def _worker_start(events, stopping):
    """A worker's initializer: the signals of :func:`.interrupt.worker_init`, and the queue
    and event the parent shares."""
    global _events, _stopping
    from .interrupt import worker_init

    worker_init()
    _events, _stopping = events, stopping
    warnings.showwarning = _show_warning


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A worker's warnings as the command line shows them: one ``fastreg: warning:`` line."""
    print(f"fastreg: warning: {message}", file=sys.stderr, flush=True)


def _worker_train(value_args, argv, path):
    """Train one value in a worker: the outcome as :meth:`_Sequential.train_all` gives it."""
    global _data
    from .interrupt import worker_interrupts
    from .training_data import load_training_data

    if _stopping.is_set():
        return NOT_RUN
    _events.put(("start", os.getpid()))
    try:
        if _data is None:  # once per worker: the same arrays as a sequential sweep's
            _data = load_training_data(value_args)
        with worker_interrupts():
            if _stopping.is_set():
                return NOT_RUN
            return _train(value_args, argv, _data, path, show_progress=False)
    finally:
        _events.put(("end", os.getpid()))


# --------------------------------------------------------------------------- summary
def _write_summary(temp, param, values, folders, outcomes, no_plots):
    """Read back the run folders written, and write the summary, pictures and report."""
    runs, run_values, labels, rows, links = [], [], [], [], []
    for value, name, outcome in zip(values, folders, outcomes):
        text = summary.value_text(value)
        if isinstance(outcome, dict):
            run = summary.read_run(Path(temp) / name)
            runs.append(run)
            run_values.append(value)
            labels.append(f"{summary.option_label(param)}={text}")
            rows.append(summary.run_row(run, text, name))
            links.append(name)
        elif isinstance(outcome, CLIError):
            rows.append(summary.missing_row(text, "failed", str(outcome)))
            links.append(None)
        else:
            rows.append(summary.missing_row(text, NOT_RUN))
            links.append(None)
    if not runs:
        if any(isinstance(o, CLIError) for o in outcomes):
            raise CLIError(
                "every value of the sweep failed (" + "; ".join(map(str, outcomes)) + "); "
                "nothing was written"
            )
        raise KeyboardInterrupt  # interrupted before any value was trained
    written = compare.write_outputs(
        temp,
        runs,
        run_values,
        labels,
        rows,
        summary.option_label(param),
        links=links,
        swept=SWEEPABLE[param],
        plots=not no_plots,
        warn=False,  # without matplotlib, the runs' own pictures warned already
    )
    return rows, [*folders, *written]
