"""Typed settings: frozen dataclasses whose defaults are the schema's (written once), the same
values whether a setting comes from the file or from `--set`."""
from __future__ import annotations

import dataclasses
import tokenize

import pytest

import netc
from conftest import ROOT
from netc.spec import overrides
from netc.spec.schema import STATEMENTS
from netc.spec.settings import Choice, Clip, DataSettings, EarlyStop, Regularize, TrainSettings, source

MODEL = "model m { input 64; dense 10 }\n"


def train_of(body: str) -> TrainSettings:
    return netc.loads(f"train {{\n{body}\n}}\n" + MODEL, check_data=False).train


def data_of(body: str) -> DataSettings:
    return netc.loads(f"data {{\nsource digits\n{body}\n}}\n" + MODEL, check_data=False).data


def schema_default(section, keyword, param=None, variant=None):
    stmt = STATEMENTS[section][keyword]
    where = stmt.variants[variant] if variant else stmt
    return next(p for p in where.positional + where.keywords if param is None or p.name == param).default


def test_defaults_are_the_schemas():
    t = TrainSettings()
    for key in ("loss", "batch", "epochs", "seed"):
        assert getattr(t, key) == schema_default("train", key), key
    adam = STATEMENTS["train"]["optimizer"].variants[STATEMENTS["train"]["optimizer"].default_variant]
    assert t.optimizer == Choice("adam", {p.name: p.default for p in adam.keywords})
    assert (t.schedule, t.regularize, t.clip, t.early_stop) == (None, None, None, None)
    stop = STATEMENTS["train"]["early_stop"]
    assert [f.name for f in dataclasses.fields(EarlyStop)] == [p.name for p in stop.keywords]
    assert dataclasses.astuple(EarlyStop()) == tuple(p.default for p in stop.keywords)
    d = DataSettings(source("digits"))
    assert d.split == schema_default("data", "split") == 0.8
    assert d.shuffle is schema_default("data", "shuffle") is True
    assert (d.validation, d.standardize, d.minmax) == (None, False, False)


def test_an_empty_section_parses_to_the_dataclass_defaults():
    """Each default is written once (the schema, read by the dataclasses' field defaults): an
    empty section and a bare constructor agree, field by field."""
    assert train_of("") == TrainSettings()
    assert netc.loads(MODEL, check_data=False).train == TrainSettings()  # no train section at all
    assert data_of("") == DataSettings(source("digits"))
    for f in dataclasses.fields(DataSettings):
        if f.name != "source":
            assert getattr(data_of(""), f.name) == f.default, f.name


def test_an_omitted_statement_gets_the_default_a_given_one_the_value():
    assert train_of("seed 3") == TrainSettings(seed=3)
    assert data_of("") == DataSettings(Choice("digits"))
    assert data_of("split 0.5\nminmax") == DataSettings(Choice("digits"), split=0.5, minmax=True)
    assert source("moons") == Choice("moons", {"n": 200, "noise": 0.1})
    assert source("csv", path="d.csv").params == {"path": "d.csv", "label": "last", "header": "auto"}


def test_the_split_default_is_written_once():
    """0.8, the split's default, is a number in the schema's code and nowhere else (messages and
    docstrings may show it as an example)."""
    hits = []
    for folder in ("spec", "compiler", "runtime", "netc", "tui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            with open(path, "rb") as f:
                for tok in tokenize.tokenize(f.readline):
                    if tok.type == tokenize.NUMBER and tok.string in ("0.8", ".8", "0.80"):
                        hits.append(f"{path.relative_to(ROOT)}:{tok.start[0]}")
    lines = (ROOT / "spec" / "schema.py").read_text().splitlines()
    split = next(i for i, line in enumerate(lines, 1) if '"fraction", "float", 0.8' in line)
    assert hits == [f"spec/schema.py:{split}"]


def test_settings_are_frozen():
    t = TrainSettings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.batch = 3
    with pytest.raises(TypeError):
        t.optimizer.params["lr"] = 1.0
    with pytest.raises(AttributeError):
        t.optimizer.momentum  # adam has no momentum


# The same setting written in the file and given with --set must give equal settings: the file's
# statements and --set go through the same schema parameters and constructors.
SAME = [
    ("batch 64", ["batch=64"]),
    ("loss mse", ["loss=mse"]),
    ("optimizer sgd lr=0.1 momentum=0.9 nesterov=true",
     ["optimizer=sgd", "optimizer.lr=0.1", "optimizer.momentum=0.9", "optimizer.nesterov=true"]),
    ("optimizer adam lr=0.01 betas=(0.8, 0.9)", ["optimizer.lr=0.01", "optimizer.betas=(0.8, 0.9)"]),
    ("schedule exponential gamma=0.9", ["schedule=exponential", "schedule.gamma=0.9"]),
    ("schedule step every=3", ["schedule=step", "schedule.every=3"]),
    ("regularize l2 0.001", ["regularize.l2=0.001"]),
    ("regularize l1 0.001", ["regularize.l1=0.001"]),
    ("regularize elastic l1=0.1 l2=0.2", ["regularize.l1=0.1", "regularize.l2=0.2"]),
    ("clip norm 5", ["clip.limit=5"]),
    ("clip value 2", ["clip=value", "clip.limit=2"]),
    ("early_stop patience=3", ["early_stop.patience=3"]),
    ("early_stop metric=val_accuracy min_delta=0.01", ["early_stop.metric=val_accuracy", "early_stop.min_delta=0.01"]),
    ("constrain maxnorm=3", ["constrain.maxnorm=3"]),
    ("mixup 0.2", ["mixup=0.2"]),
]


@pytest.mark.parametrize("statement, sets", SAME, ids=[s for s, _ in SAME])
def test_file_and_set_give_the_same_settings(statement, sets):
    base = TrainSettings()
    train, _ = overrides.apply(base, None, sets)
    assert train == train_of(statement)


@pytest.mark.parametrize("statement, sets", [
    ("split 0.5", ["split=0.5"]), ('validation "v.npz"', ['validation="v.npz"']),
    ("shuffle false", ["shuffle=false"]), ("standardize", ["standardize=true"]), ("minmax", ["minmax=true"]),
    ("augment noise=0.1", ["augment.noise=0.1"]),  # shift, flip and cutout need an image input
])
def test_file_and_set_give_the_same_data_settings(statement, sets):
    _, data = overrides.apply(TrainSettings(), data_of(""), sets)
    assert data == data_of(statement)


def test_to_dict_is_plain_json():
    import json
    net = netc.load(ROOT / "examples" / "digits.net", check_data=False)
    d = json.loads(json.dumps(net.train.to_dict()))
    assert d["optimizer"] == {"name": "adam", "lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8}
    assert d["regularize"] == {"kind": "l2", "l1": 0.0, "l2": 1e-4}
    assert d["early_stop"] == {"patience": 5, "metric": "val_loss", "min_delta": 0.0}
    assert net.data.to_dict()["source"] == {"kind": "digits"}
    assert Clip("norm", 5.0) == train_of("clip norm 5").clip
    assert Regularize("l2", 0.0, 1e-4) == net.train.regularize
