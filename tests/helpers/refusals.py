"""Bad inputs refused alike by every backend: the harness of the kernels' refusal tables."""

import re

from fastreg import available_backends, get_backend


def outcome(kernels, name, args):
    """(exception type, message) of ``kernels.<name>(**args)``, or (None, None) if it passed."""
    try:
        getattr(kernels, name)(**args)
    except Exception as exc:  # noqa: BLE001  (the outcome is compared, not handled)
        return type(exc), str(exc)
    return None, None


def assert_every_backend_refuses(name, good, change, error, match):
    """On every backend that loads, ``good()`` (fresh valid keyword arguments of kernel
    ``name``) passes, and the same arguments with ``change`` applied (``{argument: f}``, f
    called on a fresh ``good()``) raise ``error`` with a message matching ``match``: the same
    exception type and message on all of them."""
    outcomes = {}
    for backend in available_backends():
        kernels = get_backend(backend)
        assert outcome(kernels, name, good()) == (None, None), backend
        args = good()  # fresh: a valid run may have written its arrays
        outcomes[backend] = outcome(
            kernels, name, dict(args, **{key: f(args) for key, f in change.items()})
        )
    for backend, (kind, message) in outcomes.items():
        assert kind is not None and issubclass(kind, error), (
            f"{backend}: {kind} {message!r}, want {error.__name__}"
        )
        assert re.search(match, message), f"{backend}: {message!r} !~ {match!r}"
    assert len(set(outcomes.values())) == 1, outcomes
