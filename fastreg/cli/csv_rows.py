"""CSV files read in blocks of rows: the one CSV reader (``train --data FILE.csv`` reads the
whole file through it, ``predict`` streams it).

CSV rules. Cells are separated by commas (quoted as the ``csv`` module reads them); blank
lines are skipped; every row has as many cells as the first. The *label column* is the one
``--target`` names (a header name, or a 0-based column index); without ``--target`` it is the
last column when training, and when predicting the last column only if the file has one
column more than the model has features. The first row is a *header* when any of its cells
outside the label column is not a number (``float()`` cannot read it); so a header whose
names are all numbers is read as data. Every other cell must be a number.
"""

import csv
import gzip
import zipfile
from pathlib import Path

import numpy as np

from .errors import check_feature_count
from .errors import refuse as _fail

MAX_LINE_CHARS = 1 << 26  # one CSV or svmlight line (64 Mi characters): more is refused
_CELLS_PER_BATCH = 1 << 18  # text cells parsed at once (bounds the Python strings held)


class CsvReader:
    """A CSV file read in blocks of rows (the rules are in the module docstring).

    Opening reads the first row and decides the header (``names``: the header's cells, or
    None) and the ``label_column`` (an index, or None). ``n_features`` None means training:
    a label column is required (default: the last) and ``--target`` must name one;
    otherwise (predicting) the label column is dropped when present and the remaining
    columns must number ``n_features``.
    """

    def __init__(self, path, *, target=None, n_features=None):
        self.path = path
        self._fh = _open_text(path)
        try:
            self._rows = self._records()
            first = next(self._rows, None)
            if first is None:
                _fail(path, "no rows", "comma-separated rows, one per sample")
            self._layout(first[1], target, n_features)
            self._first = None if self.names is not None else first
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._fh.close()

    def _records(self):
        reader = csv.reader(_bounded_lines(self._fh, self.path))
        try:
            for cells in reader:
                if cells and (len(cells) > 1 or cells[0].strip()):
                    yield reader.line_num, cells
        except csv.Error as exc:
            _fail(self.path, f"line {reader.line_num}: {exc}", "comma-separated text")
        except UnicodeDecodeError as exc:
            _fail(self.path, f"not UTF-8 text ({exc.reason})", "UTF-8 comma-separated text")
        except (EOFError, gzip.BadGzipFile, zipfile.BadZipFile) as exc:
            _fail(self.path, f"damaged gzip data ({exc})", "a whole .csv.gz file")

    def _layout(self, first, target, n_features):
        cells = [cell.strip() for cell in first]
        self.n_columns, self.names, label = len(cells), None, None
        if target is not None:
            if cells.count(target) > 1:
                _fail(self.path, f"the header names {target!r} twice", "one label column")
            if target in cells and not _is_number(target):
                label = cells.index(target)
            elif target.isdigit():
                label = int(target)
                if label >= self.n_columns and n_features is None:
                    _fail(
                        self.path,
                        f"no column {label} (--target) in rows of {self.n_columns} columns",
                        "a 0-based column index",
                    )
            elif n_features is None:
                has_header = any(not _is_number(cell) for cell in cells)
                where = f"columns: {', '.join(cells[:10])}" if has_header else "no header row"
                _fail(
                    self.path,
                    f"no column {target!r} (--target; {where})",
                    "a header name or a 0-based column index",
                )
        elif n_features is None or self.n_columns == n_features + 1:
            label = self.n_columns - 1
        if label is not None and label >= self.n_columns:
            label = None  # predicting: the label column may be absent
        self.label_column = label
        if any(not _is_number(cell) for j, cell in enumerate(cells) if j != label):
            self.names = cells
        self.n_features = self.n_columns - (label is not None)
        self.keep_labels = n_features is None  # training wants them, predicting drops them
        if n_features is not None:
            check_feature_count(self.path, self.n_features, n_features)
        if self.n_features < 1:
            _fail(self.path, "only a label column", "feature columns besides the label column")

    def blocks(self, chunk_rows):
        """Yield ``(X, labels)``: float64 rows (at most ``chunk_rows``), and their label
        cells as text (None without a label column)."""
        rows = self._rows if self._first is None else _chain(self._first, self._rows)
        parts, labels, held = [], self._labels(), 0
        lines, batch = [], []  # text rows not parsed yet, and their line numbers
        batch_rows = max(1, min(chunk_rows, _CELLS_PER_BATCH // self.n_columns))
        for line, cells in rows:
            if len(cells) != self.n_columns:
                _fail(
                    self.path,
                    f"line {line} has {len(cells)} cells",
                    f"{self.n_columns}, as in the first row",
                )
            if self.label_column is not None:
                label = cells.pop(self.label_column).strip()
                if labels is not None:
                    if not label:
                        _fail(self.path, f"line {line}: empty label", "a label in every row")
                    labels.append(label)
            lines.append(line)
            batch.append(cells)
            if len(batch) == batch_rows or held + len(batch) == chunk_rows:
                parts.append(self._parse(batch, lines))
                held += len(batch)
                lines, batch = [], []
                if held == chunk_rows:
                    yield _joined(parts), labels
                    parts, labels, held = [], self._labels(), 0
        if batch:
            parts.append(self._parse(batch, lines))
        if parts:
            yield _joined(parts), labels

    def _labels(self):
        return [] if self.label_column is not None and self.keep_labels else None

    def _parse(self, batch, lines):
        """The text rows ``batch`` as float64; CLIError naming the line and column of the
        first cell that is not a finite number."""
        try:
            out = np.array(batch, dtype=np.float64)
        except ValueError:
            out = np.empty((len(batch), self.n_features))
            for i, cells in enumerate(batch):
                for j, cell in enumerate(cells):
                    if not _is_number(cell):
                        self._bad(lines[i], j, f"{cell.strip()[:40]!r} is not a number")
                    out[i, j] = float(cell)
        bad = np.argwhere(~np.isfinite(out))
        if bad.size:
            i, j = bad[0]
            self._bad(lines[i], j, f"{out[i, j]} is not a finite number")
        return out

    def _bad(self, line, feature, what):
        label = self.label_column
        column = feature + (label is not None and feature >= label)  # the file's column
        name = f" ({self.names[column]})" if self.names is not None else ""
        _fail(
            self.path,
            f"line {line}, column {column}{name}: {what}",
            "numbers in every column but the label column",
        )


def _joined(parts):
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _chain(first, rest):
    yield first
    yield from rest


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _open_text(path):
    if Path(path).name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _bounded_lines(fh, path):
    """The lines of ``fh``, each at most MAX_LINE_CHARS (a longer one is refused)."""
    number = 0
    while True:
        line = fh.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_CHARS:
            _fail(path, f"line {number} is longer than {MAX_LINE_CHARS} characters", "rows")
        yield line
