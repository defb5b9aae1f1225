"""The contenders of ``benchmarks/compare.py``, one module each, and the registry of workers.

``compare.py --worker NAME`` calls ``WORKERS[NAME](args)`` in a process of its own; the
function returns a JSON-able dict (the driver adds ``status``) or raises :class:`NotAvailable`
or :class:`DataMissing`. The modules:

``fastreg_epoch``   ``fastreg-cython``, ``fastreg-numpy`` (the backends' epoch kernels)
``sklearn_sgd``     ``sklearn-sgd``
``torch_sgd``       ``torch``
``sklearn_lbfgs``   ``sklearn-lbfgs``
``fastreg_fit``     ``fastreg-fit``, ``fastreg-defaults`` (time to accuracy)
``probes``          ``machine``, ``floor`` (not contenders: the machine's lower bound)
``shapes``          ``shapes`` (the shape matrix of ``--shapes``)
"""

from . import fastreg_epoch, fastreg_fit, probes, shapes, sklearn_lbfgs, sklearn_sgd, torch_sgd
from ._common import BINARY_DIGITS, DEFAULT_TARGET, DataMissing, NotAvailable, load_task, target

EPOCH_CONTENDERS = ("fastreg-cython", "fastreg-numpy", "sklearn-sgd", "torch")
FIT_CONTENDERS = ("fastreg-fit", "fastreg-defaults", "sklearn-lbfgs")
CONTENDERS = EPOCH_CONTENDERS + FIT_CONTENDERS

WORKERS = {
    "fastreg-cython": fastreg_epoch.work_cython,
    "fastreg-numpy": fastreg_epoch.work_numpy,
    "sklearn-sgd": sklearn_sgd.work,
    "torch": torch_sgd.work,
    "sklearn-lbfgs": sklearn_lbfgs.work,
    "fastreg-fit": fastreg_fit.work_fit,
    "fastreg-defaults": fastreg_fit.work_defaults,
    # not contenders: the probes of _machine.py, and the shape matrix
    "machine": probes.work_machine,
    "floor": probes.work_floor,
    "shapes": shapes.work,
}

__all__ = [
    "BINARY_DIGITS",
    "CONTENDERS",
    "DEFAULT_TARGET",
    "EPOCH_CONTENDERS",
    "FIT_CONTENDERS",
    "WORKERS",
    "DataMissing",
    "NotAvailable",
    "load_task",
    "target",
]
