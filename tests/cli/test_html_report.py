"""report.html of a run folder and of a sweep folder (fastreg.cli.html_report).

Every page is parsed with the standard library's HTMLParser and checked the way a reader
would: the tags are balanced, the numbers of the record are in the text, the confusion matrix
is a heat map (counts in cells coloured by their share of the row, text readable on them), the
pictures are inlined PNGs, nothing is fetched from elsewhere, users' strings are escaped, and
nulls of runs without a validation or test set show as a dash. The pictures are tiny valid
PNGs written here with zlib, so the tests run without matplotlib. One real-MNIST test renders
the report of a real training run.
"""

import base64
import json
import os
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fastreg.cli import html_report
from fastreg.cli.html_parts import MISSING, heat_colour, relative_link, text_colour
from fastreg.cli.html_report import write_run_report, write_sweep_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
INLINE = {"a", "b", "code", "em", "i", "span", "strong"}


def tiny_png(rgb=(255, 0, 0)):
    """A valid 1x1 RGB PNG."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + bytes(rgb))
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


class Page(HTMLParser):
    """The parsed page: every start tag with its attributes, the text, and whether each
    non-void tag was closed in order (``errors`` lists what was not)."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.stack, self.errors, self.chunks, self.head = [], [], [], [], []
        self.cells = []  # (text, attrs) of each <td> of the heat map
        self._cell = None
        self.feed(text)
        self.close()
        self.errors += [f"<{tag}> never closed" for tag in self.stack]
        self.text = " ".join("".join(self.chunks).split())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag not in INLINE:
            self.chunks.append(" ")  # cells and items read as separate words
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "td":
            self._cell = ([], attrs)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.errors.append(f"<{tag}/> self-closed")

    def handle_endtag(self, tag):
        if tag not in INLINE:
            self.chunks.append(" ")
        if tag in VOID:
            self.errors.append(f"</{tag}> closes a void element")
        elif not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()
        if tag == "td" and self._cell is not None:
            self.cells.append(("".join(self._cell[0]).strip(), self._cell[1]))
            self._cell = None

    def handle_data(self, data):
        if self.stack and self.stack[-1] in ("style", "title"):
            self.head.append(data)
            return
        self.chunks.append(data)
        if self._cell is not None:
            self._cell[0].append(data)

    def named(self, tag):
        return [attrs for t, attrs in self.tags if t == tag]


def read_page(folder):
    html = (Path(folder) / "report.html").read_text(encoding="utf-8")
    page = Page(html)
    assert page.errors == []
    assert html.startswith("<!DOCTYPE html>")
    return page, html


def metrics(**changes):
    """A record with the keys of fastreg.cli.train.metrics_record (and the new ones)."""
    m = {
        "fastreg_version": "9.8.7",
        "command": "fastreg train --task softmax --epochs 3 --out run",
        "created": "2026-12-01T15:00:00+00:00",
        "task": "softmax",
        "estimator": "SoftmaxRegression",
        "dataset": "mnist",
        "data": {"source": "mnist", "kind": "idx"},
        "digits": None,
        "class_names": ["cat", "dog", "eel"],
        "n_train": 540,
        "n_validation": 60,
        "n_test": 30,
        "val_fraction": 0.1,
        "seed": 0,
        "backend": "numpy",
        "dtype": "float32",
        "params": {"l2": 0.0005, "batch_size": 32, "early_stopping": True, "patience": 7},
        "learning_rate_used": 0.0642429,
        "epochs_run": 3,
        "best_epoch": 2,
        "stopped_early": False,
        "steps": 51,
        "wall_time_s": 1.25,
        "seconds_per_epoch": 0.41666,
        "total_time_s": 3.5,
        "train": {"loss": 0.28301, "accuracy": 0.92154, "n_samples": 540},
        "validation": {"loss": 0.30172, "accuracy": 0.91818, "n_samples": 60},
        "test": {"loss": 0.45281, "accuracy": 0.89562, "n_samples": 30},
        "test_confusion_matrix": [[8, 2, 0], [1, 9, 0], [0, 0, 10]],
        "interrupted": False,
        "weight_norm_sq": 12.375,
        "image_shape": [28, 28],
        "machine": {
            "platform": "Linux-test-platform",
            "processor": "Test CPU 3000",
            "cpu_count": 2,
            "python": "3.11.2",
            "numpy": "1.26.4",
        },
    }
    m.update(changes)
    return m


def run_folder(tmp_path, pictures=("loss.png", "accuracy.png", "weights.png")):
    folder = tmp_path / "run"
    folder.mkdir()
    for k, name in enumerate(pictures):
        (folder / name).write_bytes(tiny_png((k * 80, 10, 200)))
    return folder


def external(page):
    """The src/href values that would fetch something from elsewhere."""
    urls = [a.get(k) or "" for _, a in page.tags for k in ("src", "href")]
    return [u for u in urls if re.match(r"(?i)\s*(https?:|//|file:|ftp:|javascript:)", u)]


# --------------------------------------------------------------------------- run report
def test_run_report_holds_the_record(tmp_path):
    folder = run_folder(tmp_path)
    (folder / "metrics.json").write_text("{}")
    assert write_run_report(folder, metrics()) == "report.html"
    page, html = read_page(folder)
    text = page.text
    assert "<title>Softmax regression on MNIST (3 classes)</title>" in html
    assert text.startswith("Softmax regression on MNIST (3 classes)")
    # results: loss to 4 decimals, accuracy as a percentage, sizes
    for expected in ("0.2830", "92.15%", "0.3017", "91.82%", "0.4528", "89.56%", "540"):
        assert expected in text, expected
    # training facts, parameters, command, machine
    for expected in (
        "epochs run 3",
        "best epoch 2",
        "stopped early no (early stopping on, patience 7)",
        "1.250 s",
        "0.417 s",
        "12.375",
        "l2 0.0005",
        "batch_size 32",
        "fastreg train --task softmax --epochs 3 --out run",
        "Linux-test-platform",
        "Test CPU 3000",
        "fastreg 9.8.7",
    ):
        assert expected in text, expected
    assert "Interrupted" not in text
    assert [a["href"] for a in page.named("a")] == ["./metrics.json"]  # the files present
    assert external(page) == []
    assert not page.named("script") and not page.named("link")
    assert "http:" not in html and "https:" not in html and "url(" not in html


def test_confusion_matrix_is_a_heat_map(tmp_path):
    folder = run_folder(tmp_path, pictures=())
    write_run_report(folder, metrics(test_confusion_matrix=[[8, 2, 0], [1, 9, 0], [0, 0, 10]]))
    page, _ = read_page(folder)
    heat = [(t, a) for t, a in page.cells if "background-color" in a.get("style", "")]
    assert [t for t, _ in heat] == ["8", "2", "0", "1", "9", "0", "0", "0", "10"]
    colours = []
    for _, attrs in heat:
        found = re.search(
            r"background-color:\s*rgb\((\d+), (\d+), (\d+)\);\s*color:\s*(#000|#fff)",
            attrs["style"],
        )
        assert found, attrs["style"]
        bg = tuple(int(x) for x in found.groups()[:3])
        fg = (0, 0, 0) if found[4] == "#000" else (255, 255, 255)
        assert contrast(bg, fg) >= 4.5  # WCAG AA for the count on its cell
        colours.append(sum(bg))
    # darker = larger share of the row: 10/10 darkest, 0 lightest, 9/10 darker than 8/10
    assert colours[8] == min(colours) and colours[2] == max(colours)
    assert colours[4] < colours[0] < colours[1] < colours[2]
    assert colours[0] != colours[3]  # 8 of 10 and 1 of 10 differ
    # row labels (true class) and column labels (predicted) name the classes; recall per row
    heads = [t for t, a in page.tags if t == "th"]
    assert len(heads) >= 3 + 2 + 3  # corner, 3 columns, recall, 3 rows
    for expected in ("cat", "dog", "eel", "80.00%", "90.00%", "100.00%", "recall"):
        assert expected in page.text
    diagonal = [t for t, a in heat if a.get("class") == "diag"]
    assert diagonal == ["8", "9", "10"]


def contrast(a, b):
    def luminance(rgb):
        c = [x / 255 for x in rgb]
        c = [x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_heat_colours_span_the_scale_and_text_stays_readable():
    assert heat_colour(0.0) == (247, 251, 255) and heat_colour(1.0) == (8, 48, 107)
    shares = [k / 50 for k in range(51)]
    sums = [sum(heat_colour(s)) for s in shares]
    assert sums == sorted(sums, reverse=True)  # monotone: more is darker
    for s in shares:
        bg = heat_colour(s)
        fg = (0, 0, 0) if text_colour(bg) == "#000" else (255, 255, 255)
        assert contrast(bg, fg) >= 4.5, s


def test_pictures_are_inlined_pngs(tmp_path):
    folder = run_folder(tmp_path)
    write_run_report(folder, metrics())
    page, _ = read_page(folder)
    sources = [a["src"] for a in page.named("img")]
    assert len(sources) == 3
    for src, name in zip(sources, ("loss.png", "accuracy.png", "weights.png")):
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        data = base64.b64decode(src[len(prefix) :], validate=True)
        assert data.startswith(PNG_SIGNATURE)
        assert data == (folder / name).read_bytes()
    assert all(a.get("alt") for a in page.named("img"))


def test_missing_or_broken_pictures_are_left_out(tmp_path):
    folder = run_folder(tmp_path, pictures=("accuracy.png",))
    (folder / "weights.png").write_bytes(b"GIF89a not a png")
    write_run_report(folder, metrics())
    page, _ = read_page(folder)
    assert len(page.named("img")) == 1
    assert "Accuracy during training" in page.text

    empty = tmp_path / "empty"
    empty.mkdir()
    write_run_report(empty, metrics())
    page, _ = read_page(empty)
    assert page.named("img") == [] and "No pictures in this folder" in page.text


def test_users_strings_are_escaped(tmp_path):
    folder = run_folder(tmp_path, pictures=())
    hostile = "<script>alert(1)</script>"
    record = metrics(
        dataset=None,
        data={"source": "/data/cats & dogs/<b>set</b>.csv", "kind": "csv"},
        class_names=[hostile, 'a"b', "x&y"],
        command='fastreg train --data "/data/cats & dogs/<b>set</b>.csv" <img src=x>',
        params={"class_weight": "<i>balanced</i>", "l2": 0.1},
        machine={"processor": "<marquee>cpu</marquee>"},
    )
    write_run_report(folder, record)
    page, html = read_page(folder)
    tags = {t for t, _ in page.tags}
    assert not tags & {"script", "b", "i", "marquee"}
    assert page.named("img") == []  # the <img src=x> of the command stays text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "cats &amp; dogs" in html and "cats & dogs" not in html
    # the reader sees the strings as they were
    assert hostile in page.text and "/data/cats & dogs/<b>set</b>.csv" in page.text
    assert "<i>balanced</i>" in page.text and 'a"b' in page.text
    assert page.text.startswith("Softmax regression on /data/cats & dogs/<b>set</b>.csv (csv)")


def test_no_validation_and_no_test_set(tmp_path):
    folder = run_folder(tmp_path, pictures=())
    record = metrics(
        validation=None,
        n_validation=0,
        val_fraction=0.0,
        test=None,
        n_test=0,
        test_confusion_matrix=None,
    )
    write_run_report(folder, record)
    page, _ = read_page(folder)
    rows = re.findall(r"(train|validation|test) (\S+) (\S+) (\S+)", page.text)
    assert ("validation", "0", MISSING, MISSING) in rows
    assert ("test", "0", MISSING, MISSING) in rows
    assert ("train", "540", "0.2830", "92.15%") in rows
    assert "No validation set: the run had --val-fraction 0." in page.text
    assert "No test set" in page.text and "no confusion matrix" in page.text
    assert not [a for t, a in page.tags if t == "table" and a.get("class") == "heat"]


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"task": "binary"},
        # a record of an older fastreg: no interrupted, data, weight_norm_sq, image_shape
        {
            k: v
            for k, v in metrics().items()
            if k not in ("interrupted", "data", "weight_norm_sq", "image_shape")
        },
        metrics(test_confusion_matrix=[[1, 2], [3]], class_names="not a list", params=None),
        metrics(train={"loss": None, "accuracy": "n/a"}, epochs_run=None, machine="old"),
    ],
)
def test_records_with_missing_keys_do_not_crash(tmp_path, record):
    folder = run_folder(tmp_path)
    assert write_run_report(folder, record) == "report.html"
    page, _ = read_page(folder)
    assert len(page.named("img")) == 3


def test_binary_title_names_the_pair(tmp_path):
    folder = run_folder(tmp_path, pictures=())
    record = metrics(
        task="binary",
        estimator="LogisticRegression",
        digits={"positive": 2, "negative": 3},
        class_names=["3", "2"],
        test_confusion_matrix=[[5, 1], [0, 6]],
    )
    write_run_report(folder, record)
    page, _ = read_page(folder)
    assert page.text.startswith("Logistic regression on MNIST, 2 (label 1) vs 3 (label 0)")


def test_interrupted_banner(tmp_path):
    folder = run_folder(tmp_path, pictures=())
    write_run_report(folder, metrics(interrupted=True))
    page, _ = read_page(folder)
    banners = [a for t, a in page.tags if a.get("class") == "banner"]
    assert len(banners) == 1 and "Interrupted." in page.text


def test_write_replaces_atomically(tmp_path, monkeypatch):
    folder = run_folder(tmp_path, pictures=())
    (folder / "report.html").write_text("old report")
    write_run_report(folder, metrics())
    assert "Softmax regression" in (folder / "report.html").read_text(encoding="utf-8")
    assert sorted(os.listdir(folder)) == ["report.html"]  # no temporary file left

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    before = (folder / "report.html").read_bytes()
    with pytest.raises(OSError):
        write_run_report(folder, metrics(epochs_run=99))
    assert (folder / "report.html").read_bytes() == before
    assert sorted(os.listdir(folder)) == ["report.html"]


# --------------------------------------------------------------------------- sweep report
def sweep_rows():
    base = {
        "epochs_run": 5,
        "best_epoch": 5,
        "train_loss": 0.3,
        "train_accuracy": 0.9,
        "test_loss": None,
        "test_accuracy": None,
        "weight_norm_sq": 10.5,
        "wall_time_s": 0.5,
        "interrupted": False,
    }
    return [
        {**base, "value": 0.0, "val_loss": 0.30172, "val_accuracy": 0.91},
        {**base, "value": 0.001, "val_loss": 0.28765, "val_accuracy": 0.925},
        {**base, "value": 0.01, "val_loss": None, "val_accuracy": None, "epochs_run": 2},
    ]


def test_sweep_report(tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "val_loss.png").write_bytes(tiny_png())
    runs = [("--l2 0", "l2-0"), ("--l2 0.001", "l2-0.001"), ("--l2 0.01", "l2-0.01")]
    (folder / "l2-0").mkdir()
    (folder / "l2-0" / "metrics.json").write_text(json.dumps(metrics()))
    result = write_sweep_report(
        folder, swept="--l2", rows=sweep_rows(), pictures=["val_loss.png", "gone.png"], runs=runs
    )
    assert result == "report.html"
    page, html = read_page(folder)
    assert page.text.startswith("Sweep of --l2 Softmax regression on MNIST (3 classes): 3 values")
    for expected in ("0.3017", "0.2877", "92.50%", "0.001", "10.5", "0.500 s"):
        assert expected in page.text, expected
    # the row of the lowest validation loss is marked; test columns without values are dropped
    best = [i for i, (t, a) in enumerate(page.tags) if t == "tr" and a.get("class") == "best"]
    assert len(best) == 1
    assert "0.2877" in html.split('<tr class="best">')[1].split("</tr>")[0]
    assert "test loss" not in page.text.split("No values recorded")[0]
    assert "No values recorded for: test loss, test acc." in page.text
    # links: each value and each run to the run's report, relative
    hrefs = [a["href"] for a in page.named("a")]
    expected = [f"./{path}/report.html" for _, path in runs]
    assert hrefs == expected + expected
    assert external(page) == []
    sources = [a["src"] for a in page.named("img")]
    assert len(sources) == 1
    assert base64.b64decode(sources[0].split(",", 1)[1]).startswith(PNG_SIGNATURE)
    assert "Interrupted" not in page.text


def test_sweep_report_escapes_and_flags_interruptions(tmp_path):
    folder = tmp_path / "sweep"
    folder.mkdir()
    rows = [
        {"value": "<b>0.1</b>", "val_loss": 0.5, "interrupted": "True"},  # read from the CSV
        {"value": "a&b", "val_loss": None, "interrupted": "False"},
    ]
    runs = [("<script>x</script>", "odd & <dir>"), ("b", "//evil.example/x")]
    write_sweep_report(folder, swept="--lr-schedule<", rows=rows, pictures=[], runs=runs)
    page, _ = read_page(folder)
    assert not {t for t, _ in page.tags} & {"script", "b"}
    assert "<script>x</script>" in page.text and "<b>0.1</b>" in page.text
    assert "--lr-schedule<" in page.text
    hrefs = [a["href"] for a in page.named("a")]
    assert "./odd%20%26%20%3Cdir%3E/report.html" in hrefs
    assert "./evil.example/x/report.html" in hrefs  # never a link to another site
    assert external(page) == []
    assert "Interrupted." in page.text and "No pictures." in page.text


def test_sweep_without_runs_or_rows(tmp_path):
    write_sweep_report(tmp_path, swept="--l2", rows=[], pictures=[], runs=[])
    page, _ = read_page(tmp_path)
    assert page.text.startswith("Sweep of --l2 0 values of --l2")
    assert page.named("a") == []


def test_relative_link():
    assert relative_link("runs/a b", "report.html") == "./runs/a%20b/report.html"
    assert relative_link("", "metrics.json") == "./metrics.json"
    assert relative_link("http://x.org", "r.html") == "./http%3A/x.org/r.html"


# --------------------------------------------------------------------------- a real run
@pytest.mark.real_data
def test_report_of_a_real_run(mnist, tmp_path, capsys):
    from fastreg import cli

    out = tmp_path / "run"
    argv = ["train", "--task", "softmax", "--epochs", "1", "--no-download", "--no-progress"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    record = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    html_report.write_run_report(out, record)
    page, _ = read_page(out)
    heat = [t for t, a in page.cells if "background-color" in a.get("style", "")]
    assert len(heat) == 100
    assert [int(t) for t in heat] == [v for row in record["test_confusion_matrix"] for v in row]
    assert sum(int(t) for t in heat) == record["n_test"] == 10000
    assert f"{100 * record['test']['accuracy']:.2f}%" in page.text
    assert len(page.named("img")) == 3 and external(page) == []
