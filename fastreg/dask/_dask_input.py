"""The Dask arrays ``DataParallel`` takes, checked on the client without reading the data,
and blockwise prediction."""

from __future__ import annotations

import numpy as np

from ..exceptions import InvalidParameterError

__all__ = ["as_dask_pair", "blockwise", "classes_of", "refuse_non_dask_inputs"]


def refuse_non_dask_inputs(a, name):
    """Refuse anything but a Dask array (training data must not pass through the client)."""
    if not hasattr(a, "dask") or not hasattr(a, "chunks"):
        raise InvalidParameterError(
            f"{name} must be a Dask array, got {type(a).__name__}",
            param=name,
            hint="wrap data in memory with dask.array.from_array(X, chunks=(rows, -1)), or "
            "open a store where the workers read it: fastreg.datasets.open_zarr(path).to_dask()",
        )


def _from_zarr(a):
    """A zarr array as a Dask array of its own chunks (the workers read them); else ``a``."""
    if type(a).__module__.split(".")[0] == "zarr" and hasattr(a, "chunks"):
        import dask.array as da

        return da.from_zarr(a)
    return a


def as_dask_pair(X, y, x_name, y_name, n_features=None):
    """(X, y) checked: X 2-D of uint8/float32/float64 with one block of columns (rechunked
    if not), y 1-D with X's rows, cut into X's row blocks. zarr arrays (``open_zarr(path).X``)
    become Dask arrays of their chunks."""
    X, y = _from_zarr(X), _from_zarr(y)
    refuse_non_dask_inputs(X, x_name)
    refuse_non_dask_inputs(y, y_name)
    if X.ndim != 2:
        raise InvalidParameterError(f"{x_name} must be 2-D, got {X.ndim}-D", param=x_name)
    if X.dtype not in (np.uint8, np.float32, np.float64):
        raise InvalidParameterError(
            f"{x_name} has dtype {X.dtype}; expected uint8, float32 or float64",
            param=x_name,
            hint=f"convert it with {x_name}.astype(np.float32)",
        )
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise InvalidParameterError(
            f"{y_name} must be 1-D with {X.shape[0]} labels (one per row of {x_name}), "
            f"got shape {y.shape}",
            param=y_name,
        )
    if any(np.isnan(c) for c in X.chunks[0]) or any(np.isnan(c) for c in y.chunks[0]):
        raise InvalidParameterError(
            f"{x_name} and {y_name} must have known row chunks",
            param=x_name,
            hint="call compute_chunk_sizes() on them first",
        )
    if n_features is not None and X.shape[1] != n_features:
        raise InvalidParameterError(
            f"{x_name} has {X.shape[1]} features, but X has {n_features}; they must match",
            param=x_name,
        )
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk((X.chunks[0],))
    return X, y


def classes_of(client, y, classes):
    """The sorted distinct labels: ``classes`` given, else read from y on ``client``'s
    workers (each block's distinct labels; only those travel)."""
    if classes is not None:
        return np.unique(np.asarray(classes))
    import dask.array as da

    return np.unique(client.compute(da.unique(y)).result())


def blockwise(model, method, X):
    """``model.<method>`` on X: in memory for a NumPy array, else on every row block of the
    Dask array X on the workers (the model, K x d weights, travels in the graph)."""
    if not hasattr(X, "dask"):
        return getattr(model, method)(X)
    if X.ndim != 2:
        raise InvalidParameterError(f"X must be 2-D, got {X.ndim}-D", param="X")
    if len(X.chunks[1]) != 1:
        X = X.rechunk({1: -1})
    if method == "predict":
        return X.map_blocks(model.predict, drop_axis=1, dtype=model.classes_.dtype)
    if method == "decision_function" and model.coef_.shape[0] == 1:  # one sigmoid row: (n,)
        return X.map_blocks(model.decision_function, drop_axis=1, dtype=model.coef_.dtype)
    # predict_proba, and the logits of K >= 2 rows: one column per class
    columns = (len(model.classes_),)
    return X.map_blocks(
        getattr(model, method), chunks=(X.chunks[0], columns), dtype=model.coef_.dtype
    )
