"""The command line under faults (issue 12, points 9 and 10): atomic run folders, a hostile
metrics.json, a cache that cannot be made, a closed pipe, an unknown option, --no-verify.

No test here needs MNIST: ``train`` and ``evaluate`` get small synthetic images through their
``load_data`` (patched in the process, or in the child process by ``pre`` code).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fastreg import _litter, cli
from fastreg.cli import evaluate, run_folder, training_data
from fastreg.exceptions import DataNotFoundError
from helpers import cli_data


def run_cli(*args, env=None, pre=""):
    """``fastreg ARGS`` in a subprocess; ``pre`` is Python code run before the CLI."""
    code = f"{pre}\nimport sys\nfrom fastreg.cli import main\nsys.exit(main({list(args)!r}))"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


SYNTHETIC = cli_data.source(400, 100)
synthetic = cli_data.synthetic_loader(400, 100)


@pytest.fixture
def fake_data(monkeypatch):
    """``train`` and ``evaluate`` load the synthetic set; returns the calls' keyword args."""
    calls = []

    def load_data(spec, data_dir, no_download, prog="fastreg", **kwargs):
        calls.append(kwargs)
        return synthetic()

    monkeypatch.setattr(training_data, "load_data", load_data)
    monkeypatch.setattr(evaluate, "load_data", load_data)
    return calls


def quick(out, *extra):
    return ["train", "--epochs", "1", "--no-progress", "--no-plots", "--out", str(out), *extra]


def leftovers(parent):
    return sorted(name for name in os.listdir(parent) if ".frw-" in name)


# --------------------------------------------------------------------------- run folders
def test_default_out_dir_is_task_and_timestamp(tmp_path, monkeypatch):
    import datetime

    monkeypatch.chdir(tmp_path)
    now = datetime.datetime(2026, 11, 26, 14, 5, 9)
    first = run_folder.prepare_out_dir(None, "softmax", now=now)
    assert first.path == Path("runs/softmax-20261126-140509") and not first.path.exists()
    assert os.listdir("runs") == []  # the write probe left nothing behind
    with first.writing() as temp:
        (temp / "metrics.json").write_text("{}")
    assert first.path.is_dir() and os.listdir(first.path) == ["metrics.json"]
    second = run_folder.prepare_out_dir(None, "softmax", now=now)  # same second: a new folder
    assert second.path == Path("runs/softmax-20261126-140509-2")


def test_out_dir_existing_run_needs_overwrite(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    assert not run_folder.prepare_out_dir(run, "binary").replace  # an empty folder is fine
    (run / "metrics.json").write_text("{}")
    with pytest.raises(cli.CLIError, match=r"already holds a run \(metrics.json\).*--overwrite"):
        run_folder.prepare_out_dir(run, "binary")
    assert run_folder.prepare_out_dir(run, "binary", overwrite=True).replace
    (run / "notes.txt").write_text("mine")  # not a run's file: never replaced
    with pytest.raises(cli.CLIError, match=r"holds files that are not a run's \(notes.txt\)"):
        run_folder.prepare_out_dir(run, "binary", overwrite=True)


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_out_dir_unwritable(tmp_path, where):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker if where == "file" else blocker / "sub" / "run"
    with pytest.raises(cli.CLIError, match="--out") as info:
        run_folder.prepare_out_dir(out, "binary")
    assert str(blocker) in str(info.value)
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("out", ["", " ", "\t"])
def test_blank_out_is_a_usage_error(out, tmp_path, monkeypatch, capsys, fake_data):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--out", out, "--no-progress"]) == cli.EXIT_USAGE
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith("fastreg train: error: argument --out: must name a folder")
    assert os.listdir(tmp_path) == [] and fake_data == []  # nothing written, nothing loaded


def test_current_folder_is_refused(tmp_path, monkeypatch, capsys, fake_data):
    monkeypatch.chdir(tmp_path)
    assert cli.main(quick(".")) == cli.EXIT_FAILURE
    assert "it is the current folder" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_run_appears_whole(tmp_path, capsys, fake_data):
    out = tmp_path / "deep" / "run"
    assert cli.main(quick(out)) == cli.EXIT_OK, capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["history.csv", "metrics.json", "model.npz", "report.html"]
    assert leftovers(out.parent) == []
    assert f"wrote       {out}{os.sep}" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()  # an existing empty folder takes the run
    assert cli.main(quick(empty)) == cli.EXIT_OK
    assert sorted(os.listdir(empty)) == ["history.csv", "metrics.json", "model.npz", "report.html"]
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("lr", [None, "auto", "0.05"])
def test_learning_rate_auto_is_the_default_and_is_recorded(lr, tmp_path, capsys, fake_data):
    """--lr defaults to the estimator's "auto" and takes it by name; metrics.json records
    the parameter and the base step used, and the model file keeps the step scales."""
    import fastreg

    out = tmp_path / "run"
    extra = [] if lr is None else ["--lr", lr]
    assert cli.main(quick(out, *extra)) == cli.EXIT_OK, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    model = fastreg.load(out / "model.npz")
    if lr == "0.05":
        assert metrics["params"]["learning_rate"] == 0.05 == metrics["learning_rate_used"]
        assert model.step_scale_ is None
    else:
        assert metrics["params"]["learning_rate"] == "auto"
        assert metrics["learning_rate_used"] == model.learning_rate_ > 0
        assert model.step_scale_.shape == (784,)


def test_divergence_under_auto_suggests_an_explicit_lr(tmp_path, capsys, fake_data, monkeypatch):
    from fastreg._training import fit as fit_driver

    real = fit_driver.auto_step
    monkeypatch.setattr(
        fit_driver, "auto_step", lambda *a, **k: (real(*a, **k)[0] * 1e15, real(*a, **k)[1])
    )
    assert cli.main(quick(tmp_path / "run")) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert "times per-feature step scales" in err and "Pass a smaller --lr (e.g. --lr " in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("fault", [KeyboardInterrupt, OSError(28, "No space left on device")])
@pytest.mark.parametrize("earlier", [False, True])
def test_failure_while_writing_leaves_out_as_it_was(
    fault, earlier, tmp_path, monkeypatch, capsys, fake_data
):
    """A fault after some files were written: --out absent (or the earlier run untouched), no
    temporary folder left, and the parents made for the run removed again."""
    out = tmp_path / "parent" / "run"
    if earlier:
        out.mkdir(parents=True)
        (out / "metrics.json").write_text('{"earlier": true}')
        (out / "model.npz").write_bytes(b"old model")
    real = cli.report.write_json

    def write_json_then_fail(record, path):
        real(record, path)
        raise fault

    monkeypatch.setattr(cli.report, "write_json", write_json_then_fail)
    code = cli.main(quick(out, "--overwrite"))
    err = capsys.readouterr().err
    if fault is KeyboardInterrupt:
        assert code == cli.EXIT_INTERRUPTED
    else:
        assert code == cli.EXIT_FAILURE
        assert f"cannot write the results into {out}: No space left on device" in err
        assert "nothing was kept" in err
    if earlier:
        assert sorted(os.listdir(out)) == ["metrics.json", "model.npz"]
        assert (out / "metrics.json").read_text() == '{"earlier": true}'
        assert leftovers(out.parent) == []
    else:
        assert not (tmp_path / "parent").exists()  # made for the run, removed again


def test_overwrite_replaces_at_the_end(tmp_path, capsys, fake_data):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("metrics.json", "loss.png", "weights.png"):
        (out / name).write_text("old")
    assert cli.main(quick(out, "--overwrite")) == cli.EXIT_OK, capsys.readouterr().err
    assert sorted(os.listdir(out)) == ["history.csv", "metrics.json", "model.npz", "report.html"]
    assert json.loads((out / "metrics.json").read_text())["task"] == "binary"
    assert leftovers(tmp_path) == []


def test_failed_rename_puts_the_earlier_run_back(tmp_path, monkeypatch, capsys, fake_data):
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.npz").write_bytes(b"old model")
    real = os.rename

    def rename(src, dst):
        if ".frw-" in str(src) and str(src).endswith(".run"):
            raise OSError(5, "Input/output error", str(dst))
        real(src, dst)

    monkeypatch.setattr(run_folder.os, "rename", rename)
    assert cli.main(quick(out, "--overwrite")) == cli.EXIT_FAILURE
    assert f"cannot write the run folder {out}: Input/output error" in capsys.readouterr().err
    assert os.listdir(out) == ["model.npz"] and (out / "model.npz").read_bytes() == b"old model"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("presses", [1, 2])
def test_sigint_while_writing(tmp_path, presses):
    """Real SIGINTs in a real process, after history.csv and metrics.json were written: a
    first press once training is over changes nothing (the run is written whole); a second
    one aborts, and nothing is left."""
    out = tmp_path / "run"
    pre = SYNTHETIC + (
        "import os, signal, time\n"
        "from fastreg.cli import report, training_data\n"
        "training_data.load_data = synthetic\n"
        "real = report.write_json\n"
        "def write_json(record, path):\n"
        "    real(record, path)\n"
        f"    for _ in range({presses}):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        time.sleep(0.2)\n"
        "report.write_json = write_json\n"
    )
    proc = run_cli(*quick(out), pre=pre)
    if presses == 1:
        assert proc.returncode == cli.EXIT_OK, proc.stderr
        assert "report.html" in os.listdir(out)
        assert json.loads((out / "metrics.json").read_text())["interrupted"] is False
        return
    assert proc.returncode == cli.EXIT_INTERRUPTED, proc.stderr
    assert error_lines(proc.stderr) == ["fastreg: error: interrupted"]
    assert os.listdir(tmp_path) == []


def test_stale_temporary_folders_are_removed(tmp_path, fake_data, capsys):
    """Left by killed processes: removed when their pid is gone (this host) or when old."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = _litter.HOST
    stale = tmp_path / f".run.frw-{host}-{dead.pid}-0badc0de.run"
    aside = tmp_path / f".old.frw-{host}-{dead.pid}-0badc0de.old"
    live = tmp_path / f".run.frw-{host}-{os.getppid()}-0badc0de.run"
    elsewhere = tmp_path / f".run.frw-otherhost-{dead.pid}-0badc0de.run"
    unrelated = tmp_path / ".run.frw-mine.run"
    for folder in (stale, aside, live, elsewhere, unrelated):
        folder.mkdir()
        (folder / "history.csv").write_text("x")
    assert cli.main(quick(tmp_path / "new")) == cli.EXIT_OK, capsys.readouterr().err
    assert not stale.exists() and not aside.exists()
    assert live.exists() and elsewhere.exists() and unrelated.exists()
    # another host's folder (a shared file system) goes only when it is a day old; a folder
    # whose pid runs here stays, however old
    suffixes = run_folder.TEMP_SUFFIXES
    assert _litter.remove_stale(tmp_path, suffixes, now=time.time() + 3600) == []
    later = time.time() + _litter.STALE_SECONDS + 60
    removed = _litter.remove_stale(tmp_path, suffixes, now=later)
    assert removed == [elsewhere.name] and live.exists() and unrelated.exists()


# --------------------------------------------------------------------------- metrics.json
@pytest.fixture
def binary_run(tmp_path):
    """A binary model (digits 2 vs 3 of the synthetic set) saved alone in a folder."""
    from fastreg import LogisticRegression
    from fastreg.datasets import binary_subset, flatten

    X, y, _, _ = synthetic()
    X, y = binary_subset(X, y, 2, 3)
    model = LogisticRegression(max_epochs=2, input_scale=1 / 255, random_state=0)
    model.fit(flatten(X), y)
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.npz")
    return run


HOSTILE = [
    ('{"digits": {"negative": "x"}}', '"digits" "positive" is null'),
    ('{"digits": {"positive": 2, "negative": "x"}}', '"negative" is "x", not a class 0..9'),
    ('{"digits": {"positive": 2, "negative": 99}}', '"negative" is 99'),
    ('{"digits": {"positive": true, "negative": 3}}', '"positive" is true'),
    ('{"digits": {"positive": 3, "negative": 3}}', "names one class twice"),
    ('{"digits": [2, 3]}', '"digits" is [2, 3], not an object'),
    ('{"dataset": 5, "digits": {"positive": 2, "negative": 3}}', '"dataset" is 5'),
    ('{"dataset": "kmnist"}', '"dataset" is "kmnist", not one of'),
    ("[1, 2]", "not a JSON object"),
    ('{"digits": ', "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    ('{"pad": "' + "x" * (2 << 20) + '"}', "larger than 1 MiB"),
]


@pytest.mark.parametrize("text, warning", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_metrics_json_is_ignored_with_a_warning(
    text, warning, binary_run, capsys, fake_data
):
    path = binary_run / "metrics.json"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    code = cli.main(["evaluate", str(binary_run)])
    lines = error_lines(capsys.readouterr().err)
    assert code == cli.EXIT_USAGE, lines  # no classes known: asked for, not guessed
    assert not any("unexpected" in line for line in lines)
    assert lines[0].startswith(f"fastreg: warning: {path}") and warning in lines[0], lines
    assert lines[-1].startswith("fastreg evaluate: error: ") and "--digits POS NEG" in lines[-1]
    assert len(lines) == 2
    assert cli.main(["evaluate", str(binary_run), "--digits", "2", "3"]) == cli.EXIT_OK


def test_valid_metrics_json_still_gives_the_classes(binary_run, capsys, fake_data):
    (binary_run / "metrics.json").write_text(
        '{"dataset": "mnist", "digits": {"positive": 2, "negative": 3}, "extra": [1]}'
    )
    assert cli.main(["evaluate", str(binary_run)]) == cli.EXIT_OK
    out, err = capsys.readouterr()
    assert err == "" and "2 (label 1) vs 3 (label 0)" in out and "from " in out


# --------------------------------------------------------------------------- data messages
def loader_raising(monkeypatch, exc):
    from fastreg import datasets

    calls = []

    def load_dataset(name, data_dir=None, **kwargs):
        calls.append(kwargs)
        raise exc

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return calls


def test_uncreatable_cache_says_so(tmp_path, monkeypatch, capsys):
    from fastreg.datasets import default_cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a-file" / "cache"))
    cache = default_cache_dir("mnist")
    loader_raising(monkeypatch, NotADirectoryError(20, "Not a directory", str(cache)))
    assert cli.main(["train", "--no-progress", "--out", str(tmp_path / "run")]) == 1
    (line,) = error_lines(capsys.readouterr().err)
    assert line.startswith(
        f"fastreg: error: cannot create the cache folder {cache}: Not a directory"
    )
    assert "XDG_CACHE_HOME=DIR" in line and "--data-dir DIR" in line
    assert "--no-download" not in line


def test_uncreatable_cache_through_the_real_loader(tmp_path):
    """Fashion-MNIST is a download (MNIST ships with the package): its cache must be made."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = dict(os.environ, XDG_CACHE_HOME=str(blocker / "cache"))
    env.pop("FASTREG_DATA", None)
    proc = run_cli("train", "--dataset", "fashion-mnist", "--out", str(tmp_path / "run"), env=env)
    assert proc.returncode == 1
    (line,) = error_lines(proc.stderr)
    assert line.startswith(
        "fastreg: error: cannot create the cache folder "
        f"{blocker / 'cache' / 'fastreg' / 'fashion-mnist'}"
    )
    assert "XDG_CACHE_HOME" in line and "--no-download" not in line
    assert not (tmp_path / "run").exists()


def test_missing_data_without_no_download_does_not_mention_it(tmp_path, monkeypatch, capsys):
    loader_raising(monkeypatch, DataNotFoundError("Zahlen was not found", param="data_dir"))
    assert cli.main(["train", "--no-progress", "--out", str(tmp_path / "run")]) == 1
    text = capsys.readouterr().err
    assert "pass --data-dir DIR" in text and "--no-download" not in text


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_no_verify_reaches_the_loader(command, monkeypatch, capsys, tmp_path):
    import inspect

    from fastreg.datasets import load_dataset

    assert "verify" in inspect.signature(load_dataset).parameters
    calls = loader_raising(monkeypatch, DataNotFoundError("nothing", param="data_dir"))
    argv = (
        ["train", "--out", str(tmp_path / "run")]
        if command == "train"
        else ["evaluate", str(_any_model(tmp_path))]
    )
    assert cli.main([*argv, "--no-verify", "--no-download"]) == 1, capsys.readouterr().err
    assert cli.main([*argv, "--no-download"]) == 1
    assert [c.get("verify", True) for c in calls] == [False, True]


def _any_model(tmp_path):
    from fastreg import SoftmaxRegression

    X, y, _, _ = synthetic()
    path = tmp_path / "m" / "model.npz"
    path.parent.mkdir()
    SoftmaxRegression(max_epochs=1).fit(X.reshape(len(X), -1)[:50] / 255.0, y[:50]).save(path)
    return path


# --------------------------------------------------------------------------- the pipe, the parser
def test_closed_pipe_exits_quietly():
    """``fastreg --help | true``: the reader is gone before anything is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "fastreg", "train", "--help"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert proc.stderr == "" and proc.returncode in (0, 1)


def test_closed_pipe_after_the_first_line(tmp_path):
    """``fastreg evaluate RUN | head -1`` with a long report: quiet, no traceback."""
    pre = (
        "from fastreg.cli import evaluate\n"
        "def run_evaluate(args, argv=()):\n"
        "    for k in range(200000):\n"
        "        print(f'line {k}')\n"
        "    return 0\n"
        "evaluate.run_evaluate = run_evaluate\n"
    )
    code = f"{pre}\nimport sys\nfrom fastreg.cli import main\nsys.exit(main(['evaluate', 'x']))"
    fastreg = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    head = subprocess.run(["head", "-1"], stdin=fastreg.stdout, capture_output=True, timeout=120)
    fastreg.stdout.close()
    err = fastreg.stderr.read().decode()
    assert fastreg.wait(timeout=120) in (0, 1)
    assert head.stdout == b"line 0\n" and err == ""


def test_unknown_option_is_reported_by_its_subcommand(capsys):
    assert cli.main(["train", "--no-such-option"]) == cli.EXIT_USAGE
    (line,) = error_lines(capsys.readouterr().err)
    assert line == (
        "fastreg train: error: unrecognized arguments: --no-such-option "
        "(see `fastreg train --help`)"
    )
    assert cli.main(["evaluate", "m.npz", "--frob"]) == cli.EXIT_USAGE
    assert error_lines(capsys.readouterr().err)[0].startswith("fastreg evaluate: error: ")
    assert cli.main(["--frob", "train"]) == cli.EXIT_USAGE
    assert error_lines(capsys.readouterr().err)[0].startswith("fastreg: error: ")


def test_sigint_is_held_back_during_the_swap():
    with pytest.raises(KeyboardInterrupt):
        with run_folder._sigint_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            done = True  # reached: the signal waited for the block's end
    assert done
