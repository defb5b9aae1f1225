"""model.save(path) / fastreg.load(path): .npz round trips without pickle, and rejected files."""

import json
import pickle
import zipfile

import numpy as np
import pytest

import fastreg
from fastreg import LogisticRegression, SoftmaxRegression


def _fit(cls, labels, dtype=np.float64, backend="numpy", **params):
    rng = np.random.default_rng(0)
    k = len(labels)
    centers = rng.normal(scale=2, size=(k, 6))
    codes = rng.integers(0, k, size=200)
    X = (centers[codes] + rng.normal(size=(200, 6))).astype(dtype)
    # a list of labels is used as an object array (as pandas columns often are)
    y = np.asarray(labels, dtype=object if isinstance(labels, list) else None)[codes]
    params.setdefault("max_epochs", 6)
    return cls(backend=backend, random_state=0, validation_interval=2, **params).fit(X, y), X, y


CASES = [
    (LogisticRegression, np.array(["neg", "pos"]), np.float64),
    (LogisticRegression, np.array([-1, 1]), np.float32),
    (SoftmaxRegression, np.array([3, 1, 2]), np.float64),
    (SoftmaxRegression, np.array(["a", "bb", "ccc", "d"]), np.float32),
    (SoftmaxRegression, np.array([0.5, 1.5, 2.5]) * 2, np.float64),
    (LogisticRegression, np.array([False, True]), np.float64),
]


@pytest.mark.parametrize("cls, labels, dtype", CASES)
def test_round_trip(tmp_path, backend, cls, labels, dtype):
    model, X, y = _fit(
        cls, labels, dtype, backend=backend.name, l2=1e-3, lr_schedule="step", lr_decay=0.5
    )
    path = model.save(tmp_path / "model.npz")
    assert path == str(tmp_path / "model.npz")
    loaded = fastreg.load(path)
    assert type(loaded) is cls and loaded.get_params() == model.get_params()
    for attr in ("coef_", "intercept_", "classes_"):
        got, want = getattr(loaded, attr), getattr(model, attr)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == want.dtype
    for attr in ("n_features_in_", "n_iter_", "best_epoch_", "t_", "backend_"):
        assert getattr(loaded, attr) == getattr(model, attr)
    assert loaded.history_ == model.history_
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # and it trains on from where it was
    loaded.partial_fit(X, y)
    assert loaded.n_iter_ == model.n_iter_ + 1


def test_object_labels_come_back_as_objects(tmp_path):
    model, X, _y = _fit(SoftmaxRegression, ["x", "y", "z"])
    assert model.classes_.dtype == object
    loaded = fastreg.load(model.save(tmp_path / "m"))
    assert loaded.classes_.dtype == object and list(loaded.classes_) == ["x", "y", "z"]
    assert loaded.predict(X).dtype == object


def test_mixed_label_types_cannot_be_saved_without_pickle(tmp_path):
    model, _X, _y = _fit(SoftmaxRegression, ["x", "y", "z"])
    model.classes_ = np.array(["x", 2, "z"], dtype=object)
    with pytest.raises(ValueError, match="mix types"):
        model.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_suffix_is_added_and_no_pickle_inside(tmp_path):
    model, _X, _y = _fit(LogisticRegression, np.array([0, 1]))
    path = model.save(tmp_path / "weights")
    assert path.endswith("weights.npz")
    with np.load(path, allow_pickle=False) as archive:  # every member loads without pickle
        assert str(archive["__fastreg_model__"]) == "fastreg-model"
        assert str(archive["estimator"]) == "LogisticRegression"
        assert json.loads(str(archive["params"]))["learning_rate"] == "auto"
        for key in archive.files:
            archive[key]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.npz"]  # no temp left


def test_unstorable_parameters_warn_on_load(tmp_path):
    model, _X, _y = _fit(SoftmaxRegression, np.array([0, 1, 2]), lr_schedule=lambda t: 0.05)
    model.set_params(random_state=np.random.default_rng(3))
    with pytest.warns(UserWarning, match=r"\['lr_schedule', 'random_state'\].*defaults"):
        loaded = fastreg.load(model.save(tmp_path / "m.npz"))
    assert loaded.lr_schedule == "constant" and loaded.random_state is None
    np.testing.assert_array_equal(loaded.coef_, model.coef_)


def test_dtype_parameter_is_stored_by_name(tmp_path):
    model, _X, _y = _fit(LogisticRegression, np.array([0, 1]))
    model.set_params(dtype=np.float32)
    assert fastreg.load(model.save(tmp_path / "m")).dtype == "float32"


def test_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        SoftmaxRegression().save(tmp_path / "m.npz")


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_load_rejects_files_that_are_not_models(tmp_path):
    model, _X, _y = _fit(LogisticRegression, np.array([0, 1]))
    good = model.save(tmp_path / "good.npz")
    with np.load(good) as archive:
        members = {k: archive[k] for k in archive.files}

    text = tmp_path / "notes.txt"
    text.write_text("hello")
    pick = tmp_path / "model.pkl"
    pick.write_bytes(pickle.dumps(model))
    npy = tmp_path / "array.npy"
    np.save(npy, np.arange(3))
    other = _write_npz(tmp_path / "other.npz", a=np.arange(3))
    forged = _write_npz(tmp_path / "forged.npz", **{**members, "__fastreg_model__": np.array("x")})
    partial = _write_npz(
        tmp_path / "partial.npz", **{k: v for k, v in members.items() if k != "coef_"}
    )
    badshape = _write_npz(tmp_path / "shape.npz", **{**members, "coef_": np.zeros((2, 6))})
    nonfinite = _write_npz(
        tmp_path / "nan.npz", **{**members, "coef_": np.full_like(members["coef_"], np.nan)}
    )
    badjson = _write_npz(tmp_path / "json.npz", **{**members, "params": np.array("{oops")})
    unknown = _write_npz(tmp_path / "unknown.npz", **{**members, "estimator": np.array("SVC")})
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(open(good, "rb").read()[:200])
    obj = tmp_path / "object.npz"
    np.savez(obj, **{**members, "classes_": np.array([object(), object()], dtype=object)})

    cases = [
        (text, "unreadable"),
        (pick, "unreadable"),
        (npy, "single .npy"),
        (other, "no fastreg marker"),
        (forged, "no fastreg marker"),
        (partial, r"missing entries \['coef_'\]"),
        (badshape, r"entry 'coef_': shape \(2, 6\), expected \(1, 6\)"),
        (nonfinite, "non-finite"),
        (badjson, "not valid JSON"),
        (unknown, "unknown estimator 'SVC'"),
        (truncated, "not a fastreg model"),
        (obj, "not a fastreg model"),
    ]
    for path, match in cases:
        with pytest.raises(ValueError, match=match):
            fastreg.load(path)
        with pytest.raises(ValueError, match="is not a fastreg model file"):
            fastreg.load(path)
    with pytest.raises(FileNotFoundError):
        fastreg.load(tmp_path / "missing.npz")
    assert isinstance(zipfile.ZipFile(good), zipfile.ZipFile)  # the good file is a plain zip


def test_newer_format_version_is_refused(tmp_path):
    model, _X, _y = _fit(LogisticRegression, np.array([0, 1]))
    with np.load(model.save(tmp_path / "m.npz")) as archive:
        members = {k: archive[k] for k in archive.files}
    members["format_version"] = np.array(3)
    np.savez(tmp_path / "v3.npz", **members)
    with pytest.raises(ValueError, match="format version 3"):
        fastreg.load(tmp_path / "v3.npz")
