"""``fastreg compare RUN_DIR...``: labels, summary.csv, overlays, and folders that are not runs.

The runs are trained here by ``fastreg train`` on a small synthetic stand-in for MNIST
(``fake_data`` replaces the data loader), so no data set is needed. Also here: the naming
and value-axis rules that sweep and compare share (:mod:`fastreg.cli.summary`,
:mod:`fastreg.cli.overlays`).
"""

import csv
import json
import math
import os

import numpy as np
import pytest

from fastreg import cli
from fastreg.cli import compare, overlays, summary, training_data
from helpers import cli_data

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


synthetic = cli_data.synthetic_loader(600, 200)


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(training_data, "load_data", synthetic)


def train(out, *options):
    argv = ["train", "--epochs", "2", "--no-progress", "--no-plots", "--out", str(out), *options]
    assert cli.main(argv) == cli.EXIT_OK


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def leftovers(parent):
    return sorted(name for name in os.listdir(parent) if ".frw-" in name)


@pytest.fixture
def runs(tmp_path, fake_data, capsys):
    """Three binary runs that differ in --l2 only, and one softmax run."""
    paths = {}
    for name, options in {
        "small": ["--l2", "0"],
        "mid": ["--l2", "0.01"],
        "large": ["--l2", "1"],
        "soft": ["--task", "softmax", "--lr-schedule", "cosine"],
    }.items():
        paths[name] = tmp_path / "runs" / name
        train(paths[name], *options)
    capsys.readouterr()
    return paths


def test_compare_labels_by_the_setting_that_differs(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", str(runs["small"]), str(runs["mid"]), str(runs["large"]), "--out", str(out)]
    assert cli.main(argv) == cli.EXIT_OK, capsys.readouterr().err
    printed = capsys.readouterr().out
    pictures = {"val_loss.png", "val_accuracy.png", "final_accuracy.png", "weight_norm.png"}
    assert set(os.listdir(out)) == {"summary.csv", "report.html", "weights.png", *pictures}
    assert all((out / p).read_bytes()[:8] == PNG_MAGIC for p in pictures)
    rows = read_csv(out / "summary.csv")
    assert [r["value"] for r in rows] == ["0", "0.01", "1"]
    for row, name in zip(rows, ("small", "mid", "large")):
        m = json.loads((runs[name] / "metrics.json").read_text())
        assert row["run"] == str(runs[name])
        assert float(row["val_loss"]) == m["validation"]["loss"]
        assert float(row["test_accuracy"]) == m["test"]["accuracy"]
        assert int(row["epochs_run"]) == m["epochs_run"]
        coef = np.load(runs[name] / "model.npz", allow_pickle=False)["coef_"].astype(float)
        assert math.isclose(float(row["weight_norm_sq"]), np.sum(coef**2), rel_tol=1e-9)
    lines = printed.splitlines()
    assert lines[0].split()[0] == "l2" and [line.split()[0] for line in lines[1:4]] == [
        "0",
        "0.01",
        "1",
    ]
    assert leftovers(tmp_path) == []
    # the page links each run's own report, relative to the page
    page = (out / "report.html").read_text()
    assert "./../runs/small/report.html" in page


def test_several_differences_make_the_label(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert cli.main(["compare", str(runs["small"]), str(runs["soft"]), "--out", str(out)]) == 0
    rows = read_csv(out / "summary.csv")
    assert [r["value"] for r in rows] == [
        "lr_schedule=constant, digits=2/3, task=binary",
        "lr_schedule=cosine, digits=none, task=softmax",
    ]
    keys, labels = compare.run_labels([summary.read_run(runs[n]) for n in ("small", "soft")])
    assert keys == ["lr_schedule", "digits", "task"] and labels == [r["value"] for r in rows]
    assert capsys.readouterr().out.splitlines()[0].split()[0] == "run"


def test_identical_settings_are_labelled_by_folder(tmp_path, fake_data, capsys):
    train(tmp_path / "a" / "run")
    train(tmp_path / "b" / "run")
    loaded = [summary.read_run(tmp_path / d / "run") for d in ("a", "b")]
    assert compare.run_labels(loaded) == (
        [],
        [str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run")],
    )
    train(tmp_path / "c")
    assert compare.run_labels([loaded[0], summary.read_run(tmp_path / "c")]) == ([], ["run", "c"])


def test_compare_of_a_sweep_repeats_its_summary(tmp_path, fake_data, capsys):
    sweep = tmp_path / "sweep"
    argv = ["sweep", "--epochs", "2", "--no-progress", "--out", str(sweep), "--l2", "0", "0.1"]
    assert cli.main(argv) == cli.EXIT_OK, capsys.readouterr().err
    folders = [str(sweep / "l2=0"), str(sweep / "l2=0.1")]
    assert cli.main(["compare", *folders, "--out", str(tmp_path / "cmp")]) == cli.EXIT_OK
    swept, compared = read_csv(sweep / "summary.csv"), read_csv(tmp_path / "cmp" / "summary.csv")
    for a, b in zip(swept, compared):
        assert a.pop("run") == os.path.basename(b.pop("run"))
        assert a == b


def test_older_runs_without_the_new_keys(runs, tmp_path, capsys):
    """A metrics.json of an older version (no weight_norm_sq, interrupted, image_shape) and
    one of a run without validation and test sets (nulls): empty cells, ||W||^2 from the
    weights, no error."""
    for name in ("small", "mid"):
        path = runs[name] / "metrics.json"
        m = json.loads(path.read_text())
        for key in ("weight_norm_sq", "interrupted", "image_shape", "data"):
            m.pop(key, None)
        if name == "mid":
            m["validation"] = m["test"] = None
        path.write_text(json.dumps(m))
    out = tmp_path / "cmp"
    assert cli.main(["compare", str(runs["small"]), str(runs["mid"]), "--out", str(out)]) == 0
    rows = read_csv(out / "summary.csv")
    assert rows[1]["val_loss"] == rows[1]["test_accuracy"] == ""
    coef = np.load(runs["mid"] / "model.npz", allow_pickle=False)["coef_"].astype(float)
    assert math.isclose(float(rows[1]["weight_norm_sq"]), np.sum(coef**2), rel_tol=1e-9)
    assert capsys.readouterr().out.splitlines()[2].split()[4:7] == ["-", "-", "-"]


# --------------------------------------------------------------------------- names and axes
# (the rules sweep and compare share: run folder names, the value axis of the pictures)
@pytest.mark.parametrize(
    "param, value, name",
    [
        ("l2", 0.0, "l2=0"),
        ("l2", 0.001, "l2=0.001"),
        ("l2", 1e-05, "l2=1e-05"),
        ("l2", 0.1234567, "l2=0.1234567"),  # every digit: no two values share a folder
        ("learning_rate", 0.5, "lr=0.5"),
        ("learning_rate", "auto", "lr=auto"),
        ("batch_size", 64, "batch_size=64"),
        ("lr_schedule", "cosine", "lr_schedule=cosine"),
        ("shuffle", False, "shuffle=off"),
        ("shuffle", True, "shuffle=on"),
    ],
)
def test_folder_names(param, value, name):
    assert summary.folder_name(param, value) == name


@pytest.mark.parametrize(
    "values, axis",
    [
        ([0.0, 0.001, 0.01, 0.1, 1.0], ("symlog", 0.001)),  # 0 among decades: symlog
        ([0.0, 1e-4, 1e-2], ("symlog", 1e-4)),
        ([0.0, 1e-4, 1e-3], ("linear", None)),  # the positive ones span one decade
        ([0.001, 0.01, 0.1], ("log", None)),  # exactly two decades
        ([0.01, 0.05, 0.5], ("linear", None)),  # less than two decades
        ([0.0, 0.01, 0.5], ("linear", None)),
        ([16, 32, 64, 128], ("linear", None)),
        ([16, 64, 256, 1600], ("log", None)),
        (["constant", "cosine"], ("categorical", None)),
        ([True, False], ("categorical", None)),  # on/off are names, not 1 and 0
        ([0.1, "auto"], ("categorical", None)),
    ],
)
def test_value_axis(values, axis):
    assert overlays.value_axis(values) == axis


# --------------------------------------------------------------------------- refusals
def _damage(run, how):
    if how == "no metrics.json":
        (run / "metrics.json").unlink()
    elif how == "damaged metrics.json":
        (run / "metrics.json").write_text('{"task": "binary", ')
    elif how == "no history.csv":
        (run / "history.csv").unlink()
    elif how == "damaged history.csv":
        with open(run / "history.csv", "a") as fh:
            fh.write("1,2\n")
    elif how == "no model.npz":
        (run / "model.npz").unlink()
    elif how == "damaged model.npz":
        (run / "model.npz").write_bytes(b"PK\x03\x04 not a zip")


@pytest.mark.parametrize(
    "how, message",
    [
        ("no metrics.json", "is not a complete run folder: it has no metrics.json"),
        ("damaged metrics.json", "metrics.json is damaged (not valid JSON"),
        ("no history.csv", "is not a complete run folder: it has no history.csv"),
        ("damaged history.csv", "history.csv is damaged (line"),
        ("no model.npz", "is not a complete run folder: it has no model.npz"),
        ("damaged model.npz", "model.npz is damaged"),
    ],
)
def test_a_folder_that_is_not_a_run(how, message, runs, tmp_path, capsys):
    _damage(runs["mid"], how)
    out = tmp_path / "cmp"
    assert cli.main(["compare", str(runs["small"]), str(runs["mid"]), "--out", str(out)]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(f"fastreg: error: {runs['mid']}") and message in line, line
    assert not out.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("what", ["one run", "same twice", "out is a run", "out holds a run"])
def test_bad_arguments(what, runs, tmp_path, capsys):
    small, mid = str(runs["small"]), str(runs["mid"])
    argv = {
        "one run": ["compare", small],
        "same twice": ["compare", small, mid, str(runs["small"] / ".." / "small")],
        "out is a run": ["compare", small, mid, "--out", mid, "--overwrite"],
        "out holds a run": ["compare", small, mid, "--out", str(tmp_path / "runs")],
    }[what]
    before = {p: sorted(os.listdir(p)) for p in runs.values()}
    assert cli.main(argv) == cli.EXIT_USAGE
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith("fastreg compare: error: "), line
    assert {p: sorted(os.listdir(p)) for p in runs.values()} == before


def test_missing_folder(tmp_path, capsys):
    assert cli.main(["compare", str(tmp_path / "a"), str(tmp_path / "b")]) == cli.EXIT_FAILURE
    assert f"{tmp_path / 'a'} does not exist" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_overwrite_an_earlier_comparison(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", str(runs["small"]), str(runs["mid"]), "--out", str(out)]
    assert cli.main(argv) == cli.EXIT_OK
    assert cli.main(argv) == cli.EXIT_FAILURE
    assert "--overwrite" in capsys.readouterr().err
    (out / "notes.txt").write_text("mine")
    assert cli.main([*argv, "--overwrite"]) == cli.EXIT_FAILURE  # not ours: never replaced
    (out / "notes.txt").unlink()
    assert cli.main([*argv, "--overwrite"]) == cli.EXIT_OK
    assert leftovers(tmp_path) == []


def test_default_out_is_a_new_compare_folder(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["compare", str(runs["small"]), str(runs["mid"])]) == cli.EXIT_OK
    (made,) = [n for n in os.listdir(tmp_path / "runs") if n.startswith("compare-")]
    assert (tmp_path / "runs" / made / "summary.csv").is_file()
