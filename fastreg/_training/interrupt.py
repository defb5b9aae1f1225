"""A request to stop training after the current batch, and keep what was learnt so far.

Library calls are transactions: a KeyboardInterrupt in ``fit`` leaves the estimator as it was
(:mod:`.fit`). The command line wants the other behaviour users know from long training runs:
the first Ctrl-C ends training after the current batch, the best weights so far are kept (as
early stopping would keep them), and the run is written, marked interrupted. It asks for that
by making a :class:`GracefulStop` current (:func:`watching`) around ``fit``, and calling
:meth:`GracefulStop.request` from its SIGINT handler.

How the request reaches a running kernel: both epoch kernels run Python's signal handlers
between batches (the compiled one every sub-block, the NumPy one between bytecodes) and, when a
handler raises, stop with the weights at a batch boundary, ``_last_batches_done()`` steps taken.
So :meth:`~GracefulStop.request` raises :class:`StopRequested` while a kernel runs (the trainer
catches it and counts the steps taken) and only records the request otherwise (the trainer
looks at :attr:`~GracefulStop.requested` after each check): bookkeeping between kernel calls is
never cut in half.
"""

import contextlib

__all__ = ["GracefulStop", "StopRequested", "current", "watching"]


class StopRequested(KeyboardInterrupt):
    """Raised into a running epoch kernel by :meth:`GracefulStop.request`."""


class GracefulStop:
    """One training run's stop request. ``requested``: a stop was asked for; ``stopped``: the
    trainer acted on it (training ended early because of it)."""

    def __init__(self):
        self.requested = False
        self.stopped = False
        self._in_kernel = False

    def request(self):
        """Ask training to stop after the current batch (safe to call from a signal handler)."""
        self.requested = True
        if self._in_kernel:
            self._in_kernel = False  # raised once: the kernel stops at this batch boundary
            raise StopRequested

    @contextlib.contextmanager
    def kernel(self):
        """Mark a kernel call: a request during it interrupts the kernel (after its batch)."""
        if self.requested:  # asked for before the call: take no step
            raise StopRequested
        self._in_kernel = True
        try:
            yield
        finally:
            self._in_kernel = False


_current = None


def current():
    """The :class:`GracefulStop` that training watches now, or None (a plain transaction)."""
    return _current


@contextlib.contextmanager
def watching(stop):
    """Make ``stop`` the current request for the block (the trainer reads it when it starts)."""
    global _current
    previous, _current = _current, stop
    try:
        yield stop
    finally:
        _current = previous
