"""When a validation check of the trainer fails: bad input, or divergence.

Input that is not finite
    Training X is not checked for NaN and infinity before training (one pass over X, a third
    of a compiled epoch at MNIST size): the kernels read every value anyway and stop at a
    batch whose loss is not finite. When a check fails that way, X (and the validation X) is
    checked first, and a NaN or infinity in it raises the input checks' own error
    (:func:`refuse_non_finite`) instead of a divergence; so does one in the rows an early stop
    within the first epoch left unread. Nothing is committed either way.

Divergence
    Weights are copied before each kernel call. A check diverges when the kernel reports a
    non-finite loss, the weights or the validation loss are not finite afterwards, or the loss
    blows up while still finite. The blow-up rule compares the check's train loss L with the
    run's starting level L0 = max(log max(K, 2), the first train loss of ``history``): log K is
    the loss of zero weights (uniform predictions), the first recorded loss that of a
    ``partial_fit`` chain's start. It diverges when L > 1e6 L0 (blow-up), or when the train
    loss rose at each of the last 5 checks, by a factor of 10 or more in all, to above 10 L0
    (sustained growth). The factors are wide on purpose. With a learning rate far too large
    for the features' scale, SGD on the cross-entropy behaves like the perceptron: finite
    weights of size ~ learning rate, and a loss ~ learning_rate |x|^2 that no longer falls
    (scaled MNIST at learning_rate 1e9: L ~ 4e8 L0 from the first check; scikit-learn's
    estimator checks, features ~ 100 at learning_rate 0.1: L up to ~1e4 L0, a run that must
    pass). Sane runs (MNIST at learning rates up to 0.5, any schedule) stay below L0 after
    their first checks, and noisy SGD's rises are small (at most 1.8x over 5 rising checks in
    those checks' runs), so neither rule trips on them.
    The weights are then restored (to the best validation weights under early stopping, else
    to the copy) and :class:`fastreg.exceptions.TrainingDivergedError` is raised, carrying
    those weights and the history up to the last good check (the failing check is not
    recorded). The fit driver never commits them: the estimator keeps what it had.
    The error's ``learning_rate`` is an explicit learning rate to compare with: the largest
    rate of the failed steps, times the smallest per-feature step scale when there are scales
    (``learning_rate="auto"``: the explicit rate whose steps are nowhere larger), so that
    "a tenth of it" is advice that holds for either kind of learning_rate.

"""

import math

import numpy as np

from .._sparse_input import is_sparse
from .._validation import check_finite

#: the blow-up rule (see "Divergence" above): L > BLOWUP L0, or RISING rises in a row that
#: multiply the loss by RISING_GROWTH or more and end above RISING_LEVEL L0
BLOWUP, RISING, RISING_GROWTH, RISING_LEVEL = 1e6, 5, 10.0, 10.0


def refuse_non_finite(X, rows=None):
    """Raise :func:`fastreg._validation.check_finite`'s error when the dense ``X`` (only
    ``X[rows]`` when given) holds NaN or infinity; CSR values were checked on the way in."""
    if is_sparse(X) or X.dtype.kind != "f":
        return
    check_finite(X if rows is None else X[rows], "X")


def non_finite(loss, coef, intercept):
    if not math.isfinite(loss):
        return "the training loss became NaN or infinite"
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        return "the weights became NaN or infinite"
    return None


def blown_up(loss, level, losses):
    """Why the finite train ``loss`` of a check counts as divergence, or None (the rule of
    the module docstring; ``losses`` are the train losses recorded before this check)."""
    if loss > BLOWUP * level:
        return (
            f"the training loss grew to {loss:.3g}, over {BLOWUP:g} times its starting "
            f"level {level:.3g}"
        )
    last = losses[-RISING:]
    if (
        loss > RISING_LEVEL * level
        and len(last) == RISING
        and loss >= RISING_GROWTH * last[0]
        and all(a < b for a, b in zip(last, last[1:] + [loss]))
    ):
        return (
            f"the training loss rose at {RISING} checks in a row, from {last[0]:.3g} to {loss:.3g}"
        )
    return None
