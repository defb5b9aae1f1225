"""``fastreg predict MODEL.npz INPUT``: the label a saved model gives each row of a file.

::

    fastreg predict runs/softmax-<timestamp> test.npy > labels.csv
    fastreg predict model.npz rows.csv --proba --out predictions.csv

MODEL is a model file of ``model.save`` / ``fastreg train`` or a run folder holding
model.npz (as ``fastreg evaluate`` takes it). INPUT is read a block of ``--chunk-rows`` rows
at a time (:mod:`fastreg.cli.input_chunks`: .npy, .npz, .frd, .zarr, .csv, svmlight), so a file
larger than memory can be predicted; each block is predicted and written before the next is
read.

The output is CSV: a header, ``label`` and with ``--proba`` one column ``proba_<class>`` per
class in ``classes_`` order, then one row per input row, in order. Labels are the model's
``classes_``; the label column agrees with ``model.predict``. Probabilities are written so
that they read back exactly: ``%.9g`` for a float32 model, Python's ``repr`` (the shortest
exact form) for float64. The output goes to stdout (a closed pipe ends the command quietly,
see :func:`fastreg.cli.main`), or with ``--out FILE`` into a temporary sibling
(``.<name>.frw-<host>-<pid>-<random>.part``, :mod:`fastreg._litter`) renamed to FILE when
complete: a failure or Ctrl-C leaves no FILE. An existing FILE is replaced only with
``--overwrite``. On stdout, rows already written stay written when a later block fails.
"""

import contextlib
import copy
import csv
import os
import sys
from pathlib import Path

from .. import _litter
from .._parameters import BACKEND_NAMES
from .arg_types import positive_int
from .errors import EXIT_OK, CLIError, UsageError, check_backend
from .evaluate import load_model

PROG = "fastreg predict"
DEFAULT_CHUNK_ROWS = 65536
TEMP_SUFFIXES = (".part",)  # the output being written (named as fastreg._litter says)


def add_parser(sub, common):
    """Add the ``predict`` subcommand to the subparsers ``sub``."""
    predict = sub.add_parser(
        "predict",
        parents=[common],
        help="write the predicted label (and probabilities) of each row of a file",
        description="Predict every row of INPUT with a saved model and write CSV: a header "
        "(label, and proba_<class> per class with --proba), then one row per input row, in "
        "order. INPUT is read in blocks of --chunk-rows rows: .npy, .npz (member X), .frd, "
        ".zarr (a store of fastreg.datasets.write_zarr), "
        ".csv or .csv.gz (a label column, if present, is dropped), or svmlight "
        "(.svm, .svmlight, .libsvm).",
    )
    predict.add_argument(
        "model", metavar="MODEL.npz", help="the model file, or a run folder holding model.npz"
    )
    predict.add_argument("input", metavar="INPUT", help="the rows to predict")
    predict.add_argument(
        "--proba", action="store_true", help="also write the probability of every class"
    )
    predict.add_argument(
        "--out",
        metavar="FILE.csv",
        default=None,
        help="write to FILE (complete or not at all) instead of stdout",
    )
    predict.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out FILE when done"
    )
    predict.add_argument(
        "--chunk-rows",
        type=positive_int,
        default=DEFAULT_CHUNK_ROWS,
        metavar="N",
        help=f"rows read and predicted at a time (default: {DEFAULT_CHUNK_ROWS})",
    )
    predict.add_argument(
        "--target",
        metavar="NAME",
        default=None,
        help="CSV input: the label column to drop, by header name or 0-based index "
        "(default: the last column when the file has one column more than the model's "
        "features)",
    )
    predict.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        default=None,
        help="kernels to predict with (default: the model's setting)",
    )
    return predict


def run(args, argv=()):
    """The ``predict`` subcommand; returns the exit status."""
    from .input_chunks import iter_input_chunks

    out = _check_out(args)
    model, _ = load_model(args.model)
    if args.backend is not None:
        model.set_params(backend=args.backend)
    check_backend(model.backend, PROG)
    blocks = iter_input_chunks(
        args.input, model.n_features_in_, chunk_rows=args.chunk_rows, target=args.target
    )
    header = ["label"]
    if args.proba:
        header += [f"proba_{label}" for label in model.classes_.tolist()]
    rows = _predicted_rows(model, blocks, args.proba)
    if out is None:
        _write(sys.stdout, header, rows)
    else:
        with _atomic_file(out, args.overwrite) as fh:
            _write(fh, header, rows)
    return EXIT_OK


def _check_out(args):
    """The --out path, checked before any work: a file name in an existing folder, new
    unless --overwrite, and neither the input nor the model."""
    if args.out is None:
        if args.overwrite:
            raise UsageError("--overwrite applies to --out FILE only", prog=PROG)
        return None
    path = Path(args.out).expanduser()
    if not str(args.out).strip() or path.is_dir():
        raise CLIError(f"cannot write --out {args.out!r}: not a file name; pass --out FILE.csv")
    for given, what in ((args.input, "INPUT"), (args.model, "MODEL")):
        if path.exists() and path.resolve() == Path(given).expanduser().resolve():
            raise CLIError(f"--out {path} is the {what} file; choose another --out FILE")
    if path.exists() and not args.overwrite:
        raise CLIError(f"--out {path} exists; choose another --out FILE or pass --overwrite")
    if not path.absolute().parent.is_dir():
        raise CLIError(
            f"cannot write --out {path}: no folder {path.absolute().parent}; create it first"
        )
    return path


def _predicted_rows(model, blocks, proba):
    """Per block of input rows, the output rows: (label,) or (label, p_1, ..., p_K)."""
    import numpy as np

    number = "%.9g" if model.coef_.dtype == np.float32 else "%r"
    sparse_model = None
    for X in blocks:
        used = model
        if hasattr(X, "tocsr") and model.input_scale is not None:
            # the sparse kernels do not scale (fastreg._sparse_input): scale a copy here
            if sparse_model is None:
                sparse_model = copy.copy(model).set_params(input_scale=None)
            X = X.astype(model.coef_.dtype, copy=True)
            X.data *= model.input_scale
            used = sparse_model
        labels = used.predict(X).tolist()
        if not proba:
            yield [(label,) for label in labels]
            continue
        columns = [[number % p for p in column] for column in used.predict_proba(X).T.tolist()]
        yield list(zip(labels, *columns))


def _write(fh, header, rows):
    """The header, then the rows of each block; the header waits for the first block, so
    that an input refused at its first block writes nothing."""
    writer = csv.writer(fh, lineterminator="\n")
    started = False
    for block in rows:
        if not started:
            writer.writerow(header)
            started = True
        writer.writerows(block)
    if not started:  # no input rows: the header alone
        writer.writerow(header)


@contextlib.contextmanager
def _atomic_file(path, overwrite):
    """A text file to write; renamed to ``path`` when the block completes, else removed."""
    folder = path.absolute().parent
    _litter.remove_stale(folder, TEMP_SUFFIXES)
    temp = folder / _litter.temp_name(path.name, TEMP_SUFFIXES[0])
    try:
        fh = open(temp, "x", newline="", encoding="utf-8")
    except OSError as exc:
        raise CLIError(f"cannot write --out {path}: {exc.strerror or exc}") from exc
    try:
        with fh:
            try:
                yield fh
            except OSError as exc:
                if exc.filename is not None:  # not the output's own write: pass it on
                    raise
                raise CLIError(f"cannot write --out {path}: {exc.strerror or exc}") from exc
        _commit(temp, path, overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def _commit(temp, path, overwrite):
    if overwrite:
        os.replace(temp, path)
        return
    try:  # a hard link never replaces a file that appeared meanwhile
        os.link(temp, path)
    except FileExistsError as exc:
        raise CLIError(f"--out {path} appeared meanwhile; nothing was replaced") from exc
    except OSError:  # no hard links here (some network or FAT file systems)
        if path.exists():
            raise CLIError(f"--out {path} appeared meanwhile; nothing was replaced") from None
        os.replace(temp, path)
        return
    os.unlink(temp)
