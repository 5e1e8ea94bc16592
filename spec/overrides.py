"""`--set KEY=VALUE`: overriding a train or data setting from the command line, checked against the
same schema as the file (so `--set optimizer.lr=0` fails exactly as `lr=0` in the file would)."""
from __future__ import annotations

import copy

from .diagnostics import NetcError, did_you_mean
from .parser import parse_value as parse_expr
from .schema import STATEMENTS, P
from .settings import TRAIN_DEFAULTS, augment_settings, settings_conflict
from .values import Symbol, ValueError_, coerce, evaluate


class OverrideError(NetcError):
    """A `--set` that names no setting or whose value does not fit: message and hint (reported as
    `netc: error: ...`, exit 2)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)


SIMPLE = {  # key -> (section, statement, settings key)
    "loss": ("train", "loss", "loss"), "batch": ("train", "batch", "batch"),
    "epochs": ("train", "epochs", "epochs"), "seed": ("train", "seed", "seed"),
    "split": ("data", "split", "split"), "shuffle": ("data", "shuffle", "shuffle"),
    "validation": ("data", "validation", "validation"), "mixup": ("train", "mixup", "mixup"),
}
FLAGS = ("standardize", "minmax")
VARIANT_KEYS = ("optimizer", "schedule", "clip")


def valid_keys(train: dict) -> list[str]:
    """Every key `--set` accepts for these settings."""
    keys = list(SIMPLE) + list(FLAGS) + list(VARIANT_KEYS)
    opt = STATEMENTS["train"]["optimizer"].variants[train["optimizer"]["name"]]
    keys += [f"optimizer.{p.name}" for p in opt.keywords]
    if train["schedule"]:
        keys += [f"schedule.{p.name}" for p in STATEMENTS["train"]["schedule"].variants[train["schedule"]["name"]].keywords]
    keys += ["clip.limit", "regularize.l1", "regularize.l2", "constrain.maxnorm"]
    keys += [f"early_stop.{p.name}" for p in STATEMENTS["train"]["early_stop"].keywords]
    keys += [f"augment.{p.name}" for p in STATEMENTS["data"]["augment"].keywords]
    return keys


def parse_value(text: str, key: str = ""):
    """Exactly one value written as in a .net file (`0.01`, `adam`, `(0.9, 0.99)`, `"f.npz"`,
    `true`), evaluated; OverrideError for anything else or anything more."""
    expr = parse_expr(text)
    try:
        if expr is not None:
            return evaluate(expr, {})[0]
    except ValueError_:  # an arithmetic error: 1/0, an out-of-range number
        pass
    raise OverrideError(f"--set {key}: cannot read {text.strip()!r} as one value",
                        'write one value as in a .net file: 0.01, adam, true, (0.9, 0.99), "file.npz"')


def apply(train: dict, data: dict | None, assignments: list[str]) -> tuple[dict, dict | None]:
    """Copies of the settings with every `KEY=VALUE` applied in order; raises OverrideError."""
    train, data = copy.deepcopy(train), copy.deepcopy(data)
    keys = {item.partition("=")[0].strip() for item in assignments}
    if {"split", "validation"} <= keys:
        raise OverrideError("--set: give either split or validation, not both")
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise OverrideError(f"--set needs KEY=VALUE, got {item!r}", "e.g. --set optimizer.lr=0.01")
        value = parse_value(text, key)
        _apply_one(train, data, key, value)
    _complete(train)
    return train, data


def _complete(train: dict) -> None:
    """Checks that need every override applied: nothing left unset, settings that fit together."""
    sched = train["schedule"]
    if sched:
        missing = [k for k, v in sched.items() if v is None]
        if missing:
            raise OverrideError(f"--set schedule={sched['name']} needs {', '.join(missing)}",
                                f"add --set schedule.{missing[0]}=...")
    if train["clip"] and train["clip"]["limit"] is None:
        raise OverrideError(f"--set clip={train['clip']['kind']} needs a limit", "add --set clip.limit=5")
    problem = settings_conflict(train)
    if problem:
        raise OverrideError("--set: " + problem[0], problem[1])


def _param(stmt: str, name: str, variant: str | None = None) -> P:
    s = STATEMENTS["train"].get(stmt) or STATEMENTS["data"][stmt]
    params = s.variants[variant].keywords + s.variants[variant].positional if variant else s.keywords + s.positional
    return next(p for p in params if p.name == name)


def _apply_one(train: dict, data: dict | None, key: str, value) -> None:
    def put(param: P):
        try:
            return coerce(param, value, None, f"--set {key}")
        except ValueError_ as e:
            raise OverrideError(e.message, e.hint) from None

    if key in SIMPLE:
        section, stmt, target = SIMPLE[key]
        if section == "data" and data is None:
            raise OverrideError(f"--set {key}: the file has no data section")
        schema = STATEMENTS[section][stmt]
        param = schema.positional[0]
        settings = train if section == "train" else data
        settings[target] = put(param)
        if key == "validation":
            data["split"] = 0.8
        return
    if key in FLAGS:
        if data is None:
            raise OverrideError(f"--set {key}: the file has no data section")
        data[key] = put(P(key, "bool"))
        if data[key]:
            data[FLAGS[1 - FLAGS.index(key)]] = False
        return
    head, _, sub = key.partition(".")
    if head in VARIANT_KEYS and not sub:
        variants = STATEMENTS["train"][head].variants
        if not isinstance(value, Symbol) or value not in variants:
            raise OverrideError(f"--set {key}: unknown kind {value}", did_you_mean(str(value), variants))
        if head == "clip":
            train["clip"] = {"kind": str(value), "limit": train["clip"]["limit"] if train["clip"] else None}
            return
        v = variants[value]
        # required parameters stay None until a later --set gives them (checked in `_complete`)
        base = {"name": str(value), **{p.name: (None if p.required else p.default) for p in v.keywords}}
        if head == "optimizer" and "lr" in train["optimizer"]:
            base["lr"] = train["optimizer"]["lr"]
        train[head] = base
        return
    if head == "optimizer" and sub:
        train["optimizer"][sub] = put(_lookup(key, "optimizer", sub, train["optimizer"]["name"], train))
        return
    if head == "schedule" and sub:
        if not train["schedule"]:
            raise OverrideError(f"--set {key}: the file has no schedule",
                                "choose one first, e.g. --set schedule=exponential --set schedule.gamma=0.9")
        train["schedule"][sub] = put(_lookup(key, "schedule", sub, train["schedule"]["name"], train))
        return
    if head == "clip" and sub == "limit":
        clip = train["clip"] or {"kind": "norm", "limit": None}
        clip["limit"] = put(_param("clip", "limit", clip["kind"]))
        train["clip"] = clip
        return
    if head == "regularize" and sub in ("l1", "l2"):
        reg = train["regularize"] or {"kind": "l2", "l1": 0.0, "l2": 0.0}
        reg[sub] = put(P(sub, "float", min=0))
        reg["kind"] = "elastic" if reg["l1"] and reg["l2"] else ("l1" if reg["l1"] else "l2")
        train["regularize"] = reg
        return
    if head == "constrain" and sub == "maxnorm":
        train["constrain"] = {"maxnorm": put(_param("constrain", "maxnorm", None))}
        return
    if head == "augment" and sub:
        if data is None:
            raise OverrideError(f"--set {key}: the file has no data section")
        params = STATEMENTS["data"]["augment"].keywords
        param = next((p for p in params if p.name == sub), None)
        if param is None:
            raise OverrideError(f"--set: unknown setting '{key}'", did_you_mean(key, valid_keys(train)))
        values = data["augment"] or {p.name: p.default for p in params}
        values[sub] = put(param)
        data["augment"] = augment_settings(values)  # all zero again: no augmentation
        return
    if head == "early_stop" and sub:
        stop = train["early_stop"] or {p.name: p.default for p in STATEMENTS["train"]["early_stop"].keywords}
        stop[sub] = put(_lookup(key, "early_stop", sub, None, train))
        train["early_stop"] = stop
        return
    raise OverrideError(f"--set: unknown setting '{key}'",
                        did_you_mean(key, valid_keys(train)) or "valid: " + ", ".join(valid_keys(train)))


def _lookup(key: str, stmt: str, name: str, variant: str | None, train: dict) -> P:
    try:
        return _param(stmt, name, variant)
    except StopIteration:
        raise OverrideError(f"--set: unknown setting '{key}'", did_you_mean(key, valid_keys(train))) from None


__all__ = ["apply", "OverrideError", "valid_keys", "TRAIN_DEFAULTS"]
