"""The validation metrics of the trainer: mean cross-entropy and accuracy on a fixed set.

The validation loss carries no L2 term (it measures the fit to unseen data, the quantity early
stopping watches). With weights w on the validation rows both are weighted means:
sum w E / sum w and sum w [right] / sum w; without, plain means.
"""

import numpy as np

from .._sparse_input import is_sparse

__all__ = ["Evaluator"]


class Evaluator:
    """Mean cross-entropy (no L2 term) and accuracy on a fixed validation set, weighted by
    its rows' weights w when it has them: sum w E / sum w and sum w [right] / sum w.

    The logits buffer is allocated once; the forward kernel (which applies ``input_scale``;
    ``sparse_linear_forward`` for a CSR X_val) and the cross-entropy kernel write into it, so
    a validation check allocates nothing of size N_val x K. K = 1: class 1 when z >= 0;
    K >= 2: the argmax.
    """

    def __init__(self, kernels, validation, coef, input_scale):
        self.kernels = kernels
        if validation is None:
            return
        self.X, self.y = validation[:2]
        self.weights = validation[2] if len(validation) > 2 else None
        self.input_scale = input_scale
        n = self.X.shape[0]
        self.logits = np.empty((n, coef.shape[0]), dtype=coef.dtype)
        self.losses = np.empty(n, dtype=coef.dtype)
        self.positive = self.y == 1

    def __call__(self, coef, intercept):
        k = self.kernels
        if is_sparse(self.X):
            Z = k.sparse_linear_forward(self.X, coef, intercept, out=self.logits)
        else:
            Z = k.linear_forward(self.X, coef, intercept, self.input_scale, out=self.logits)
        k.cross_entropy(Z, self.y, out=self.losses)
        right = (Z[:, 0] >= 0) == self.positive if Z.shape[1] == 1 else Z.argmax(axis=1) == self.y
        w = self.weights
        if w is None:
            n = self.losses.shape[0]
            return float(self.losses.sum(dtype=np.float64)) / n, np.count_nonzero(right) / n
        total = float(w.sum())
        return (
            float(np.dot(w, self.losses.astype(np.float64))) / total,
            float(w.sum(where=right)) / total,
        )
