"""Epochs cut short, for the dense and the sparse epoch tests alike.

An epoch kernel may end before its last batch in two ways, and in both the weights must be
those after the whole batches it got through, bit for bit:

* a non-finite batch: the epoch returns (nan, nan) before that batch's step
  (:func:`assert_stops_before_batch`);
* an exception raised by a Python signal handler, which the compiled kernels run between
  batches (:func:`assert_cuts_leave_whole_batches`, driven by SIGALRM through
  :func:`alarm_raises` and :func:`cut_by_alarm`).
"""

import contextlib
import signal
import time

import numpy as np


class Alarm(BaseException):
    """What the SIGALRM handler of :func:`alarm_raises` raises (not KeyboardInterrupt, which
    would end pytest; a BaseException, so that no ``except Exception`` of the code under test
    swallows it)."""


@contextlib.contextmanager
def alarm_raises():
    """Inside the block, SIGALRM's handler raises :class:`Alarm` (signal.setitimer arms the
    alarm); on leaving, the timer is disarmed and the previous handler restored."""

    def alarm(signum, frame):
        raise Alarm

    previous = signal.signal(signal.SIGALRM, alarm)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def cut_by_alarm(delay, epoch, *args, **kw):
    """Run ``epoch(*args, **kw)`` with SIGALRM due ``delay`` s after its start (inside
    :func:`alarm_raises`); True when the handler's Alarm came out of it (or right after it)."""
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, delay)
            epoch(*args, **kw)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Alarm:
        return True
    return False


def assert_cuts_leave_whole_batches(run, batches_done, coef, intercept, order, batch_size, want):
    """Interrupt ``run`` by SIGALRM at random times until ``want`` runs were cut between their
    first and last batch (at most 15 ``want`` tries), and check that wherever the handler's
    exception lands the weights are bitwise those after ``batches_done()`` whole batches.

    ``run(c, b, order)`` is one epoch over ``order`` (batches of ``batch_size`` rows, with the
    same learning rates whatever the length of ``order``) updating ``c`` and ``b`` in place;
    ``batches_done()`` is the count of batches the kernel reports done by its last call. The
    alarm is drawn uniformly within the time of one uninterrupted epoch.
    """
    n_batches = -(-order.size // batch_size)
    states = {0: (coef, intercept)}

    def after(t):
        """The weights after the first t batches, uninterrupted."""
        if t not in states:
            c, b = coef.copy(), intercept.copy()
            run(c, b, order[: t * batch_size])
            states[t] = c, b
        return states[t]

    t0 = time.perf_counter()
    after(n_batches)
    span, rng = time.perf_counter() - t0, np.random.default_rng(0)
    cut = runs = 0
    with alarm_raises():
        while cut < want and runs < 15 * want:
            runs += 1
            c, b = coef.copy(), intercept.copy()
            interrupted = cut_by_alarm(rng.uniform(1e-5, span), run, c, b, order)
            done = batches_done()
            if interrupted and np.array_equal(c, coef) and np.array_equal(b, intercept):
                continue  # before the first step (maybe before the epoch began: done is stale)
            assert 0 <= done <= n_batches
            expected = after(done)
            np.testing.assert_array_equal(c, expected[0], err_msg=f"not {done} whole batches")
            np.testing.assert_array_equal(b, expected[1], err_msg=f"not {done} whole batches")
            cut += interrupted and 0 < done < n_batches
    assert cut == want, f"only {cut} of {runs} runs were cut inside the epoch"


def assert_stops_before_batch(
    epoch,
    X,
    y,
    coef,
    intercept,
    order,
    batch_size,
    bad,
    learning_rates,
    l2,
    batches_done=None,
    **kw,
):
    """An epoch over ``order`` whose batch ``bad`` (0-based) is not finite returns (nan, nan)
    and leaves the weights bitwise as after the ``bad`` batches before it (as given when
    ``bad`` is 0), ``batches_done()`` (when given) reporting ``bad``.

    ``epoch`` is a kernel of the signature of ``epoch`` / ``sparse_epoch``; it runs on copies
    of ``coef`` and ``intercept``. Returns the weights the stopped epoch left, (coef,
    intercept).
    """
    c_before, b_before = coef.copy(), intercept.copy()
    if bad:  # an empty order is refused: zero batches are the weights as given
        epoch(
            X,
            y,
            c_before,
            b_before,
            order[: bad * batch_size],
            batch_size,
            learning_rates,
            l2,
            **kw,
        )
    c, b = coef.copy(), intercept.copy()
    result = epoch(X, y, c, b, order, batch_size, learning_rates, l2, **kw)
    assert np.isnan(result[0]) and np.isnan(result[1]), result
    if batches_done is not None:
        assert batches_done() == bad
    np.testing.assert_array_equal(c, c_before)
    np.testing.assert_array_equal(b, b_before)
    return c, b
