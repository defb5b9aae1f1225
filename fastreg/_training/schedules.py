"""Learning-rate schedules: the step size alpha_t of gradient step t = 0, 1, 2, ...

t counts gradient steps (mini-batches) since the start of training. ``P`` is the decay period
``decay_steps`` in steps (the fit driver passes one epoch by default), ``r`` the decay rate
``decay`` and alpha0 the base learning rate:

===============  ===========================================================================
``"constant"``   alpha_t = alpha0
``"step"``       alpha_t = alpha0 * r ** floor(t / P)          (r in (0, 1]: multiply by r
                                                                 every P steps)
``"exponential"`` alpha_t = alpha0 * r ** (t / P)               (the same decay, smoothly)
``"inverse"``    alpha_t = alpha0 / (1 + r * t / P)             (alpha0 / (1 + decay t) with t
                                                                 counted in periods of P steps;
                                                                 P = 1 gives the per-step form)
``"cosine"``     alpha_t = alpha0 * (1 + cos(pi * min(t, T) / T)) / 2, T = ``total_steps``
                                                                (from alpha0 down to 0 at T)
callable f       alpha_t = f(t), called with the integer step count t
===============  ===========================================================================

A schedule is evaluated for a whole epoch at once (``rates(steps)`` gives one float64 rate per
step), because the fused epoch kernels take the learning rate of every batch up front.
"""

import math
import numbers

import numpy as np

from .._validation import SCHEDULE_NAMES, check_param
from ..exceptions import InvalidParameterError, InvalidParameterTypeError

__all__ = ["SCHEDULE_NAMES", "Schedule", "make_schedule"]


class Schedule:
    """A learning-rate schedule: ``rates(steps)`` gives alpha_t for an array of step counts t.

    Parameters
    ----------
    kind : one of :data:`SCHEDULE_NAMES` or a callable ``f(t) -> float``.
    learning_rate : float > 0, alpha0.
    decay : float, the rate r (in (0, 1] for "step"/"exponential", >= 0 for "inverse").
    decay_steps : int >= 1, the period P in steps.
    total_steps : int >= 1, T of the cosine schedule.
    """

    def __init__(self, kind, learning_rate, *, decay=1.0, decay_steps=1, total_steps=1):
        self.kind = kind
        self.learning_rate = float(learning_rate)
        self.decay = float(decay)
        self.decay_steps = int(decay_steps)
        self.total_steps = int(total_steps)

    def rates(self, steps):
        """Learning rates (float64, one per step count in ``steps``)."""
        t = np.asarray(steps, dtype=np.float64)
        a0 = self.learning_rate
        kind = self.kind
        if callable(kind):
            out = np.array([_call(kind, int(s)) for s in np.asarray(steps)], dtype=np.float64)
        elif kind == "constant":
            out = np.full(t.shape, a0)
        elif kind == "step":
            out = a0 * self.decay ** np.floor(t / self.decay_steps)
        elif kind == "exponential":
            out = a0 * self.decay ** (t / self.decay_steps)
        elif kind == "inverse":
            out = a0 / (1.0 + self.decay * t / self.decay_steps)
        elif kind == "cosine":
            frac = np.minimum(t, self.total_steps) / self.total_steps
            out = a0 * 0.5 * (1.0 + np.cos(np.pi * frac))
        else:  # pragma: no cover - make_schedule rejects unknown names first
            raise ValueError(f"unknown lr_schedule {kind!r}")
        return out

    def __call__(self, t):
        """alpha_t for one step count t, as a float."""
        return float(self.rates(np.array([t]))[0])

    def __repr__(self):
        name = (
            getattr(self.kind, "__name__", repr(self.kind)) if callable(self.kind) else self.kind
        )
        return (
            f"Schedule({name}, learning_rate={self.learning_rate}, decay={self.decay}, "
            f"decay_steps={self.decay_steps}, total_steps={self.total_steps})"
        )


def _call(f, t):
    value = f(t)
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise InvalidParameterTypeError(
            f"lr_schedule({t}) returned {value!r}; a callable schedule must return a real "
            "number, the learning rate of step t",
            param="lr_schedule",
        )
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise InvalidParameterError(
            f"lr_schedule({t}) returned {value}; learning rates must be finite and >= 0",
            param="lr_schedule",
        )
    return value


def make_schedule(lr_schedule, learning_rate, *, decay, decay_steps, total_steps):
    """Check the schedule settings and return a :class:`Schedule`.

    Each setting is checked by the parameter table (:mod:`fastreg._validation`); the one rule
    that spans two settings lives here: ``decay`` is checked against the schedule that uses
    it, "step" and "exponential" need a factor in (0, 1], "inverse" a rate >= 0; "constant",
    "cosine" and callables ignore it. ``total_steps`` (T of "cosine") is computed by the
    caller, an integer >= 1.
    """
    lr_schedule = check_param("lr_schedule", lr_schedule)
    learning_rate = check_param("learning_rate", learning_rate)
    decay_steps = check_param("lr_decay_steps", decay_steps)
    if decay_steps is None:
        raise InvalidParameterError(
            "lr_decay_steps must be resolved to an integer >= 1 before the schedule is made",
            param="lr_decay_steps",
        )
    if lr_schedule in ("step", "exponential", "inverse"):
        decay = check_param("lr_decay", decay)
        if lr_schedule == "inverse" and decay < 0:
            raise InvalidParameterError(
                f"lr_decay of the 'inverse' schedule must be >= 0, got {decay}", param="lr_decay"
            )
        if lr_schedule != "inverse" and not 0 < decay <= 1:
            raise InvalidParameterError(
                f"lr_decay of the {lr_schedule!r} schedule is the factor applied every "
                f"lr_decay_steps steps and must lie in (0, 1], got {decay}",
                param="lr_decay",
            )
    else:  # the decay settings do not apply to this schedule
        decay = 1.0
    return Schedule(
        lr_schedule,
        learning_rate,
        decay=decay,
        decay_steps=decay_steps,
        total_steps=max(1, int(total_steps)),
    )
