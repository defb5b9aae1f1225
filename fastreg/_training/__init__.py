"""Training: everything between a checked estimator call and the kernels.

``split``        THE stratified hold-out (used by ``fit`` and ``fastreg.datasets.train_val_split``)
``schedules``    learning-rate schedules alpha_t
``trainer``      the epoch loop: kernel calls, validation checks, early stopping, divergence
``step_size``    learning_rate="auto": the base step and the per-feature step sizes from the data
``row_moments``  the training rows as ``step_size`` reads them, dense or CSR, a bounded block at a
                 time: max |x_j|, then M V and the largest squared row norm
``evaluator``    the validation loss and accuracy (weighted when the rows carry weights)
``fit``          the fit driver: RNG, weights, validation set, step sizes, schedule, progress
                 callback, rollback
"""
