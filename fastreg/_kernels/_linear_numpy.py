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


def _reset_batches_done():
    """Make ``_last_batches_done()`` 0 until the next epoch ends: a caller that may stop the
    next call before it starts (a signal handler) then reads 0, not the last call's count."""
    global _batches_done
    _batches_done = 0


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


def _right(Z, y):
    """Which rows the logits classify right: z >= 0 means class 1 (K == 1), else the argmax."""
    if Z.shape[1] == 1:
        return (Z[:, 0] >= 0) == (y == 1)
    return Z.argmax(axis=1) == y


def epoch(
    X,
    y,
    coef,
    intercept,
    order,
    batch_size,
    learning_rates,
    l2,
    input_scale=1.0,
    n_threads=1,
    sample_weight=None,
    step_scale=None,
):
    """Mini-batch gradient descent over the rows ``X[order]``, in place on coef and intercept.

    Batch t holds rows R_t = ``order[t*B:(t+1)*B]`` (the last may be smaller, B = batch_size,
    n_t = |R_t|) and takes the step, with G_n = dE_n/dz_n of row n's logits
    (``_loss_numpy.cross_entropy_grad``), v_n = ``sample_weight[n]`` and P = diag(step_scale)
    acting on the feature axis:
        coef      -= lr_t P ((1/n_t) sum_{n in R_t} v_n G_n x_n^T + 2 l2 coef),
        intercept -= lr_t (1/n_t) sum_{n in R_t} v_n G_n,
    with lr_t = ``learning_rates[t]`` (float64, at least ceil(len(order)/B) entries). ``n_threads``
    is accepted for signature parity (NumPy decides its own threading).

    ``sample_weight`` (N,) is indexed by row of X, like y (not by position in ``order``); None
    means v = 1. The weights are not normalised here: the estimators pass them with mean 1 over
    the training rows, so a full-batch step is the gradient of sum v E / sum v. ``step_scale``
    (d,) scales column j's step, L2 term included; the intercept's step is not scaled. None
    means all ones. With both None the arithmetic is exactly the unweighted epoch's.

    Returns ``(mean_loss, accuracy)`` over the rows seen, each measured on its batch at the
    weights before that batch's step (the running train metrics deep-learning users log):
    sum v_n E_n / sum v_n and sum v_n [row n classified right] / sum v_n, summed in float64.
    If a batch loss is not finite (for K == 1 also: a logit is not finite; a row of weight 0
    counts too, its non-finite gradient would poison the step) the epoch stops before that
    step, leaves the weights as that batch found them, and returns (nan, nan). If a signal
    handler raises (KeyboardInterrupt on Ctrl-C: Python runs the handlers between bytecodes,
    here at the latest after the batch's NumPy calls), the weights are as the batches before
    it left them (``_last_batches_done()`` of them).
    """
    global _batches_done
    _batches_done = 0
    # overflow is reported by the (nan, nan) result, as the compiled epoch does, not by warnings
    with np.errstate(over="ignore", invalid="ignore"):
        return _epoch(
            X,
            y,
            coef,
            intercept,
            order,
            batch_size,
            learning_rates,
            l2,
            input_scale,
            sample_weight,
            step_scale,
        )


def _epoch(
    X,
    y,
    coef,
    intercept,
    order,
    batch_size,
    learning_rates,
    l2,
    input_scale,
    sample_weight,
    step_scale,
):
    global _batches_done
    dtype = coef.dtype
    n = order.shape[0]
    weighted = sample_weight is not None
    loss_sum, correct, weight_sum = 0.0, 0.0, 0.0
    for t, start in enumerate(range(0, n, batch_size)):
        idx = order[start : start + batch_size]
        Xb = _scaled(X[idx], dtype, input_scale)
        yb = y[idx]
        Z = np.matmul(Xb, coef.T)
        Z += intercept
        right = _right(Z, yb)
        # an infinite logit of the logistic model has a finite loss limit (0 when its sign is
        # right), but it means the weights or the row overflowed: it counts as not finite
        finite_logits = Z.shape[1] > 1 or bool(np.isfinite(Z).all())
        loss, G = _loss_numpy.cross_entropy_grad(Z, yb, grad=Z)
        if weighted:
            vb = sample_weight[idx]
            # 0 * inf is nan: a row of weight 0 with a non-finite loss stops the epoch too
            batch_loss = float(np.dot(vb.astype(np.float64), loss.astype(np.float64)))
            batch_correct = float(vb.sum(where=right, dtype=np.float64))
            batch_weight = float(vb.sum(dtype=np.float64))
            G *= vb[:, None]
        else:
            batch_loss = float(loss.sum(dtype=np.float64))
            batch_correct = int(np.count_nonzero(right))
            batch_weight = idx.shape[0]
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
        if step_scale is None:
            grad *= lr
        else:  # lr p_j is lr exactly where p_j = 1: an all-ones step scale changes no bit
            grad *= lr * step_scale
        step_b = lr * (G.sum(axis=0) / nb)
        # no call between these three lines: CPython runs signal handlers only at calls and
        # loop jumps, so a KeyboardInterrupt finds the weights at a batch boundary, never
        # with coef stepped and intercept not (as in the compiled epoch)
        coef -= grad
        intercept -= step_b
        _batches_done = t + 1
        loss_sum += batch_loss
        correct += batch_correct
        weight_sum += batch_weight
    return loss_sum / weight_sum, correct / weight_sum
