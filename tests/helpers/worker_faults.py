"""Learning-rate schedules that kill the Dask worker process calling them: faults injected
at a known step of a known shard, from inside the training task (tests/cluster)."""

import os


class DieAt:
    """``lr_schedule`` returning ``rate`` for every step, that ends the calling process
    (``os._exit``, as a crash or the kernel's OOM killer would) at step ``t`` while the file
    ``marker`` does not exist; ``once`` creates the marker first, so only one attempt dies.
    Only on workers: the process that built it (the test) is never killed."""

    def __init__(self, rate, t, marker, *, once=True):
        self.rate, self.t, self.marker, self.once = rate, t, marker, once
        self.home = os.getpid()

    def __call__(self, t):
        if t == self.t and os.getpid() != self.home and not os.path.exists(self.marker):
            if self.once:
                with open(self.marker, "w"):
                    pass
            os._exit(1)
        return self.rate
