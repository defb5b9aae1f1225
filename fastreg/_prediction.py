"""Prediction for both estimators: logits, scores, probabilities, labels and accuracy.

:class:`Predictor` is the mixin of :class:`fastreg.linear_model._LinearClassifier`. Every
method starts from the logits Z = (X * input_scale) coef_^T + intercept_ (n, K) of one kernel
call; the link follows K: K = 1 (``coef_`` of one row: LogisticRegression on two classes) is
the sigmoid, p(classes_[1]) = s(z); K >= 2 the softmax over ``classes_``.

X may be dense (uint8 and the weights' float type as they are, another float type converted a
block of rows at a time) or scipy.sparse (as CSR, values converted to the weights' type if
need be, never densified; ``input_scale`` does not apply to sparse data and is refused).
Column names of a data frame are checked against ``feature_names_in_`` first
(:mod:`fastreg._feature_names`), as scikit-learn does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._estimator_base import NotFittedError
from ._feature_names import check_feature_names
from ._kernels import get_backend
from ._sample_weight import check_sample_weight, positive_rows
from ._sparse_input import as_csr, is_sparse, refuse_input_scale
from ._targets import check_labels
from ._validation import check_array, check_param
from .exceptions import InvalidParameterError

if TYPE_CHECKING:
    from typing import TypeAlias

    from numpy.typing import ArrayLike, NDArray
    from scipy.sparse import sparray, spmatrix

    #: X as the estimators take it: an array, a data frame, or a scipy.sparse matrix or array
    MatrixLike: TypeAlias = ArrayLike | spmatrix | sparray

_PREDICT_CHUNK_BYTES = 1 << 20  # rows converted at a time when X's float type differs


class Predictor:
    """``decision_function``, ``predict_proba``, ``predict_log_proba``, ``predict``, ``score``
    from ``coef_``, ``intercept_`` and ``classes_``."""

    if TYPE_CHECKING:  # provided by the estimator class (fastreg.linear_model); types only
        backend: str | None
        input_scale: float | None
        coef_: NDArray[np.floating[Any]]
        intercept_: NDArray[np.floating[Any]]
        classes_: NDArray[Any]
        n_features_in_: int

        def __sklearn_is_fitted__(self) -> bool: ...

    def _check_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )

    def _check_n_features(self, d, name):
        if d != self.n_features_in_:
            raise InvalidParameterError(
                f"{name} has {d} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input.",
                param=name,
            )

    def _kernels(self):
        return get_backend(check_param("backend", self.backend))

    def _logits(self, X):
        """Z = (X * input_scale) coef_^T + intercept_, shape (n, K); the kernel scales."""
        self._check_fitted()
        check_feature_names(self, X)
        X = check_array(X, "X", accept_sparse=True)
        self._check_n_features(X.shape[1], "X")
        kernels = self._kernels()
        input_scale = check_param("input_scale", self.input_scale)
        coef = np.ascontiguousarray(self.coef_)
        intercept = np.ascontiguousarray(self.intercept_, dtype=coef.dtype)
        if is_sparse(X):
            refuse_input_scale(input_scale, X)
            return kernels.sparse_linear_forward(as_csr(X, coef.dtype), coef, intercept)
        scale = input_scale or 1.0
        if X.dtype == np.uint8 or X.dtype == coef.dtype:
            return kernels.linear_forward(X, coef, intercept, scale)
        # another float type: converted (not scaled) a block of rows at a time
        n = X.shape[0]
        out = np.empty((n, coef.shape[0]), dtype=coef.dtype)
        rows = max(1, _PREDICT_CHUNK_BYTES // (X.shape[1] * coef.dtype.itemsize))
        for start in range(0, n, rows):
            block = np.ascontiguousarray(X[start : start + rows], dtype=coef.dtype)
            kernels.linear_forward(block, coef, intercept, scale, out=out[start : start + rows])
        return out

    def decision_function(self, X: MatrixLike) -> NDArray[np.floating[Any]]:
        """Scores as in scikit-learn: with two classes the log-odds of classes_[1], shape
        (n_samples,), positive for classes_[1] (LogisticRegression: its logit z;
        SoftmaxRegression: a_1 - a_0); with more, the logits (n_samples, n_classes)."""
        Z = self._logits(X)
        if Z.shape[1] == 1:
            return Z.reshape(-1)
        return Z[:, 1] - Z[:, 0] if Z.shape[1] == 2 else Z

    def predict_proba(self, X: MatrixLike) -> NDArray[np.floating[Any]]:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        Z = self._logits(X)
        kernels = self._kernels()
        if Z.shape[1] == 1:
            z = Z.reshape(-1)
            return np.column_stack([kernels.sigmoid(-z), kernels.sigmoid(z)])
        return kernels.softmax(Z, out=Z)

    def predict_log_proba(self, X: MatrixLike) -> NDArray[np.floating[Any]]:
        """Log of :meth:`predict_proba` from the logits, without log(0): log p_k =
        (z_k - m) - log sum_c e^{z_c - m}, m = max_c z_c (z_k - m is exact, even at |z| ~ 1e17)."""
        Z = self._logits(X)
        if Z.shape[1] == 1:
            z = Z.reshape(-1)
            return np.column_stack([-np.logaddexp(0, z), -np.logaddexp(0, -z)])
        Z -= Z.max(axis=1, keepdims=True)
        Z -= np.log(np.exp(Z).sum(axis=1, keepdims=True))
        return Z

    def predict(self, X: MatrixLike) -> NDArray[Any]:
        """The most probable class of each row (labels from ``classes_``)."""
        Z = self._logits(X)
        idx = (Z[:, 0] >= 0).astype(np.intp) if Z.shape[1] == 1 else Z.argmax(axis=1)
        return self.classes_[idx]

    def score(self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
        """Mean accuracy of ``predict(X)`` against ``y``: sum_n w_n [right_n] / sum_n w_n with
        ``sample_weight`` w (finite, >= 0, not all zero; None: all ones)."""
        pred = self.predict(X)
        labels = check_labels(y, pred.shape[0], warn_column=False)
        weights = check_sample_weight(sample_weight, pred.shape[0])
        if weights is None:
            return float(np.mean(pred == labels))
        positive_rows(weights, pred.shape[0])  # all zero: the error of fit
        return float(np.average(pred == labels, weights=weights))
