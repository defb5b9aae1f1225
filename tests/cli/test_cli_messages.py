"""The CLI's messages come from structured fields, and its names from the dataset registry.

The library's exceptions carry ``reason``, ``param`` and ``hint``; the command line composes
its message from them (the parameter as its option, its own advice) and never rewrites message
text. These tests raise exceptions whose Python advice names Python arguments, and check that
the user sees the command line's options instead. The dataset registry is the only source of
data set names, titles and class names: a changed or added registry entry shows up in the CLI,
and the CLI's source spells none of them.
"""

import argparse
import dataclasses
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from fastreg import cli, datasets
from fastreg.cli import errors, names, parser
from fastreg.datasets import _registry
from fastreg.exceptions import (
    DataNotFoundError,
    DatasetError,
    DownloadError,
    InvalidParameterError,
    TrainingDivergedError,
)

CLI_SOURCES = sorted(Path(cli.__file__).parent.glob("*.py"))


def one_error_line(capsys):
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    return out, lines


@pytest.fixture
def failing_loader(monkeypatch):
    """Make ``fastreg.datasets.load_dataset`` raise the exception a test hands it."""

    def install(exc):
        def load_dataset(name, data_dir=None, *, download=True, mmap=False, **kwargs):
            raise exc

        monkeypatch.setattr(datasets, "load_dataset", load_dataset)

    return install


def train_argv(tmp_path, *extra):
    return ["train", "--no-download", "--no-progress", "--out", str(tmp_path / "run"), *extra]


# --------------------------------------------------------------------------- structured errors
def test_data_not_found_names_the_option_not_the_argument(failing_loader, tmp_path, capsys):
    failing_loader(
        DataNotFoundError(
            "Zahlen was not found. Looked in:\n  data_dir: /nowhere (no such folder)",
            searched=["/nowhere"],
            param="data_dir",
            hint="to provide it, pass data_dir=<folder>, or call again with download=True",
        )
    )
    assert cli.main(train_argv(tmp_path)) == cli.EXIT_FAILURE
    out, lines = one_error_line(capsys)
    text = "\n".join(lines)
    assert out == "" and lines[0] == "fastreg: error: Zahlen was not found. Looked in:"
    assert "data_dir: /nowhere (no such folder)" in text  # the reason, as it was raised
    assert "pass --data-dir DIR" in text and "drop --no-download" in text
    assert "data_dir=" not in text and "download=True" not in text  # not the Python advice
    assert not (tmp_path / "run").exists()  # the folder made for the run is removed again


def test_the_option_follows_the_exceptions_param(failing_loader, tmp_path, capsys):
    """The option is derived from ``param``, not written into the CLI's message."""
    failing_loader(DataNotFoundError("not here", param="data_root"))
    assert cli.main(train_argv(tmp_path)) == cli.EXIT_FAILURE
    _, lines = one_error_line(capsys)
    assert "pass --data-root DIR" in "\n".join(lines)


def test_download_error_says_where_to_put_the_files(failing_loader, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    failing_loader(
        DownloadError(
            "Could not download x.gz from any mirror",
            param="data_dir",
            hint="name a folder with data_dir=",
        )
    )
    assert cli.main(["train", "--no-progress", "--out", str(tmp_path / "run")]) == 1
    _, lines = one_error_line(capsys)
    text = "\n".join(lines)
    assert lines[0] == "fastreg: error: Could not download x.gz from any mirror"
    assert "--data-dir DIR" in text and "data_dir=" not in text
    assert f"in {tmp_path / 'xdg' / 'fastreg' / 'mnist'}:" in text
    for remote in _registry.MNIST.files:  # size and digest of each file still missing
        assert f"  {remote.name} ({remote.size} bytes, sha256 {remote.sha256}" in text
    assert "FASTREG_DOWNLOAD_DEADLINE=SECONDS" in text


def test_foreign_file_suggests_no_verify(failing_loader, tmp_path, capsys):
    """A file on disk that is not the data set (param data_dir): the CLI's advice, not
    verify=False."""
    failing_loader(
        DatasetError(
            "/d/train-images-idx3-ubyte.gz: this is not MNIST's "
            "train-images-idx3-ubyte: sha256 differs",
            param="data_dir",
            hint="replace it, or pass verify=False",
        )
    )
    assert cli.main(train_argv(tmp_path)) == cli.EXIT_FAILURE
    _, lines = one_error_line(capsys)
    assert len(lines) == 1 and lines[0].startswith("fastreg: error: /d/train-images")
    assert "pass --no-verify" in lines[0] and "verify=" not in lines[0]


def test_corrupt_data_keeps_the_library_advice(failing_loader, tmp_path, capsys):
    failing_loader(
        DatasetError("/d/t10k-labels-idx1-ubyte.gz: file truncated", hint="fetch the file again")
    )
    assert cli.main(train_argv(tmp_path)) == cli.EXIT_FAILURE
    _, lines = one_error_line(capsys)
    assert lines == [
        "fastreg: error: /d/t10k-labels-idx1-ubyte.gz: file truncated; fetch the file again"
    ]


def test_real_loader_missing_data_through_the_cli(tmp_path, monkeypatch, capsys):
    """The same path with the real loader: DataNotFoundError carries param='data_dir'."""
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with pytest.raises(DataNotFoundError) as info:
        datasets.load_fashion_mnist(download=False)  # MNIST ships: never missing here
    assert info.value.param == "data_dir" and isinstance(info.value, FileNotFoundError)
    assert "data_dir=" in info.value.hint
    given = tmp_path / "given"
    assert cli.main(train_argv(tmp_path, "--data-dir", str(given))) == 1
    _, lines = one_error_line(capsys)
    text = "\n".join(lines)
    assert lines[0].startswith(f"fastreg: error: MNIST was not found in {given}")
    assert "train-images-idx3-ubyte.gz" in lines[0]
    assert "To provide it: pass --data-dir DIR" in text and "data_dir=" not in text
    assert f"drop --no-download to download MNIST into {given} (about 12 MB)" in text


def test_schedule_rule_names_the_option(capsys):
    assert cli.main(["train", "--lr-schedule", "step", "--lr-decay", "1.5"]) == cli.EXIT_USAGE
    _, lines = one_error_line(capsys)
    assert len(lines) == 1
    assert lines[0].startswith("fastreg train: error: argument --lr-decay: ")
    assert "'step' schedule" in lines[0] and "1.5" in lines[0]


def test_divergence_message_from_the_exceptions_fields():
    """TrainingDivergedError's learning_rate (not its text) gives the suggested --lr."""
    from fastreg.cli import train

    class Diverging:
        learning_rate = 0.1

        def fit(self, *args, **kwargs):
            raise TrainingDivergedError(
                "Training diverged in epoch 3 (loss nan)",
                learning_rate=0.5,
                hint="pass learning_rate=0.05",
            )

    with pytest.raises(cli.CLIError) as info:
        train._fit(Diverging(), SimpleNamespace(X_fit=None, y_fit=None, X_val=None))
    assert str(info.value) == (
        "Training diverged in epoch 3 (loss nan). Pass a smaller --lr "
        "(e.g. --lr 0.05); nothing was written."
    )


def test_option_mapping():
    assert errors.option("learning_rate") == "--lr"  # from the parameter table
    assert errors.option("max_epochs") == "--epochs"
    assert errors.option("data_dir") == "--data-dir"  # not a table entry: the convention


def test_unknown_dataset_is_a_parameter_error():
    with pytest.raises(InvalidParameterError) as info:
        _registry.get_spec("kmnist")
    assert info.value.param == "dataset" and "mnist" in info.value.hint


# --------------------------------------------------------------------------- the registry
def test_cli_source_spells_no_data_set():
    """Titles, keys and class names live in the registry; the CLI's files name none."""
    words = set()
    for spec in _registry.DATASETS.values():
        words |= {spec.name, spec.title}
        words |= {name for name in spec.class_names if len(name) > 2}
    assert {"mnist", "MNIST", "Fashion-MNIST", "Ankle boot"} <= words
    for path in CLI_SOURCES:
        text = path.read_text()
        found = sorted(w for w in words if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text))
        assert not found, f"{path.name} spells {found}: take them from the registry"
    assert {p.name for p in CLI_SOURCES} >= {
        "__init__.py",
        "parser.py",
        "train.py",
        "evaluate.py",
        "report.py",
    }
    assert not (Path(cli.__file__).parent.parent / "cli.py").exists()


def test_titles_and_class_names_come_from_the_registry(monkeypatch, capsys):
    digits = dataclasses.replace(
        _registry.MNIST,
        title="Handwritten digits",
        class_names=(
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
        ),
    )
    monkeypatch.setitem(_registry.DATASETS, "mnist", digits)
    assert (
        names.task_label("mnist", (2, 3)) == "Handwritten digits two (label 1) vs three (label 0)"
    )
    assert names.task_label("mnist", None) == "Handwritten digits (10 classes)"
    assert names.registry_class_names("mnist", (2, 3)) == ["three", "two"]
    data = SimpleNamespace(task="binary", dataset="mnist", digits=(7, 1))
    assert names.weights_title(data).startswith("Weights of Handwritten digits seven vs one")


def test_a_new_registry_entry_is_offered_and_named(monkeypatch, tmp_path, capsys):
    kmnist = dataclasses.replace(
        _registry.FASHION_MNIST, name="kmnist", title="Kuzushiji-MNIST"
    )  # a download, as a new entry is
    monkeypatch.setitem(_registry.DATASETS, "kmnist", kmnist)
    monkeypatch.setenv("FASTREG_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cli.main(["train", "--help"]) == 0
    assert "kmnist" in capsys.readouterr().out
    assert cli.main(train_argv(tmp_path, "--dataset", "kmnist")) == cli.EXIT_FAILURE
    _, lines = one_error_line(capsys)
    assert lines[0].startswith("fastreg: error: Kuzushiji-MNIST was not found")
    assert str(tmp_path / "xdg" / "fastreg" / "kmnist") in "\n".join(lines)


def test_option_types_are_the_parameter_tables(monkeypatch):
    """Each estimator option is declared from fastreg._validation: flag, type and dest."""
    from fastreg import _validation

    actions = {a.dest: a for a in _train_parser()._actions}
    for name, spec in _validation.PARAMETERS.items():
        if spec.flag is None or name == "validation_fraction":
            continue
        action = actions[name]
        assert action.option_strings == [spec.flag], name
        if spec.kind == "choice":
            assert tuple(action.choices) == spec.choices
        elif spec.kind != "bool":
            assert action.type.__name__ == name  # argparse_type(name)
    # the table's (0, 1), and 0 for "no validation set"
    assert actions["val_fraction"].type("0.25") == 0.25 and actions["val_fraction"].type("0") == 0
    with pytest.raises(argparse.ArgumentTypeError, match=r"must be a real number in \(0, 1\)"):
        actions["val_fraction"].type("1")


def _train_parser():
    root = parser.build_parser()
    sub = next(a for a in root._actions if a.dest == "command")
    return sub.choices["train"]


def test_version_and_usage_errors_import_no_estimator():
    """The estimators (and scikit-learn) are imported by the commands that need them only."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom fastreg.cli import main\n"
        "assert main(['--version']) == 0\n"
        "assert main(['train', '--epochs', '0']) == 2\n"
        "heavy = [m for m in ('sklearn', 'fastreg.linear_model') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("fastreg ")
