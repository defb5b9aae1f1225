"""fastreg.plots: the PNGs of a run (loss, accuracy, weights), drawn without a display.

The pictures are read back with matplotlib's PNG reader, so the tests check what was drawn
(size, where red and blue pixels are), not only that a file appeared. matplotlib (the ``plot``
extra) must be installed to run them; its absence is tested by blocking the import.
"""

import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastreg import plots

REPO = Path(__file__).resolve().parents[2]


def png_size(path):
    """(width, height) from the IHDR chunk of a PNG file; fails on anything that is not a PNG."""
    head = Path(path).read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    return struct.unpack(">II", head[16:24])


def history(n_checks=12, steps_per_check=100, with_validation=True):
    steps = np.arange(1, n_checks + 1) * steps_per_check
    h = {
        "step": steps.tolist(),
        "epoch": (np.arange(n_checks) // 2 + 1).tolist(),  # two checks per epoch
        "learning_rate": [0.1] * n_checks,
        "train_loss": (0.2 + 1 / np.sqrt(steps)).tolist(),
        "train_accuracy": (0.95 - 1 / steps).tolist(),
        "val_loss": (0.25 + 1 / np.sqrt(steps)).tolist(),
        "val_accuracy": (0.94 - 1 / steps).tolist(),
    }
    if not with_validation:
        h["val_loss"] = [float("nan")] * n_checks
        h["val_accuracy"] = [float("nan")] * n_checks
    return h


def read_rgb(path):
    from matplotlib.image import imread

    return imread(path)[..., :3]


@pytest.mark.parametrize("draw", [plots.plot_loss, plots.plot_accuracy])
def test_curves_are_small_pngs(tmp_path, draw):
    path = draw(history(), tmp_path / "curve.png", best_step=600)
    assert Path(path).exists()
    width, height = png_size(path)
    assert (width, height) == (640, 400)  # CURVE_SIZE at DPI
    assert os.path.getsize(path) < 100_000


def test_curves_without_validation(tmp_path):
    """A run without a validation set has NaN validation columns: only the train curve."""
    from matplotlib.figure import Figure

    fig, ax = plots._curve_figure(
        history(with_validation=False),
        [("train_loss", "train", "-"), ("val_loss", "validation", "-")],
        "loss",
        "t",
    )
    assert isinstance(fig, Figure)
    assert [line.get_label() for line in ax.get_lines()] == ["train"]
    plots.plot_loss(history(with_validation=False), tmp_path / "l.png")
    assert png_size(tmp_path / "l.png") == (640, 400)


def test_curve_plots_the_history_values(tmp_path):
    h = history()
    _fig, ax = plots._curve_figure(
        h, [("train_loss", "train", "-"), ("val_loss", "val", "-")], "loss", "t"
    )
    train, val = ax.get_lines()
    np.testing.assert_array_equal(train.get_xdata(), h["step"])
    np.testing.assert_allclose(train.get_ydata(), h["train_loss"])
    np.testing.assert_allclose(val.get_ydata(), h["val_loss"])
    assert ax.get_xlabel().startswith("training step")


def test_curve_errors(tmp_path):
    h = history()
    del h["step"]
    with pytest.raises(ValueError, match="no 'step' column"):
        plots.plot_loss(h, tmp_path / "x.png")
    h = history()
    h["val_loss"] = h["val_loss"][:-1]
    with pytest.raises(ValueError, match="val_loss"):
        plots.plot_loss(h, tmp_path / "x.png")
    with pytest.raises(ValueError, match="none of the columns"):
        plots.plot_loss({"step": [1, 2]}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def _sign_pattern(n_classes):
    """Each class: +1 on the left half of the 28x28 image, -1 on the right half."""
    image = np.ones((28, 28))
    image[:, 14:] = -1.0
    return np.tile(image.reshape(1, -1), (n_classes, 1)) * np.arange(1, n_classes + 1)[:, None]


def _red_blue_columns(rgb):
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    red = (r > b + 0.2) & (r > g + 0.2)  # RdBu_r's ends are dark: (0.4, 0, 0.12) and
    blue = (b > r + 0.2) & (b > g + 0.1)  # (0.02, 0.19, 0.38); light tints near zero
    cols = np.arange(rgb.shape[1])[None, :]

    def centre(mask):
        return (cols * mask).sum() / mask.sum() if mask.any() else np.nan

    return red.sum(), blue.sum(), centre(red), centre(blue)


@pytest.mark.parametrize("n_classes", [1, 10])
def test_weights_image_shows_the_signs_where_they_are(tmp_path, n_classes):
    """Positive weights red, negative blue, in the pixel layout of the input images: a
    transposed or sign-flipped image would put blue left of red."""
    coef = _sign_pattern(n_classes)
    path = plots.plot_weights(coef if n_classes > 1 else coef[0], tmp_path / "w.png")
    assert os.path.getsize(path) < 100_000
    n_red, n_blue, red_x, blue_x = _red_blue_columns(read_rgb(path))
    assert n_red > 100 * n_classes and n_blue > 100 * n_classes
    assert red_x < blue_x
    if n_classes == 10:
        assert png_size(path)[0] > 2 * png_size(path)[1]  # a 2 x 5 grid, wider than tall


def test_weights_all_positive_has_no_blue(tmp_path):
    coef = np.abs(np.random.default_rng(0).normal(size=(3, 784))) + 0.5
    _, n_blue, _, _ = _red_blue_columns(read_rgb(plots.plot_weights(coef, tmp_path / "w.png")))
    assert n_blue == 0


def test_weights_shape_errors(tmp_path):
    with pytest.raises(ValueError, match=r"expected \(n_classes, 784\)"):
        plots.plot_weights(np.zeros((10, 100)), tmp_path / "w.png")
    with pytest.raises(ValueError, match="3 class names given for 10"):
        plots.plot_weights(np.zeros((10, 784)), tmp_path / "w.png", class_names=["a", "b", "c"])


def test_missing_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(plots.PlotsUnavailable, match=r"pip install 'fastreg-sgd\[plot\]'"):
        plots.plot_loss(history(), tmp_path / "l.png")
    with pytest.raises(ImportError):  # PlotsUnavailable is an ImportError
        plots.require_matplotlib()
    assert not (tmp_path / "l.png").exists()


def test_drawing_never_touches_pyplot_or_a_display(tmp_path):
    """The pictures go through the Agg canvas: no pyplot import, no GUI backend, no DISPLAY."""
    code = (
        "import sys, numpy as np\n"
        "from fastreg import plots\n"
        "h = {'step': [1, 2], 'train_loss': [1.0, 0.5], 'val_loss': [1.1, 0.6]}\n"
        f"plots.plot_loss(h, {str(tmp_path / 'l.png')!r})\n"
        f"plots.plot_weights(np.ones(784), {str(tmp_path / 'w.png')!r})\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
        "bad = [m for m in sys.modules if m.startswith('matplotlib.backends.backend_') "
        "and not m.endswith(('agg', 'backend_bases'))]\n"
        "assert not bad, bad\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert png_size(tmp_path / "l.png") == (640, 400)
    assert png_size(tmp_path / "w.png")[0] > 0
