"""The parameters and attributes both estimators share, documented once.

:data:`PARAMS_DOC` ends the docstrings of :class:`fastreg.LogisticRegression` and
:class:`fastreg.SoftmaxRegression` (``{k}`` is replaced by each one's number of coef_ rows).
The checks themselves live in the parameter table of :mod:`fastreg._validation`.
"""

PARAMS_DOC = """
    Parameters (checked at fit time by ``fastreg._validation.PARAMETERS``)
    ----------
    learning_rate : "auto" (default) or float > 0. The base step alpha0 of the schedule.
        "auto" derives it from the training data (:mod:`fastreg._training.step_size`): a
        per-feature step scale s_j = 1 / (max_n |x_nj|^2 + 2 l2 / c), c = 1/4 (sigmoid) or
        1/2 (softmax) (the diagonal preconditioner: column j of coef steps by alpha_t s_j
        times its gradient, L2 term included) and alpha0 from the Lipschitz
        constant of the preconditioned loss and the batch size, so unscaled features train
        without tuning; invariant to row order and to integer weights vs repeated rows. A
        number takes the same step on every feature; too large a value makes training
        diverge (:class:`fastreg.TrainingDivergedError` suggests a smaller one). A callable
        ``lr_schedule`` gives the rates itself: "auto" then adds nothing.
    batch_size : int >= 1, default=32. max_epochs : int >= 1, default=100.
    l2 : float >= 0, default=0.0. lambda in J = E + lambda ||W||^2 (intercept not penalised).
    lr_schedule : {"constant", "step", "exponential", "inverse", "cosine"} or callable f.
        alpha_t of step t, r = ``lr_decay``, P = ``lr_decay_steps``: "step" alpha0
        r^floor(t/P); "exponential" alpha0 r^(t/P); "inverse" alpha0 / (1 + r t/P); "cosine"
        alpha0 (1 + cos(pi t/T)) / 2, T = max_epochs epochs; f: alpha_t = f(t).
    lr_decay : float, default=0.9. r: in (0, 1] for "step"/"exponential", >= 0 for "inverse".
    lr_decay_steps : int >= 1 or None, default=None. P in steps; None: one epoch.
    early_stopping : bool, default=True. Hold out ``validation_fraction`` (stratified, from
        ``random_state``, of the rows of positive weight) or use the validation set passed to
        ``fit``; stop after ``patience`` checks without an improvement larger than
        ``min_delta`` (float >= 0, default 1e-4) of the (weighted) validation loss and keep the
        weights of the lowest one.
    validation_fraction : float in (0, 1), default=0.1. patience : int >= 1, default=10.
    validation_interval : int >= 1, default=1: validation checks (history_ rows) per epoch.
    shuffle : bool, default=True. warm_start : bool, default=False (fit starts from coef_,
        and with learning_rate="auto" keeps learning_rate_ and step_scale_).
    random_state : None, int >= 0 or a numpy Generator/RandomState/SeedSequence. The same
        value gives the same weights on either backend.
    backend : {"auto", "cython", "numpy"}. "auto": ``FASTREG_BACKEND`` if set, else the
        compiled backend if built, else NumPy.
    dtype : {None, "float32", "float64"}. None: float32 X trains in float32, other X float64.
    input_scale : float > 0 or None. The model sees ``X * input_scale``, applied inside the
        kernels (training and prediction): 1/255 trains on raw uint8 pixels without a copy.
        Dense X only: sparse X is used as given (input_scale with sparse X is an error).
    n_threads : int >= 1, default=1. verbose : int >= 0 (1: progress bar, 2: lines).
    class_weight : None (default), "balanced" or dict {label: weight >= 0}. Multiplies the
        sample weights by the weight of each row's class: "balanced" is
        n_samples / (n_classes * bincount(y)) over the y given to ``fit`` (refused by
        ``partial_fit``); a dict weighs the labels it names, others 1.

    X is a dense array (float32/float64 as they are, uint8 scaled inside the kernels, other
    numbers as float64), a data frame, or a scipy.sparse matrix of any format (converted once
    to CSR, never densified). ``sample_weight`` in ``fit``, ``partial_fit`` and ``score``:
    finite weights >= 0, one per row; a row of weight 0 is the same as a row left out, integer
    weights the same as repeated rows.

    Attributes
    ----------
    classes_ : (n_classes,) sorted labels; ``predict_proba`` columns follow this order.
    coef_ : (K, n_features), K = {k}; intercept_ : (K,); float32 or float64 as trained.
    learning_rate_ : float, the base step alpha0 used (NaN with a callable lr_schedule and
        learning_rate="auto"); step_scale_ : (n_features,) array of the per-feature step
        scales of learning_rate="auto", or None.
    feature_names_in_ : (n_features,) object array, only when fitted on a data frame whose
        column names are all strings; later calls warn or raise as scikit-learn does.
    n_features_in_, n_iter_ (epochs run), best_epoch_ (the epoch whose weights the model
    holds), t_ (gradient steps), backend_ (of the last fit).
    history_ : dict of lists, one entry per validation check: "step", "epoch",
        "learning_rate", "train_loss", "train_accuracy", "val_loss", "val_accuracy"
        (weighted means with sample or class weights).
"""
