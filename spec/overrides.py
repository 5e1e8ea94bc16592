"""`--set KEY=VALUE`: overriding a train or data setting from the command line.

The value is exactly one value read by the file's own grammar (spec/parser.py `parse_value`), checked
by the same schema parameter as in a file (so `--set optimizer.lr=0` fails exactly as `lr=0` in the
file would), and put into the typed settings with the constructors the file's settings are built
with (spec/settings.py): the keys, their types and defaults all come from the schema.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .diagnostics import NetcError, did_you_mean
from .parser import parse_value as parse_expr
from .schema import STATEMENTS, P, Stmt
from .settings import (Clip, DataSettings, EarlyStop, Regularize, TrainSettings, augment_settings, choice,
                       settings_conflict, train_statement)
from .values import Symbol, ValueError_, coerce, evaluate


class OverrideError(NetcError):
    """A `--set` that names no setting or whose value does not fit: message and hint (reported as
    `netc: error: ...`, exit 2)."""

    def __init__(self, message: str, hint: str | None = None, key: str | None = None):
        super().__init__(message, hint=hint)
        self.key = key  # the setting whose KEY=VALUE failed, when one did


def _one_value(stmt: Stmt) -> bool:
    return stmt.variants is None and len(stmt.positional) == 1 and not stmt.keywords and not stmt.distinct_by


def _flags(stmt: Stmt) -> tuple[str, ...]:
    """The settings keys of a data statement that is present or not: `minmax`; `standardize`
    and, for each other value of its distinct_by parameter, `standardize_target`."""
    if stmt.variants is not None or stmt.keywords:
        return ()
    if not stmt.positional:
        return (stmt.keyword,)
    if stmt.distinct_by:
        param = stmt.positional[0]
        return (stmt.keyword,) + tuple(f"{stmt.keyword}_{c}" for c in param.choices if c != param.default)
    return ()


# key -> (section, statement): the statements that hold one value (`batch 64`, `split 0.8`)
SIMPLE = {k: (section, s) for section in ("train", "data") for k, s in STATEMENTS[section].items() if _one_value(s)}
# the data statements that are flags: present or not (`standardize`, `standardize target`)
FLAGS = tuple(k for s in STATEMENTS["data"].values() for k in _flags(s))
SCALINGS = ("standardize", "minmax")  # inputs are scaled one way: turning one on turns the other off
VARIANT_KEYS = ("optimizer", "schedule", "clip")  # `--set optimizer=sgd` switches the kind
DEFAULT_CLIP = "norm"  # the kind a file without `clip` gains from `--set clip.limit=V`


def valid_keys(train: TrainSettings) -> list[str]:
    """Every key `--set` accepts for these settings."""
    keys = list(SIMPLE) + list(FLAGS) + list(VARIANT_KEYS)
    keys += [f"optimizer.{p.name}" for p in _variant("optimizer", train.optimizer.name).keywords]
    if train.schedule:
        keys += [f"schedule.{p.name}" for p in _variant("schedule", train.schedule.name).keywords]
    keys += ["clip.limit", "regularize.l1", "regularize.l2"]
    keys += [f"constrain.{p.name}" for p in STATEMENTS["train"]["constrain"].keywords]
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


def apply(train: TrainSettings, data: DataSettings | None,
          assignments: list[str]) -> tuple[TrainSettings, DataSettings | None]:
    """The settings with every `KEY=VALUE` applied in order; raises OverrideError."""
    keys = {item.partition("=")[0].strip() for item in assignments}
    if {"split", "validation"} <= keys:
        raise OverrideError("--set: give either split or validation, not both")
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise OverrideError(f"--set needs KEY=VALUE, got {item!r}", "e.g. --set optimizer.lr=0.01")
        try:
            train, data = _apply_one(train, data, key, parse_value(text, key))
        except OverrideError as e:
            e.key = key  # which assignment failed: `netc sweep` names its own option for a --grid key
            raise
    _complete(train)
    return train, data


def _complete(train: TrainSettings) -> None:
    """Checks that need every override applied: nothing left unset, settings that fit together."""
    sched = train.schedule
    if sched:
        missing = [k for k, v in sched.params.items() if v is None]
        if missing:
            raise OverrideError(f"--set schedule={sched.name} needs {', '.join(missing)}",
                                f"add --set schedule.{missing[0]}=...")
    if train.clip and train.clip.limit is None:
        raise OverrideError(f"--set clip={train.clip.kind} needs a limit", "add --set clip.limit=5")
    problem = settings_conflict(train)
    if problem:
        raise OverrideError("--set: " + problem[0], problem[1])


def _variant(keyword: str, name: str):
    return STATEMENTS["train"][keyword].variants[name]


def _apply_one(train: TrainSettings, data: DataSettings | None, key: str, value: Any):
    """The settings with one `key=value` applied."""
    def put(param: P) -> Any:
        try:
            return coerce(param, value, None, f"--set {key}")
        except ValueError_ as e:
            raise OverrideError(e.message, e.hint) from None

    def need_data() -> DataSettings:
        if data is None:
            raise OverrideError(f"--set {key}: the file has no data section")
        return data

    if key in SIMPLE:
        section, stmt = SIMPLE[key]
        if section == "data":
            return train, dataclasses.replace(need_data(), **{key: put(stmt.positional[0])})
        return dataclasses.replace(train, **{key: put(stmt.positional[0])}), data
    if key in FLAGS:
        on = put(P(key, "bool"))
        other = {k: False for k in SCALINGS if k != key} if on and key in SCALINGS else {}
        return train, dataclasses.replace(need_data(), **{key: on}, **other)
    head, _, sub = key.partition(".")
    if head in VARIANT_KEYS and not sub:
        variants = STATEMENTS["train"][head].variants
        if not isinstance(value, Symbol) or value not in variants:
            raise OverrideError(f"--set {key}: unknown kind '{value}'", did_you_mean(str(value), variants))
        if head == "clip":
            return dataclasses.replace(train, clip=Clip(str(value), train.clip.limit if train.clip else None)), data
        # required parameters stay None until a later --set gives them (checked in `_complete`)
        keep = {"lr": train.optimizer.lr} if head == "optimizer" else {}
        return dataclasses.replace(train, **{head: choice("train", head, str(value), keep)}), data
    if head in ("optimizer", "schedule") and sub:
        current = getattr(train, head)
        if current is None:
            raise OverrideError(f"--set {key}: the file has no schedule",
                                "choose one first, e.g. --set schedule=exponential --set schedule.gamma=0.9")
        if sub not in {p.name for p in _variant(head, current.name).keywords}:
            _other_variants(head, current.name, sub, key)
        param = _lookup(key, _variant(head, current.name).keywords, train)
        return dataclasses.replace(train, **{head: current.with_params(**{sub: put(param)})}), data
    if head == "clip" and sub == "limit":
        kind = train.clip.kind if train.clip else DEFAULT_CLIP
        limit = put(_variant("clip", kind).positional[0])
        return dataclasses.replace(train, clip=Clip(kind, limit)), data
    if head == "regularize" and sub in ("l1", "l2"):
        reg = train.regularize or Regularize("l2")
        strengths = {"l1": reg.l1, "l2": reg.l2, sub: put(_lookup(key, _variant("regularize", "elastic").keywords, train))}
        kind = "elastic" if strengths["l1"] and strengths["l2"] else ("l1" if strengths["l1"] else "l2")
        return dataclasses.replace(train, regularize=Regularize(kind, **strengths)), data
    if head == "constrain" and sub:
        param = _lookup(key, STATEMENTS["train"]["constrain"].keywords, train)
        return dataclasses.replace(train, constrain=train_statement("constrain", "", {sub: put(param)})), data
    if head == "augment" and sub:
        param = _lookup(key, STATEMENTS["data"]["augment"].keywords, train)
        d = need_data()
        current = dataclasses.asdict(d.augment) if d.augment else {}
        # all zero again is no augmentation (None), as in a file
        return train, dataclasses.replace(d, augment=augment_settings({**current, sub: put(param)}))
    if head == "early_stop" and sub:
        param = _lookup(key, STATEMENTS["train"]["early_stop"].keywords, train)
        stop = dataclasses.replace(train.early_stop or EarlyStop(), **{sub: put(param)})
        return dataclasses.replace(train, early_stop=stop), data
    raise OverrideError(f"--set: unknown setting '{key}'", _key_hint(key, valid_keys(train)))


def _key_hint(key: str, valid: list[str]) -> str:
    """Did-you-mean for a --set key: a key that is the last part of exactly one setting (`lr`
    for `optimizer.lr`), else the closest spelling, else every valid key."""
    ends = [k for k in valid if k.rpartition(".")[2] == key and k != key]
    if len(ends) == 1:
        return f"did you mean '{ends[0]}'?"
    return did_you_mean(key, valid) or "valid: " + ", ".join(valid)


def _other_variants(head: str, current: str, sub: str, key: str) -> None:
    """Refuse `optimizer.momentum` under adam by naming the variants that have it (sgd, rmsprop)
    and how to switch, when some do; else return (the caller's did-you-mean decides)."""
    having = [name for name, v in STATEMENTS["train"][head].variants.items()
              if name != current and sub in {p.name for p in v.keywords}]
    if having:
        raise OverrideError(f"--set: {current} has no setting '{sub}' ({key})",
                            f"{sub} is a setting of {', '.join(having)}: switch first, e.g. "
                            f"--set {head}={having[0]} --set {key}=...")


def _lookup(key: str, params: tuple[P, ...], train: TrainSettings) -> P:
    name = key.partition(".")[2]
    for p in params:
        if p.name == name:
            return p
    raise OverrideError(f"--set: unknown setting '{key}'", did_you_mean(key, valid_keys(train)))


__all__ = ["apply", "OverrideError", "valid_keys", "parse_value"]
