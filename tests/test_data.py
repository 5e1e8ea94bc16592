"""The data layer: every source kind, every DataError a user can meet, split, scaling, batches."""
from __future__ import annotations

import dataclasses
import gzip
import os
import struct
import time

import numpy as np
import pytest

from netc.runtime.data import DataError, Dataset, describe_source, iter_batches, load_data
from netc.runtime.data import bundled
from netc.runtime.data.idx import IDX_TYPES
from netc.spec.settings import Choice, DataSettings, source

GENERATED_DEFAULTS = {
    "moons": {"n": 200, "noise": 0.1},
    "spirals": {"n": 300, "noise": 0.1, "classes": 3},
    "blobs": {"n": 300, "noise": 1.0, "classes": 3},
    "xor": {"n": 200, "noise": 0.1},
    "gaussian": {"n": 256, "features": 64, "classes": None},
}


def settings(kind: str, params: dict | None = None, **over) -> DataSettings:
    """Data settings as the compiler makes them: every setting present, the schema's defaults filled."""
    return DataSettings(source(kind, **(params or {})), **over)


def csv_settings(path, label="last", header="auto", **over) -> DataSettings:
    return settings("csv", {"path": str(path), "label": label, "header": header}, **over)


def raises(settings_dict: DataSettings, *fragments: str, base_dir=".", **kwargs) -> DataError:
    """Load and expect a DataError whose message contains every fragment."""
    with pytest.raises(DataError) as info:
        load_data(settings_dict, base_dir=base_dir, **kwargs)
    for fragment in fragments:
        assert fragment in info.value.message, (fragment, info.value.message)
    return info.value


def write_idx(path, array: np.ndarray, code: int = 0x08, gz: bool = False) -> None:
    """An IDX file holding `array` with type `code`, gzipped when gz."""
    dtype = IDX_TYPES[code][0]
    data = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data += np.asarray(array).astype(dtype).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def idx_settings(images, labels, **over) -> dict:
    return settings("idx", {"images": str(images), "labels": str(labels)}, **over)


# ---------------------------------------------------------------- bundled sets


def test_digits_shape_and_classes():
    d = load_data(settings("digits", split=1.0))
    assert d.name == "digits"
    assert d.x_train.shape == (1797, 64) and d.x_train.dtype == np.float64
    assert d.y_train.shape == (1797,) and d.y_train.dtype == np.int64
    assert d.features == 64 and d.classes == 10 and d.x_val is None and d.y_val is None
    assert set(np.unique(d.y_train)) == set(range(10))
    assert d.x_train.min() == 0 and d.x_train.max() == 16
    assert len(d.feature_names) == 64


def test_breast_cancer_shape():
    d = load_data(settings("breast_cancer", split=1.0))
    assert d.x_train.shape == (569, 30) and d.classes == 2
    assert set(np.unique(d.y_train)) == {0, 1} and d.y_train.dtype == np.int64
    assert d.feature_names[0] == "mean radius" and d.feature_names[-1] == "worst fractal dimension"
    assert len(d.feature_names) == 30


def test_diabetes_is_raw_regression():
    d = load_data(settings("diabetes", split=1.0))
    assert d.x_train.shape == (442, 10) and d.y_train.shape == (442,)
    assert d.y_train.dtype == np.float64 and d.classes is None
    assert d.feature_names == ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
    # raw scales differ by far more than 100x (the standardization lint's input)
    assert d.raw_feature_range.max() / d.raw_feature_range.min() > 100


def test_digits_load_is_fast_and_cached():
    bundled._digits.cache_clear()
    start = time.perf_counter()
    load_data(settings("digits"))
    first = time.perf_counter() - start
    start = time.perf_counter()
    load_data(settings("digits"))
    again = time.perf_counter() - start
    assert first < 0.5 and again < 0.05, (first, again)


def test_cached_arrays_are_read_only_and_results_are_copies():
    x, _ = bundled._digits()
    assert not x.flags.writeable
    d = load_data(settings("digits", split=1.0, shuffle=False))
    d.x_train[:] = -1
    assert load_data(settings("digits", split=1.0, shuffle=False)).x_train.min() == 0


def test_describe_source():
    assert describe_source(settings("digits")) == "digits: 1797 examples, 64 features, 10 classes"
    assert describe_source(settings("diabetes")) == (
        "diabetes: 442 examples, 10 features, a regression target")
    assert describe_source(settings("breast_cancer")).startswith(
        "breast_cancer: 569 examples, 30 features, 2 classes")
    # the source dict alone is accepted too
    moons = settings("moons").source
    assert describe_source(moons) == "moons: 200 examples, 2 features, 2 classes"


def test_describe_file_source(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,y\n1,2,0\n3,4,2\n")
    line = describe_source(csv_settings("t.csv"), base_dir=tmp_path)
    assert line == "t.csv: 2 examples, 2 features, 3 classes"


# ---------------------------------------------------------------- generated sets


@pytest.mark.parametrize("kind", sorted(GENERATED_DEFAULTS))
def test_generated_shapes_and_labels(kind):
    d = load_data(settings(kind, split=1.0), default_classes=None)
    n = GENERATED_DEFAULTS[kind]["n"]
    width = 64 if kind == "gaussian" else 2
    assert d.x_train.shape == (n, width) and d.y_train.shape == (n,)
    assert d.y_train.dtype == np.int64 and d.features == width
    classes = GENERATED_DEFAULTS[kind].get("classes") or 2
    assert d.classes == classes
    assert d.y_train.min() >= 0 and d.y_train.max() < classes
    assert np.all(np.isfinite(d.x_train))


@pytest.mark.parametrize("kind", ["spirals", "blobs"])
def test_generated_class_count_param(kind):
    d = load_data(settings(kind, {"n": 100, "classes": 5}, split=1.0))
    assert d.classes == 5 and set(np.unique(d.y_train)) == set(range(5))
    assert np.bincount(d.y_train).tolist() == [20] * 5


def test_gaussian_classes_default_to_network_width():
    d = load_data(settings("gaussian", {"n": 500, "features": 8}), default_classes=7)
    assert d.classes == 7 and d.x_train.shape == (400, 8)
    assert d.y_train.max() < 7
    d = load_data(settings("gaussian", {"classes": 3}), default_classes=7)
    assert d.classes == 3
    x = load_data(settings("gaussian", {"n": 20000, "features": 4}, split=1.0)).x_train
    assert np.allclose(x.mean(0), 0, atol=0.05) and np.allclose(x.std(0), 1, atol=0.05)


@pytest.mark.parametrize("kind", sorted(GENERATED_DEFAULTS))
def test_generated_deterministic_under_seed(kind):
    a = load_data(settings(kind), seed=3)
    b = load_data(settings(kind), seed=3)
    c = load_data(settings(kind), seed=4)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_train, b.y_train)
    assert np.array_equal(a.x_val, b.x_val)
    assert not np.array_equal(a.x_train, c.x_train)


def test_noise_zero_gives_exact_moons():
    x = load_data(settings("moons", {"noise": 0.0}, split=1.0)).x_train
    y = load_data(settings("moons", {"noise": 0.0}, split=1.0)).y_train
    outer = x[y == 0]
    assert np.allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)


@pytest.mark.parametrize("params, param", [
    ({"n": 0}, "n"), ({"noise": -0.5}, "noise"), ({"noise": float("inf")}, "noise"),
    ({"classes": 1}, "classes"), ({"n": 2.5}, "n"),
])
def test_generated_bad_params(params, param):
    err = raises(settings("spirals", params), param)
    assert err.statement == "source" and err.param == param


def test_unknown_source_kind():
    err = raises(dataclasses.replace(settings("digits"), source=Choice("digit")), "unknown source")
    assert "did you mean 'digits'" in err.hint


# ---------------------------------------------------------------- npz


def test_npz_integer_labels(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(50, 3)), y=rng.integers(0, 4, 50))
    d = load_data(settings("npz", {"path": "d.npz"}), base_dir=tmp_path)
    assert d.name == "d.npz" and d.x_train.shape == (40, 3) and d.x_val.shape == (10, 3)
    assert d.y_train.dtype == np.int64 and d.classes == 4


def test_npz_float_and_multi_output_targets(tmp_path):
    x = np.arange(24.0).reshape(6, 2, 2)  # images are flattened
    np.savez(tmp_path / "r.npz", x=x, y=np.linspace(0, 1, 6))
    d = load_data(settings("npz", {"path": str(tmp_path / "r.npz")}, split=1.0, shuffle=False))
    assert d.x_train.shape == (6, 4) and d.y_train.dtype == np.float64 and d.classes is None
    assert np.array_equal(d.x_train, x.reshape(6, 4))
    np.savez(tmp_path / "m.npz", x=x, y=np.ones((6, 3)))
    d = load_data(settings("npz", {"path": "m.npz"}, split=1.0), base_dir=tmp_path)
    assert d.y_train.shape == (6, 3) and d.y_train.dtype == np.float64


def test_npz_missing_key_lists_keys(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((3, 2)), labels=np.zeros(3))
    err = raises(settings("npz", {"path": "d.npz"}), "d.npz", "'x'", "'y'", "X, labels",
                 base_dir=tmp_path)
    assert err.path == str(tmp_path / "d.npz") and "savez" in err.hint


def test_npz_length_mismatch_and_bad_dtype(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((3, 2)), y=np.zeros(4))
    raises(settings("npz", {"path": "a.npz"}), "a.npz", "3 inputs but 4 labels", base_dir=tmp_path)
    np.savez(tmp_path / "b.npz", x=np.array([["a", "b"]]), y=np.zeros(1))
    raises(settings("npz", {"path": "b.npz"}), "b.npz", "expected numbers", base_dir=tmp_path)
    np.savez(tmp_path / "c.npz", x=np.zeros((0, 2)), y=np.zeros(0))
    raises(settings("npz", {"path": "c.npz"}), "c.npz", "no examples", base_dir=tmp_path)


def test_npz_not_an_archive(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"this is not a zip file")
    raises(settings("npz", {"path": "bad.npz"}), "bad.npz", "not a valid .npz", base_dir=tmp_path)
    np.save(tmp_path / "single.npy", np.zeros(3))
    raises(settings("npz", {"path": "single.npy"}), "single.npy", "single array", base_dir=tmp_path)


def test_npz_nan_names_position(tmp_path):
    x = np.zeros((5, 3))
    x[2, 1] = np.nan
    x[4, 0] = np.inf
    np.savez(tmp_path / "n.npz", x=x, y=np.zeros(5, dtype=int))
    raises(settings("npz", {"path": "n.npz"}), "n.npz", "x[2, 1]", "nan", base_dir=tmp_path)


# ---------------------------------------------------------------- csv


def test_csv_header_auto_detected(tmp_path):
    (tmp_path / "h.csv").write_text(
        "height,children,label\n1.8,2,1\n1.6,0,0\n1.7,3,1\n1.5,1,0\n1.9,2,1\n")
    d = load_data(csv_settings("h.csv", split=1.0, shuffle=False), base_dir=tmp_path)
    assert d.feature_names == ("height", "children")
    assert d.x_train.tolist()[0] == [1.8, 2.0] and d.y_train.tolist() == [1, 0, 1, 0, 1]
    assert d.y_train.dtype == np.int64 and d.classes == 2


def test_csv_no_header_auto(tmp_path):
    (tmp_path / "n.csv").write_text("1,2,0\n3,4,1\n")
    d = load_data(csv_settings("n.csv", split=1.0, shuffle=False), base_dir=tmp_path)
    assert d.feature_names is None and d.x_train.tolist() == [[1, 2], [3, 4]]


def test_csv_header_true_and_false(tmp_path):
    (tmp_path / "n.csv").write_text("1,2,0\n3,4,1\n5,6,1\n")
    d = load_data(csv_settings("n.csv", header=True, split=1.0, shuffle=False), base_dir=tmp_path)
    assert d.feature_names == ("1", "2") and d.x_train.tolist() == [[3, 4], [5, 6]]
    d = load_data(csv_settings("n.csv", header=False, split=1.0, shuffle=False), base_dir=tmp_path)
    assert d.x_train.shape == (3, 2)


def test_csv_header_false_with_header_row(tmp_path):
    (tmp_path / "h.csv").write_text("a,b,y\n1,2,0\n")
    err = raises(csv_settings("h.csv", header=False), "h.csv", "line 1", "column 1", "'a'",
                 base_dir=tmp_path)
    assert "header" in err.hint


def test_csv_label_first_last_and_by_name(tmp_path):
    (tmp_path / "l.csv").write_text("a,y,b\n1,0,10\n2,1,20\n3,2,30\n")
    first = load_data(csv_settings("l.csv", label="first", split=1.0, shuffle=False),
                      base_dir=tmp_path)
    assert first.y_train.tolist() == [1, 2, 3] and first.feature_names == ("y", "b")
    last = load_data(csv_settings("l.csv", label="last", split=1.0, shuffle=False),
                     base_dir=tmp_path)
    assert last.y_train.tolist() == [10, 20, 30] and last.classes == 31
    named = load_data(csv_settings("l.csv", label="y", split=1.0, shuffle=False), base_dir=tmp_path)
    assert named.y_train.tolist() == [0, 1, 2] and named.feature_names == ("a", "b")
    assert named.x_train.tolist() == [[1, 10], [2, 20], [3, 30]]


def test_csv_real_labels_are_regression_targets(tmp_path):
    (tmp_path / "r.csv").write_text("x,t\n1,0.5\n2,1.0\n3,2e1\n")
    d = load_data(csv_settings("r.csv", split=1.0), base_dir=tmp_path)
    assert d.y_train.dtype == np.float64 and d.classes is None
    (tmp_path / "neg.csv").write_text("x,t\n1,-1\n2,1\n")
    assert load_data(csv_settings("neg.csv", split=1.0), base_dir=tmp_path).classes is None


def test_csv_gzipped_quoted_and_other_delimiters(tmp_path):
    with gzip.open(tmp_path / "g.csv.gz", "wt") as f:
        f.write('"first name","size, cm",label\n1,2,0\n3,4,1\n')
    d = load_data(csv_settings("g.csv.gz", split=1.0, shuffle=False), base_dir=tmp_path)
    assert d.feature_names == ("first name", "size, cm") and d.x_train.tolist() == [[1, 2], [3, 4]]
    (tmp_path / "s.csv").write_text("a;b;y\n1.5;2;0\n3;4;1\n")
    assert load_data(csv_settings("s.csv", split=1.0), base_dir=tmp_path).x_train.shape == (2, 2)
    (tmp_path / "w.csv").write_text("1.5  2   0\n3 4 1\n")
    assert load_data(csv_settings("w.csv", split=1.0), base_dir=tmp_path).x_train.shape == (2, 2)


def test_csv_label_name_needs_header(tmp_path):
    (tmp_path / "n.csv").write_text("1,2,0\n3,4,1\n")
    err = raises(csv_settings("n.csv", label="y"), "n.csv", "no header", base_dir=tmp_path)
    assert err.param == "label" and err.statement == "source"


def test_csv_unknown_label_name_suggests(tmp_path):
    (tmp_path / "h.csv").write_text("height,weight,label\n1,2,0\n")
    err = raises(csv_settings("h.csv", label="lable"), "h.csv", "'lable'", base_dir=tmp_path)
    assert "did you mean 'label'" in err.hint and "height, weight, label" in err.hint
    assert err.param == "label"


def test_csv_non_numeric_cell_names_line_and_column(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n\n3,oops,1\n")
    err = raises(csv_settings("bad.csv"), "bad.csv", "line 4", "column 2 ('b')", "'oops'",
                 base_dir=tmp_path)
    assert err.path == str(tmp_path / "bad.csv")
    (tmp_path / "nohead.csv").write_text("1,2,0\n3,4,x\n")
    raises(csv_settings("nohead.csv"), "nohead.csv", "line 2", "column 3", "'x'", base_dir=tmp_path)


def test_csv_empty_cell_and_ragged_row(tmp_path):
    (tmp_path / "e.csv").write_text("1,2,0\n3,,1\n")
    raises(csv_settings("e.csv"), "e.csv", "line 2", "column 2", "empty", base_dir=tmp_path)
    (tmp_path / "r.csv").write_text("1,2,0\n3,4,1\n5,6\n")
    raises(csv_settings("r.csv"), "r.csv", "line 3 has 2 columns, expected 3", base_dir=tmp_path)


def test_csv_nan_and_inf_name_line_and_column(tmp_path):
    (tmp_path / "n.csv").write_text("a,b,y\n1,2,0\n3,nan,1\n")
    raises(csv_settings("n.csv"), "n.csv", "line 3", "column 2 ('b')", "nan", base_dir=tmp_path)
    (tmp_path / "i.csv").write_text("1,2,0\n3,4,1\ninf,4,1\n")
    raises(csv_settings("i.csv"), "i.csv", "line 3", "column 1", "inf", base_dir=tmp_path)
    (tmp_path / "y.csv").write_text("1,2,0\n3,4,nan\n")
    raises(csv_settings("y.csv"), "y.csv", "line 2", "column 3", base_dir=tmp_path)


def test_csv_shape_problems(tmp_path):
    (tmp_path / "one.csv").write_text("1\n2\n")
    raises(csv_settings("one.csv"), "one.csv", "at least two", base_dir=tmp_path)
    (tmp_path / "head.csv").write_text("a,b,y\n")
    raises(csv_settings("head.csv"), "head.csv", "no data rows", base_dir=tmp_path)
    (tmp_path / "blank.csv").write_text("\n  \n")
    raises(csv_settings("blank.csv"), "blank.csv", "no rows", base_dir=tmp_path)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81binary")
    raises(csv_settings("bin.csv"), "bin.csv", "not a UTF-8 text file", base_dir=tmp_path)


# ---------------------------------------------------------------- idx


@pytest.mark.parametrize("gz", [False, True])
def test_idx_mnist_like(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (30, 4, 5), dtype=np.uint8)
    labels = rng.integers(0, 10, 30).astype(np.uint8)
    labels[0] = 9
    write_idx(tmp_path / "img", images, gz=gz)
    write_idx(tmp_path / "lab", labels, gz=gz)
    d = load_data(idx_settings("img", "lab", split=1.0, shuffle=False), base_dir=tmp_path)
    assert d.name == "img" and d.x_train.shape == (30, 20) and d.features == 20
    assert np.array_equal(d.x_train, images.reshape(30, 20)) and np.array_equal(d.y_train, labels)
    assert d.y_train.dtype == np.int64 and d.classes == 10


def test_idx_gzip_detected_by_magic_not_name(tmp_path):
    images = np.arange(12, dtype=np.uint8).reshape(3, 2, 2)
    write_idx(tmp_path / "images.gz", images, gz=False)           # plain, despite its name
    write_idx(tmp_path / "labels-idx1-ubyte", np.array([0, 1, 2]), gz=True)  # gzipped, plain name
    d = load_data(idx_settings("images.gz", "labels-idx1-ubyte", split=1.0, shuffle=False),
                  base_dir=tmp_path)
    assert np.array_equal(d.x_train, images.reshape(3, 4)) and d.y_train.tolist() == [0, 1, 2]


@pytest.mark.parametrize("code", sorted(IDX_TYPES))
def test_idx_every_dtype(tmp_path, code):
    images = np.array([[-3, 0], [5, 7], [100, -100]])
    if code == 0x08:
        images = np.abs(images)
    write_idx(tmp_path / "img", images, code=code)
    write_idx(tmp_path / "lab", np.array([0, 1, 1]), code=code)
    d = load_data(idx_settings("img", "lab", split=1.0, shuffle=False), base_dir=tmp_path)
    assert np.array_equal(d.x_train, images.astype(float))
    if IDX_TYPES[code][0][-2] == "f":
        assert d.y_train.dtype == np.float64 and d.classes is None
    else:
        assert d.y_train.dtype == np.int64 and d.classes == 2


def test_idx_bad_magic(tmp_path):
    (tmp_path / "img").write_bytes(b"PK\x03\x04" + bytes(20))
    write_idx(tmp_path / "lab", np.array([0]))
    err = raises(idx_settings("img", "lab"), "img", "not an IDX file", "50 4b 03 04",
                 base_dir=tmp_path)
    assert err.param == "images" and "00 00 08 03" in err.hint


def test_idx_unknown_dtype_code(tmp_path):
    (tmp_path / "img").write_bytes(bytes([0, 0, 0x07, 1]) + struct.pack(">I", 1) + b"\x00")
    write_idx(tmp_path / "lab", np.array([0]))
    err = raises(idx_settings("img", "lab"), "img", "unknown IDX data type 0x07", base_dir=tmp_path)
    assert "0x0E (double)" in err.hint


def test_idx_size_mismatch(tmp_path):
    write_idx(tmp_path / "img", np.zeros((4, 3, 3)))
    write_idx(tmp_path / "lab", np.zeros(4))
    data = (tmp_path / "img").read_bytes()
    (tmp_path / "img").write_bytes(data[:-5])
    raises(idx_settings("img", "lab"), "img", "size does not match", "4 x 3 x 3", "36 bytes",
           "has 31",
           base_dir=tmp_path)
    write_idx(tmp_path / "good", np.zeros((4, 3, 3)))
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    err = raises(idx_settings("good", "short"), "short", "truncated", base_dir=tmp_path)
    assert err.param == "labels"


def test_idx_count_mismatch_names_labels_file(tmp_path):
    write_idx(tmp_path / "img", np.zeros((5, 2, 2)))
    write_idx(tmp_path / "lab", np.zeros(4))
    err = raises(idx_settings("img", "lab"), "lab", "4 labels", "img has 5 images",
                 base_dir=tmp_path)
    assert err.param == "labels" and err.path == str(tmp_path / "lab")


def test_idx_labels_must_be_one_dimensional(tmp_path):
    write_idx(tmp_path / "img", np.zeros((2, 2, 2)))
    write_idx(tmp_path / "lab", np.zeros((2, 2, 2)))
    err = raises(idx_settings("img", "lab"), "lab", "one dimension", base_dir=tmp_path)
    assert "swap" in err.hint


def test_idx_float_nan(tmp_path):
    images = np.zeros((3, 2))
    images[1, 1] = np.nan
    write_idx(tmp_path / "img", images, code=0x0D)
    write_idx(tmp_path / "lab", np.zeros(3))
    raises(idx_settings("img", "lab"), "img", "image 1", "nan", base_dir=tmp_path)


# ---------------------------------------------------------------- file errors every reader shares


def _file_settings(kind: str, name: str) -> dict:
    if kind == "npz":
        return settings("npz", {"path": name})
    if kind == "csv":
        return csv_settings(name)
    return idx_settings(name, "lab")


@pytest.mark.parametrize("kind", ["npz", "csv", "idx"])
def test_missing_file(tmp_path, kind):
    write_idx(tmp_path / "lab", np.zeros(1))
    err = raises(_file_settings(kind, "nowhere.dat"), "nowhere.dat", "not found", base_dir=tmp_path)
    assert err.statement == "source" and str(tmp_path / "nowhere.dat") in err.hint


@pytest.mark.parametrize("kind", ["npz", "csv", "idx"])
def test_directory_empty_and_corrupt_gzip(tmp_path, kind):
    write_idx(tmp_path / "lab", np.zeros(1))
    (tmp_path / "dir").mkdir()
    raises(_file_settings(kind, "dir"), "dir", "is a directory", base_dir=tmp_path)
    (tmp_path / "empty").write_bytes(b"")
    raises(_file_settings(kind, "empty"), "empty", "is empty", base_dir=tmp_path)
    (tmp_path / "broken").write_bytes(gzip.compress(b"1,2,3\n" * 100)[:30])
    raises(_file_settings(kind, "broken"), "broken", "corrupt gzip", base_dir=tmp_path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text("1,2,0\n")
    path.chmod(0)
    try:
        raises(csv_settings("secret.csv"), "secret.csv", "cannot be read", base_dir=tmp_path)
    finally:
        path.chmod(0o644)


def test_unreadable_file_any_user(tmp_path, monkeypatch):
    path = tmp_path / "locked.npz"
    path.write_bytes(b"x")

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(type(path), "read_bytes", refuse)
    err = raises(settings("npz", {"path": "locked.npz"}), "locked.npz", "cannot be read",
                 "Permission denied",
                 base_dir=tmp_path)
    assert err.path == str(path)


def test_paths_relative_to_base_dir_or_absolute(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("1,2,0\n3,4,1\n")
    monkeypatch.chdir(tmp_path)
    raises(csv_settings("d.csv"), "d.csv", "not found", base_dir=tmp_path)  # not the cwd's sub/
    d = load_data(csv_settings("d.csv", split=1.0), base_dir=tmp_path / "sub")
    assert d.x_train.shape == (2, 2)
    absolute = str(tmp_path / "sub" / "d.csv")
    d = load_data(csv_settings(absolute, split=1.0), base_dir="/nonexistent")
    assert d.x_train.shape == (2, 2)


# ---------------------------------------------------------------- split and shuffle


@pytest.mark.parametrize("fraction, n_train", [(0.8, 160), (0.5, 100), (0.333, 67), (1.0, 200)])
def test_split_sizes(fraction, n_train):
    d = load_data(settings("moons", split=fraction))
    assert len(d.x_train) == len(d.y_train) == n_train
    if fraction == 1.0:
        assert d.x_val is None and d.y_val is None
    else:
        assert len(d.x_val) == len(d.y_val) == 200 - n_train


def test_split_partitions_the_examples():
    d = load_data(settings("digits", split=0.7), seed=5)
    full = load_data(settings("digits", split=1.0, shuffle=False))
    both = np.concatenate([d.x_train, d.x_val])
    assert sorted(map(bytes, both)) == sorted(map(bytes, full.x_train))


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, True])
def test_split_out_of_range(fraction):
    err = raises(settings("moons", split=fraction), "split")
    assert err.statement == "split"


def test_split_leaving_no_training_examples():
    err = raises(settings("moons", {"n": 3}, split=0.1), "no training examples")
    assert err.statement == "split"


def test_no_shuffle_keeps_file_order(tmp_path):
    (tmp_path / "o.csv").write_text("".join(f"{i},{i % 2}\n" for i in range(10)))
    d = load_data(csv_settings("o.csv", split=0.8, shuffle=False), base_dir=tmp_path)
    assert d.x_train[:, 0].tolist() == list(range(8)) and d.x_val[:, 0].tolist() == [8, 9]
    shuffled = load_data(csv_settings("o.csv", split=0.8, shuffle=True), base_dir=tmp_path)
    assert shuffled.x_train[:, 0].tolist() != list(range(8))


def test_split_deterministic_under_seed_and_differs_between_seeds():
    a = load_data(settings("digits", standardize=True), seed=11)
    b = load_data(settings("digits", standardize=True), seed=11)
    c = load_data(settings("digits", standardize=True), seed=12)
    for field in ("x_train", "y_train", "x_val", "y_val"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.y_train, c.y_train)


# ---------------------------------------------------------------- scaling


def test_standardize_uses_training_statistics_only():
    raw = load_data(settings("diabetes"), seed=2)
    d = load_data(settings("diabetes", standardize=True), seed=2)
    assert np.allclose(d.x_train.mean(0), 0, atol=1e-12) and np.allclose(d.x_train.std(0), 1)
    assert np.abs(d.x_val.mean(0)).max() > 1e-3  # the validation split is not exactly centred
    assert np.allclose(d.scaling["mean"], raw.x_train.mean(0))
    assert np.allclose(d.x_val, (raw.x_val - raw.x_train.mean(0)) / raw.x_train.std(0))
    assert d.scaling["kind"] == "standardize"
    assert np.array_equal(d.raw_feature_range, np.ptp(raw.x_train, axis=0))
    assert np.array_equal(d.y_train, raw.y_train)


def test_minmax_uses_training_statistics_only():
    raw = load_data(settings("diabetes"), seed=2)
    d = load_data(settings("diabetes", minmax=True), seed=2)
    assert np.allclose(d.x_train.min(0), 0) and np.allclose(d.x_train.max(0), 1)
    assert d.scaling["kind"] == "minmax"
    assert np.array_equal(d.scaling["lo"], raw.x_train.min(0))
    assert np.array_equal(d.scaling["hi"], raw.x_train.max(0))
    lo, hi = raw.x_train.min(0), raw.x_train.max(0)
    assert np.allclose(d.x_val, (raw.x_val - lo) / (hi - lo))


def test_constant_features_do_not_divide_by_zero():
    # digits has pixels that are always 0 (and 0.1 is not exactly representable: rounding noise)
    d = load_data(settings("digits", standardize=True))
    assert np.all(np.isfinite(d.x_train)) and np.all(np.isfinite(d.x_val))
    constant = d.raw_feature_range == 0
    assert constant.any() and np.all(d.scaling["std"][constant] == 1.0)
    assert np.all(d.x_train[:, constant] == 0)
    m = load_data(settings("digits", minmax=True))
    assert np.all(np.isfinite(m.x_train)) and np.all(np.isfinite(m.x_val))
    assert np.all(m.x_train[:, constant] == 0) and np.all(m.x_val[:, constant] == 0)


def test_constant_nonzero_column_standardizes_to_zero(tmp_path):
    (tmp_path / "c.csv").write_text("".join(f"0.1,{i},{i % 2}\n" for i in range(20)))
    d = load_data(csv_settings("c.csv", standardize=True), base_dir=tmp_path)
    assert np.allclose(d.x_train[:, 0], 0) and d.scaling["std"][0] == 1.0


def test_standardize_and_minmax_together():
    err = raises(settings("digits", standardize=True, minmax=True), "both")
    assert err.statement == "minmax"


# ---------------------------------------------------------------- separate validation file


def test_validation_npz(tmp_path):
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "train.npz", x=rng.normal(5, 2, (40, 3)), y=rng.integers(0, 3, 40))
    val_labels = rng.integers(0, 4, 10).astype(float)  # whole floats: taken as class indices
    np.savez(tmp_path / "val.npz", x=rng.normal(5, 2, (10, 3)), y=val_labels)
    d = load_data(settings("npz", {"path": "train.npz"}, validation="val.npz", standardize=True),
                  base_dir=tmp_path)
    assert d.x_train.shape == (40, 3) and d.x_val.shape == (10, 3)
    assert np.allclose(d.x_train.mean(0), 0) and not np.allclose(d.x_val.mean(0), 0)
    assert d.y_val.dtype == np.int64 and d.classes == max(4, d.y_train.max() + 1)


def test_validation_csv_with_other_source(tmp_path):
    (tmp_path / "v.csv").write_text("x1,x2,label\n0.1,0.2,1\n0.3,0.4,0\n")
    d = load_data(settings("moons", validation="v.csv"), base_dir=tmp_path)
    assert d.x_train.shape == (200, 2) and d.x_val.tolist() == [[0.1, 0.2], [0.3, 0.4]]
    assert d.y_val.tolist() == [1, 0]


def test_validation_width_mismatch(tmp_path):
    (tmp_path / "v.csv").write_text("1,2,3,0\n")
    err = raises(settings("moons", validation="v.csv"), "v.csv", "3 features", "source has 2",
                 base_dir=tmp_path)
    assert err.statement == "validation"


def test_validation_file_errors(tmp_path):
    err = raises(settings("moons", validation="gone.npz"), "gone.npz", "not found",
                 base_dir=tmp_path)
    assert err.statement == "validation"
    (tmp_path / "v.txt").write_text("1,2,0\n")
    err = raises(settings("moons", validation="v.txt"), "v.txt", "extension", base_dir=tmp_path)
    assert err.statement == "validation"
    (tmp_path / "bad.csv").write_text("1,2,0\n1,x,0\n")
    err = raises(settings("moons", validation="bad.csv"), "bad.csv", "line 2", "column 2",
                 base_dir=tmp_path)
    assert err.statement == "validation"
    (tmp_path / "real.csv").write_text("1,2,0.5\n")
    err = raises(settings("moons", validation="real.csv"), "real.csv", "real-valued labels",
                 base_dir=tmp_path)
    assert err.statement == "validation"


# ---------------------------------------------------------------- the Dataset and batches


def test_dataset_fields():
    d = load_data(settings("breast_cancer", minmax=True))
    assert isinstance(d, Dataset)
    assert d.features == d.x_train.shape[1] == d.raw_feature_range.shape[0] == 30
    assert d.x_train.flags.writeable and d.y_train.flags.writeable
    with pytest.raises(AttributeError):
        d.name = "other"


def test_iter_batches_in_order_with_remainder():
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    batches = list(iter_batches(x, y, 4, None))
    assert [len(xb) for xb, _ in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate([yb for _, yb in batches]), y)
    assert all(np.array_equal(xb[:, 0] / 2, yb) for xb, yb in batches)


def test_iter_batches_shuffled_per_call():
    x, y = np.arange(200.0).reshape(100, 2), np.arange(100)
    rng = np.random.default_rng(0)
    first = np.concatenate([yb for _, yb in iter_batches(x, y, 32, rng)])
    second = np.concatenate([yb for _, yb in iter_batches(x, y, 32, rng)])
    assert sorted(first) == sorted(second) == list(range(100))
    assert not np.array_equal(first, second) and not np.array_equal(first, y)
    again = np.concatenate([yb for _, yb in iter_batches(x, y, 32, np.random.default_rng(0))])
    assert np.array_equal(first, again)
    for xb, yb in iter_batches(x, y, 32, np.random.default_rng(1)):
        assert np.array_equal(xb[:, 0] / 2, yb)


def test_iter_batches_bad_size():
    with pytest.raises(ValueError):
        list(iter_batches(np.zeros((3, 1)), np.zeros(3), 0, None))


def test_data_error_str_carries_hint():
    err = DataError("f.csv: bad", statement="split", param="label", path="/x/f.csv", hint="fix it")
    assert str(err) == "f.csv: bad (hint: fix it)" and err.message == "f.csv: bad"
    assert (err.statement, err.param, err.path) == ("split", "label", "/x/f.csv")
