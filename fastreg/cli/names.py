"""The names a run shows: its data's title, its classes, the caption of its weight images.

A built-in data set is named by the dataset registry (:mod:`fastreg.datasets._registry`:
titles, class names); a user's file by its file name, its classes by their labels. Nothing
here spells a data set.
"""

from ..datasets._registry import get_spec


def task_label(dataset, digits):
    """ "<title> (10 classes)", or "<title> 2 (label 1) vs 3 (label 0)" for a binary task."""
    spec = get_spec(dataset)
    if digits is None:
        return f"{spec.title} ({spec.n_classes} classes)"
    return f"{spec.title} {pair_label(dataset, digits)}"


def pair_label(dataset, digits):
    names = get_spec(dataset).class_names
    return f"{names[digits[0]]} (label 1) vs {names[digits[1]]} (label 0)"


def registry_class_names(dataset, digits):
    """Names of a built-in data set's model classes in ``classes_`` order (binary: label 0,
    then label 1)."""
    names = get_spec(dataset).class_names
    if digits is None:
        return list(names)
    return [names[digits[1]], names[digits[0]]]


def class_names(data, classes):
    """Names of the classes of a model trained on ``data`` (a TrainingData), ``classes_``
    order: the registry's names for a built-in data set, else the labels as text."""
    if data.dataset is not None:
        return registry_class_names(data.dataset, data.digits)
    return [str(c) for c in classes]


def data_label(data):
    """What a run trains on, for the first printed line."""
    if data.dataset is not None:
        return task_label(data.dataset, data.digits)
    return data.title


def run_label(metrics):
    """What a finished run trained on, from its metrics (for the summary)."""
    if metrics.get("dataset"):
        return task_label(metrics["dataset"], digits_of(metrics))
    names = metrics.get("class_names") or []
    return f"{(metrics.get('data') or {}).get('title', '?')} ({len(names)} classes)"


def weights_title(data):
    """The title of a binary model's weight image (None for a multi-class grid)."""
    if data.task != "binary":
        return None
    if data.dataset is None:
        return "Weights (red: evidence for label 1, blue: for label 0)"
    spec = get_spec(data.dataset)
    pos, neg = spec.class_names[data.digits[0]], spec.class_names[data.digits[1]]
    return f"Weights of {spec.title} {pos} vs {neg}\n(red: evidence for {pos}, blue: for {neg})"


def digits_of(metrics):
    """The (positive, negative) classes recorded in a run's metrics, or None."""
    d = metrics.get("digits")
    return None if d is None else (d["positive"], d["negative"])
