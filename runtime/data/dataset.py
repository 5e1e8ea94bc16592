"""The Dataset the training loop receives, and `load_data`, which builds it from data settings."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...spec.settings import Augment, DataSettings
from .errors import DataError
from .prepare import apply_scaling, fit_scaling, fit_target_scaling, scale_target, split_indices
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
    are never augmented. label_column: how a CSV's label column was chosen (for messages), else
    None. label_names: string labels' names in class-index order (a CSV with `setosa`, ...), else
    None. one_based: the labels were written 1..K and shifted to 0..K-1 (`labels one_based`).
    target_scaling: with `standardize target`, {"mean": (K,), "std": (K,)} of the training
    split's regression target, which y_train and y_val are standardized with; else None.
    example_shape: the shape of one example in the file when it was not a flat row ((1, 8, 8)
    for an .npz of (N, 1, 8, 8) images), else None; the arrays here are flat (N, D).
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
    label_column: str | None = None
    label_names: tuple[str, ...] | None = None
    one_based: bool = False
    target_scaling: dict | None = None
    example_shape: tuple[int, ...] | None = None


def load_data(settings: DataSettings, *, seed: int = 0, base_dir: str | Path = ".",
              default_classes: int | None = None, label_names: tuple[str, ...] | None = None,
              target_scaling: dict | None = None) -> Dataset:
    """Load, split and scale the examples a data section describes.

    settings: the data section (netc.spec.settings.DataSettings: source, split F, validation
    None or a path, standardize, minmax, shuffle, augment). Paths are relative to base_dir
    (the .net file's folder). With `validation`, that file is the validation set and the
    whole source trains; otherwise the (seeded, if shuffle) first round(F * N) rows train.
    Scaling statistics come from the training rows only. The same settings and seed give
    identical arrays; the arrays are fresh copies the caller may modify. String labels are mapped
    to classes in sorted order, or in the order `label_names` gives (a checkpoint's); the
    validation file uses the source's mapping. With `labels one_based`, every label is shifted
    down by one. With `standardize target`, the regression target is standardized with the
    training split's mean and std, or with `target_scaling` when given (a checkpoint's).
    Raises DataError for anything the user must fix.
    """
    scaling_kind = _scaling_kind(settings)
    ctx = Context(seed, Path(base_dir), default_classes, label_names)
    source = settings.source
    raw = _shift(load_source(source, ctx), settings, source.params.get("path") or source.name)
    ctx = dataclasses.replace(ctx, label_names=raw.label_names)  # the validation file maps as the source

    if settings.validation is not None:
        val = _shift(load_validation(settings.validation, source, ctx), settings, str(settings.validation))
        x_train, y_train = raw.x.copy(), raw.y.copy()
        x_val, y_val = val.x, _match_labels(raw, val, str(settings.validation))
    else:
        train, rest = split_indices(raw.n, settings.split, settings.shuffle, seed)
        x_train, y_train = raw.x[train], raw.y[train]
        x_val, y_val = (raw.x[rest], raw.y[rest]) if len(rest) else (None, None)

    scaling = fit_scaling(scaling_kind, x_train)
    target = _target_scaling(settings, raw, y_train, target_scaling)
    if target is not None:
        y_train = scale_target(target, y_train)
        y_val = None if y_val is None else scale_target(target, y_val)
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
        label_column=raw.label_column,
        label_names=raw.label_names,
        one_based=settings.labels == "one_based",
        target_scaling=target,
        example_shape=raw.example_shape,
    )


def _shift(raw: Raw, settings: DataSettings, name: str) -> Raw:
    """With `labels one_based`, the labels 1..K as class indices 0..K-1 (DataError if they are
    not integers from 1)."""
    if settings.labels != "one_based":
        return raw
    y = raw.y
    if raw.label_names is not None or y.dtype != np.int64 or y.ndim != 1:
        what = "class names" if raw.label_names is not None else "not whole numbers"
        raise DataError(f"labels one_based: the labels of {name} are {what}, not 1..K", statement="labels",
                        hint="labels one_based is for integer labels written from 1; remove it")
    if len(y) and int(y.min()) < 1:
        raise DataError(f"labels one_based: the labels of {name} include {int(y.min())}, but 1-based "
                        "labels start at 1", statement="labels",
                        hint="the labels already count from 0: remove labels one_based")
    classes = None if raw.classes is None else raw.classes - 1
    return dataclasses.replace(raw, y=y - 1, classes=classes)


def _target_scaling(settings: DataSettings, raw: Raw, y_train: np.ndarray, saved: dict | None) -> dict | None:
    """With `standardize target`, the target statistics to standardize with: `saved` (a
    checkpoint's: its weights predict in those units) or the training split's; else None."""
    if not settings.standardize_target:
        return None
    if raw.label_names is not None:
        raise DataError(f"standardize target: the labels of {raw.name} are class names, not a "
                        "regression target", statement="standardize_target",
                        hint="standardize target is for a regression target (loss mse): remove it")
    target = saved if saved is not None else fit_target_scaling(y_train)
    width = 1 if y_train.ndim == 1 else y_train.shape[1]
    if len(target["mean"]) != width:
        raise DataError(f"standardize target: the saved statistics are for {len(target['mean'])} "
                        f"target columns, the data has {width}", statement="standardize_target")
    return target


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
