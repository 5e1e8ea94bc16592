"""The data sets shipped in netc.runtime's datasets folder (attribution in datasets/README.md).

Each file is parsed once per process (functools.lru_cache); the cached arrays are read-only,
and `load_data` copies what it hands out.
"""
from __future__ import annotations

import gzip
import io
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import DataError
from .raw import Raw

DATASETS_DIR = Path(__file__).resolve().parent.parent / "datasets"

_MEASURES = ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
             "concave points", "symmetry", "fractal dimension")
# The data set's 30 features in file order: the mean, standard error and worst of each measure.
BREAST_CANCER_FEATURES = tuple(
    [f"mean {m}" for m in _MEASURES]
    + [f"{m} error" for m in _MEASURES]
    + [f"worst {m}" for m in _MEASURES]
)
DIABETES_FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def _read(name: str) -> str:
    path = DATASETS_DIR / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"bundled data file {name} is missing ({exc.strerror})", path=str(path),
                        hint="the netc installation is incomplete; reinstall it") from None
    return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode("utf-8")


def _table(text: str, delimiter: str | None) -> np.ndarray:
    return np.loadtxt(io.StringIO(text), delimiter=delimiter, dtype=np.float64, ndmin=2)


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for a in arrays:
        a.flags.writeable = False
    return arrays


@lru_cache(maxsize=None)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    table = _table(_read("digits.csv.gz"), ",")
    return _frozen(np.ascontiguousarray(table[:, :-1]), table[:, -1].astype(np.int64))


@lru_cache(maxsize=None)
def _breast_cancer() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    text = _read("breast_cancer.csv.gz")
    head, _, body = text.partition("\n")
    rows, cols, *class_names = head.strip().split(",")
    table = _table(body, ",")
    assert table.shape == (int(rows), int(cols) + 1), (table.shape, head)
    x, y = _frozen(np.ascontiguousarray(table[:, :-1]), table[:, -1].astype(np.int64))
    return x, y, tuple(class_names)


@lru_cache(maxsize=None)
def _diabetes() -> tuple[np.ndarray, np.ndarray]:
    x = _table(_read("diabetes_data_raw.csv.gz"), None)
    y = _table(_read("diabetes_target.csv.gz"), None)[:, 0]
    assert x.shape == (len(y), len(DIABETES_FEATURES)), (x.shape, y.shape)
    return _frozen(x, y)


def digits() -> Raw:
    """8x8 handwritten digits: x (1797, 64) pixel counts 0..16, y (1797,) int64 labels 0..9."""
    x, y = _digits()
    names = tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8))
    return Raw("digits", x, y, feature_names=names, classes=10, class_names=tuple("0123456789"))


def breast_cancer() -> Raw:
    """Wisconsin diagnostic breast cancer: x (569, 30) raw features, y (569,) int64,
    0 = malignant, 1 = benign."""
    x, y, class_names = _breast_cancer()
    return Raw("breast_cancer", x, y, feature_names=BREAST_CANCER_FEATURES,
               classes=len(class_names), class_names=class_names)


def diabetes() -> Raw:
    """Diabetes progression: x (442, 10) raw, unscaled features (age, sex, bmi, bp, s1..s6),
    y (442,) float64 regression target."""
    x, y = _diabetes()
    return Raw("diabetes", x, y, feature_names=DIABETES_FEATURES)


BUNDLED = {"digits": digits, "breast_cancer": breast_cancer, "diabetes": diabetes}
