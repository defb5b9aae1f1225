"""Sparse input as the sparse kernels take it: one CSR matrix, converted at most once.

Rules (scikit-learn's for its own sparse estimators):

* any scipy.sparse matrix or array is accepted; a format other than CSR is converted once
  (``X.tocsr()``, which also sums the duplicates of a COO matrix); a CSR input of the right
  value type is used as it is, without a copy, whatever its index order or duplicates;
* values: float32 and float64 are kept, every other number type (integers, booleans, uint8
  included: sparse data is never scaled, so there is no pixel path) becomes float64, or the
  ``dtype`` the caller asks for;
* indices and indptr: int32 or int64, one type for both (the wider when they differ).

The data are never densified. Finiteness and shapes are checked by the caller
(:func:`fastreg._validation.check_array`, the one dialect), which calls this module; scipy is
never imported here (the matrix's own methods and class build the result).
"""

import numpy as np

from .exceptions import InvalidParameterError

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INDEX = (np.dtype(np.int32), np.dtype(np.int64))


def is_sparse(obj):
    """Whether ``obj`` is a scipy.sparse matrix or array (duck-typed: no scipy import)."""
    return hasattr(obj, "tocsr") and hasattr(obj, "nnz") and hasattr(obj, "format")


def as_csr(X, dtype=None):
    """``X`` as a CSR matrix of float32/float64 values (see the module docstring).

    ``dtype`` None keeps float32/float64 and turns other values into float64.
    """
    if dtype is None:
        dtype = X.dtype if X.dtype in _FLOATS else np.dtype(np.float64)
    dtype = np.dtype(dtype)
    if X.format != "csr":
        X = X.tocsr()
    if X.dtype != dtype:
        X = X.astype(dtype)
    index = np.result_type(X.indices.dtype, X.indptr.dtype)
    if X.indices.dtype != X.indptr.dtype or index not in _INDEX:
        index = np.dtype(np.int64) if index.itemsize > 4 or index not in _INDEX else index
        X = type(X)((X.data, X.indices.astype(index), X.indptr.astype(index)), shape=X.shape)
    return X


def refuse_input_scale(input_scale, X, name="X"):
    """Sparse data is used as given: ``input_scale`` (not None) with a sparse ``X`` raises."""
    if input_scale is not None and is_sparse(X):
        raise InvalidParameterError(
            f"input_scale={input_scale!r} cannot be used with sparse {name}: sparse data is "
            "used as given (the sparse kernels do not scale it)",
            param="input_scale",
            hint="scale the matrix yourself (X * scale keeps it sparse) and set input_scale=None",
        )
