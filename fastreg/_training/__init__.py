"""Training: everything between a checked estimator call and the kernels.

``split``      THE stratified hold-out (used by ``fit`` and ``fastreg.datasets.train_val_split``)
``schedules``  learning-rate schedules alpha_t
``trainer``    the epoch loop: kernel calls, validation checks, early stopping, divergence
``fit``        the fit driver: RNG, validation set, schedule, progress callback, rollback
"""
