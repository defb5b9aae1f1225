"""The NumPy twin of ``fastreg._kernels._linear`` (``src_pyx/_linear.pyx``): the forward pass
and the training epoch. This file is the specification; the compiled module is held to it.

One layout for every model: ``coef`` (K, d) C-contiguous and ``intercept`` (K,), the link chosen
by K (sigmoid for K == 1, the logistic model with labels 0/1; softmax for K >= 2, labels
0..K-1), as in ``fastreg/_kernels/_loss_numpy.py``, whose cross-entropy gradient the epoch calls.

``X`` is (N, d), C-contiguous, of coef's dtype or uint8; the model sees ``X * input_scale``:
a row x means ``dtype(x) * dtype(input_scale)``, the scale applied inside, for every dtype, so
no caller makes a scaled float copy. The input checks of ``fastreg/_kernels/_checks.py`` run
before these functions on both backends; the functions here trust their inputs.
"""
import numpy as np

from . import _loss_numpy

#: rows converted from uint8 (or scaled) at a time by linear_forward: bounds the temporary copy
_FORWARD_CHUNK = 4096
#: batches whose step the last epoch took (``_last_batches_done``)
_batches_done = 0


def _last_batches_done():
    """Batches whose step the last epoch took: all of them, or those before its stop."""
    return _batches_done


def _scaled(Xb, dtype, input_scale):
    """The rows the model sees: ``dtype(Xb) * dtype(input_scale)`` (Xb itself when that is it)."""
    if Xb.dtype != dtype:  # uint8 pixels
        return Xb.astype(dtype) * dtype.type(input_scale)
    if input_scale != 1.0:
        return Xb * dtype.type(input_scale)
    return Xb


def linear_forward(X, coef, intercept, input_scale=1.0, out=None):
    """Logits ``out[n, k] = sum_j (input_scale X[n, j]) coef[k, j] + intercept[k]``, shape (N, K).

    ``out`` (N, K) of coef's dtype is written and returned (allocated when None).
    """
    dtype = coef.dtype
    N = X.shape[0]
    out = np.empty((N, coef.shape[0]), dtype=dtype) if out is None else out
    if X.dtype == dtype and input_scale == 1.0:
        np.matmul(X, coef.T, out=out)
    else:
        for start in range(0, N, _FORWARD_CHUNK):
            stop = min(N, start + _FORWARD_CHUNK)
            np.matmul(_scaled(X[start:stop], dtype, input_scale), coef.T, out=out[start:stop])
    out += intercept
    return out


def _correct(Z, y):
    """How many rows the logits classify right: z >= 0 means class 1 (K == 1), else the argmax."""
    if Z.shape[1] == 1:
        return int(np.count_nonzero((Z[:, 0] >= 0) == (y == 1)))
    return int(np.count_nonzero(Z.argmax(axis=1) == y))


def epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2, input_scale=1.0,
          n_threads=1):
    """Mini-batch gradient descent over the rows ``X[order]``, in place on coef and intercept.

    Batch t holds rows ``order[t*B:(t+1)*B]`` (the last may be smaller, B = batch_size) and takes
    the step, with G_t = dE/dZ of the batch's logits (``_loss_numpy.cross_entropy_grad``):
        coef -= lr_t ((1/n_t) G_t^T X_t + 2 l2 coef),  intercept -= lr_t (1/n_t) sum_n G_tn,
    with lr_t = ``learning_rates[t]`` (float64, at least ceil(len(order)/B) entries). ``n_threads``
    is accepted for signature parity (NumPy decides its own threading).

    Returns ``(mean_loss, accuracy)`` over the rows seen, each measured on its batch at the
    weights before that batch's step (the running train metrics deep-learning users log); the
    loss is summed in float64. If a batch loss is not finite (for K == 1 also: a logit is not
    finite) the epoch stops before that step, leaves the weights as that batch found them, and
    returns (nan, nan). If a signal handler raises (KeyboardInterrupt on Ctrl-C: Python runs
    the handlers between bytecodes, here at the latest after the batch's NumPy calls), the
    weights are as the batches before it left them (``_last_batches_done()`` of them).
    """
    global _batches_done
    _batches_done = 0
    # overflow is reported by the (nan, nan) result, as the compiled epoch does, not by warnings
    with np.errstate(over="ignore", invalid="ignore"):
        return _epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2, input_scale)


def _epoch(X, y, coef, intercept, order, batch_size, learning_rates, l2, input_scale):
    global _batches_done
    dtype = coef.dtype
    n = order.shape[0]
    loss_sum, correct = 0.0, 0
    for t, start in enumerate(range(0, n, batch_size)):
        idx = order[start:start + batch_size]
        Xb = _scaled(X[idx], dtype, input_scale)
        yb = y[idx]
        Z = np.matmul(Xb, coef.T)
        Z += intercept
        batch_correct = _correct(Z, yb)
        # an infinite logit of the logistic model has a finite loss limit (0 when its sign is
        # right), but it means the weights or the row overflowed: it counts as not finite
        finite_logits = Z.shape[1] > 1 or bool(np.isfinite(Z).all())
        loss, G = _loss_numpy.cross_entropy_grad(Z, yb, grad=Z)
        batch_loss = float(loss.sum(dtype=np.float64))
        if not (finite_logits and np.isfinite(batch_loss)):  # diverged: keep the weights
            return float("nan"), float("nan")
        nb = Xb.shape[0]
        lr = dtype.type(learning_rates[t])
        # the step in place on one (K, d) buffer: at batch 32 each temporary array of that
        # size costs as much as the arithmetic on it
        grad = np.matmul(G.T, Xb)
        grad /= nb
        if l2:
            grad += dtype.type(2 * l2) * coef
        grad *= lr
        step_b = lr * (G.sum(axis=0) / nb)
        # no call between these three lines: CPython runs signal handlers only at calls and
        # loop jumps, so a KeyboardInterrupt finds the weights at a batch boundary, never
        # with coef stepped and intercept not (as in the compiled epoch)
        coef -= grad
        intercept -= step_b
        _batches_done = t + 1
        loss_sum += batch_loss
        correct += batch_correct
    return loss_sum / n, correct / n
