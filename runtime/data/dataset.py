"""The Dataset the training loop receives, and `load_data`, which builds it from data settings."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...spec.settings import Augment, DataSettings
from .errors import DataError
from .prepare import apply_scaling, fit_scaling, split_indices
from .raw import Raw, count_classes
from .sources import Context, load_source, load_validation


@dataclass(frozen=True, eq=False)
class Dataset:
    """Training and validation examples, ready for the network.

    x_train: (N, D) float64 after standardize/minmax. y_train: (N,) int64 class indices,
    (N,) float64 targets, or (N, K) float64 multi-output targets. x_val / y_val: the same
    for the validation examples, or None when there are none. features: D. classes: the
    class count for integer labels (max label + 1, or the set's declared count), else None.
    raw_feature_range: (D,) max - min of each feature of the raw training split (for the
    feature-scale lint). feature_names: D names, or None. scaling: the statistics applied
    ({"kind": "standardize", "mean", "std"} or {"kind": "minmax", "lo", "hi"}), or None.
    augment: the data section's `augment` setting (netc.spec.settings.Augment) that the
    trainer applies to each training batch (runtime/data/augment.py), or None; the arrays here
    are never augmented.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    features: int
    classes: int | None
    raw_feature_range: np.ndarray
    feature_names: tuple[str, ...] | None
    scaling: dict | None
    augment: Augment | None = None


def load_data(settings: DataSettings, *, seed: int = 0, base_dir: str | Path = ".",
              default_classes: int | None = None) -> Dataset:
    """Load, split and scale the examples a data section describes.

    settings: the data section (netc.spec.settings.DataSettings: source, split F, validation
    None or a path, standardize, minmax, shuffle, augment). Paths are relative to base_dir
    (the .net file's folder). With `validation`, that file is the validation set and the
    whole source trains; otherwise the (seeded, if shuffle) first round(F * N) rows train.
    Scaling statistics come from the training rows only. The same settings and seed give
    identical arrays; the arrays are fresh copies the caller may modify.
    Raises DataError for anything the user must fix.
    """
    scaling_kind = _scaling_kind(settings)
    ctx = Context(seed, Path(base_dir), default_classes)
    source = settings.source
    raw = load_source(source, ctx)

    if settings.validation is not None:
        val = load_validation(settings.validation, source, ctx)
        x_train, y_train = raw.x.copy(), raw.y.copy()
        x_val, y_val = val.x, _match_labels(raw, val, str(settings.validation))
    else:
        train, rest = split_indices(raw.n, settings.split, settings.shuffle, seed)
        x_train, y_train = raw.x[train], raw.y[train]
        x_val, y_val = (raw.x[rest], raw.y[rest]) if len(rest) else (None, None)

    scaling = fit_scaling(scaling_kind, x_train)
    top = count_classes(y_train, y_val)
    return Dataset(
        name=raw.name,
        x_train=apply_scaling(scaling, x_train),
        y_train=y_train,
        x_val=None if x_val is None else apply_scaling(scaling, x_val),
        y_val=y_val,
        features=raw.features,
        classes=None if top is None else max(top, raw.classes or 0),
        raw_feature_range=np.ptp(x_train, axis=0),
        feature_names=raw.feature_names,
        scaling=scaling,
        augment=settings.augment,
    )


def _scaling_kind(settings: DataSettings) -> str | None:
    standardize, minmax = settings.standardize, settings.minmax
    if standardize and minmax:
        raise DataError("standardize and minmax are both given; inputs can be scaled only one way",
                        statement="minmax", hint="keep standardize (zero mean, unit variance) or "
                        "minmax ([0, 1]), not both")
    return "standardize" if standardize else "minmax" if minmax else None


def _match_labels(train: Raw, val: Raw, path: str) -> np.ndarray:
    """The validation labels, checked against the training source and given its label type."""
    def error(message: str, hint: str | None = None) -> DataError:
        return DataError(f"{path}: {message}", statement="validation", path=val.path, hint=hint)

    if val.features != train.features:
        raise error(f"has {val.features} features but the source has {train.features}",
                    hint="the validation set must have the same columns as the training data")
    if val.y.shape[1:] != train.y.shape[1:]:
        raise error(f"has labels of shape {val.y.shape[1:] or 'scalar'} per example, "
                    f"but the source has {train.y.shape[1:] or 'scalar'}")
    y = val.y
    if train.y.dtype == np.int64 and y.dtype != np.int64:
        if not (np.all(y == np.round(y)) and y.min() >= 0):
            raise error("has real-valued labels but the source has class indices")
        y = y.astype(np.int64)
    return y.astype(train.y.dtype)


def bootstrap(ds: Dataset, seed: int, member: int) -> Dataset:
    """The dataset with its training split replaced by a bootstrap sample (Breiman's bagging): as
    many examples as it has, drawn with replacement from default_rng([seed, 15, member]); the
    validation split and the scaling statistics are unchanged."""
    rng = np.random.default_rng([seed, 15, member])
    idx = rng.integers(0, len(ds.x_train), size=len(ds.x_train))
    return dataclasses.replace(ds, x_train=ds.x_train[idx], y_train=ds.y_train[idx])
