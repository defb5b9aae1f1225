"""Ctrl-C on the command line: the first press keeps the best model, the second aborts.

Inside :func:`graceful_interrupts` the first SIGINT asks training to stop after the current
batch (:class:`fastreg._training.interrupt.GracefulStop`: the best weights so far are kept, as
early stopping would keep them, and the command writes its complete run folder, marked
interrupted); the second SIGINT raises KeyboardInterrupt at once, and the command's
run-folder transaction removes what it had started (nothing is left). A first press that
comes before training started or after it ended is remembered (``state.requested``) and
changes nothing: the run is written as usual.

``fastreg sweep --jobs N`` trains in worker processes started with :func:`worker_init`: they
ignore SIGINT (a press in the terminal reaches every process of the group; the parent
decides), stop gracefully on SIGUSR1 (the parent's first press, forwarded) and abort on
SIGTERM (the second).
"""

import contextlib
import signal
import threading

from .._training.interrupt import GracefulStop, current, watching

#: the signal a sweep's parent sends its workers for "first Ctrl-C"
STOP_SIGNAL = getattr(signal, "SIGUSR1", None)


@contextlib.contextmanager
def graceful_interrupts(on_first=None):
    """Within the block: first SIGINT -> stop training gracefully (and ``on_first()``), second
    -> KeyboardInterrupt. Yields the :class:`GracefulStop`; its ``requested`` tells whether
    the first press came. Outside the main thread (a test's worker), only the request object
    is made current: no handler can be installed there. Nested (a run of a sweep, a task of
    a sweep's worker), it yields the stop already current: the outer block decides."""
    outer = current()
    if outer is not None:  # inside a sweep's block or a worker's task: that one decides
        yield outer
        return
    stop = GracefulStop()
    if threading.current_thread() is not threading.main_thread():
        with watching(stop):
            yield stop
        return

    def handler(signum, frame):
        if stop.requested:  # the second press: abort now
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        if on_first is not None:
            on_first()
        stop.request()  # raises into a running kernel; the trainer catches it

    previous = signal.signal(signal.SIGINT, handler)
    try:
        with watching(stop):
            yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


_worker_stop = None


def worker_init():
    """Initializer of a sweep's worker process: see the module docstring."""
    global _worker_stop
    _worker_stop = GracefulStop()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if STOP_SIGNAL is not None:
        signal.signal(STOP_SIGNAL, lambda signum, frame: _worker_stop.request())
    signal.signal(signal.SIGTERM, _abort)


def _abort(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def worker_interrupts():
    """In a worker started by :func:`worker_init`: make its stop request current for the
    block (a fresh one per task: a stop asked for the last task does not carry over)."""
    global _worker_stop
    _worker_stop = GracefulStop()
    with watching(_worker_stop):
        yield _worker_stop
