"""The trainer's state, declared once: every piece that makes a run continue exactly where it was.

Each Part says how to read and write one piece on a Trainer, what kind of value it is, and what a
valid value looks like for the compiled network (its template). Everything that saves or restores
a run goes through PARTS and nothing else: the stepper's replay and restart (`capture` /
`restore`), and checkpoints (`flatten` / `unflatten` and `check`, in runtime/checkpoint.py). A new
piece of state added here is saved, replayed and validated with no other edit.

The random numbers need no state of their own: they are derived from the seed and the position's
counters (the epoch for the shuffle, the iteration for the dropout masks).
"""
from __future__ import annotations

import copy
import math
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, Callable

import numpy as np

from ..spec.diagnostics import NetcError
from .train import EpochResult, Position

Desc = tuple  # (shape tuple, numpy dtype): an array as a template or a checkpoint header sees it


class StateError(NetcError):
    """A value that does not fit the declaration: `message` names the first mismatch (the
    checkpoint module reports it as a CheckpointError naming the file)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint)


def _desc(a: np.ndarray) -> Desc:
    return tuple(a.shape), np.dtype(a.dtype)


def _check_desc(key: str, got: Desc, want: Desc, cast: bool) -> None:
    if tuple(got[0]) != tuple(want[0]):
        raise StateError(f"{key} has shape {tuple(got[0])}, but the network needs {tuple(want[0])}")
    g, w = np.dtype(got[1]), np.dtype(want[1])
    if g != w and not (cast and g.kind == w.kind == "f"):
        raise StateError(f"{key} is {g.name}, but the network needs {w.name}")


# --- kinds of state ------------------------------------------------------------------------------

class Arrays:
    """{name: array}, exactly the template's names ({name: (shape, dtype)}); `optional`: or None."""

    def __init__(self, optional: bool = False):
        self.optional = optional

    def copy(self, value):
        return None if value is None else {k: np.array(v, copy=True) for k, v in value.items()}

    def flatten(self, value) -> dict[str, np.ndarray]:
        return {} if value is None else dict(value)

    def unflatten(self, flat: dict[str, np.ndarray]):
        return None if self.optional and not flat else flat

    def check(self, part: str, descs: dict[str, Desc], template, cast: bool = False) -> None:
        if self.optional and not descs:
            return
        for name, want in template.items():
            if name not in descs:
                raise StateError(f"{part}/{name} is missing")
            _check_desc(f"{part}/{name}", descs[name], want, cast)
        for name in descs:
            if name not in template:
                raise StateError(f"unexpected entry {part}/{name!r}: the network has no such array")


class Groups:
    """{group: {slot: array}}: any of the template's groups, each with exactly the slots the
    template gives it ({group: {slot: (shape, dtype)}}); the optimizer's per-parameter moments."""

    def copy(self, value):
        return {g: {k: np.array(v, copy=True) for k, v in slots.items()} for g, slots in value.items()}

    def flatten(self, value) -> dict[str, np.ndarray]:
        return {f"{g}/{k}": v for g, slots in value.items() for k, v in slots.items()}

    def unflatten(self, flat: dict[str, np.ndarray]):
        out: dict[str, dict[str, np.ndarray]] = {}
        for key, v in flat.items():
            g, _, k = key.partition("/")
            out.setdefault(g, {})[k] = v
        return out

    def check(self, part: str, descs: dict[str, Desc], template, cast: bool = False) -> None:
        groups: dict[str, dict[str, Desc]] = {}
        for key, d in descs.items():
            g, sep, k = key.partition("/")
            if not sep or "/" in k or g not in template:
                raise StateError(f"unexpected entry {part}/{key!r}: the network has no such parameter")
            groups.setdefault(g, {})[k] = d
        for g, slots in groups.items():
            want = template[g]
            for k, d in slots.items():
                if k not in want:
                    raise StateError(f"unexpected entry {part}/{g}/{k!r}: not a state of this optimizer",
                                     f"it keeps {', '.join(want) or 'no state'} per parameter")
                _check_desc(f"{part}/{g}/{k}", d, want[k], cast)
            for k in want:
                if k not in slots:
                    raise StateError(f"{part}/{g}/{k} is missing")


class Value:
    """A plain value (JSON in a checkpoint): `to_plain` makes it plain, `parse` checks a plain
    value and returns the live one (StateError if it does not fit)."""

    def __init__(self, parse: Callable[[Any, str], Any], to_plain: Callable[[Any], Any] = lambda v: v,
                 optional: bool = False):
        # optional: a checkpoint without it (written before the part existed) reads as None
        self.parse, self.to_plain, self.optional = parse, to_plain, optional

    def copy(self, value):
        return copy.deepcopy(value)


@dataclass(frozen=True)
class Part:
    """One piece of the trainer's state: `get(trainer)` the live value, `set(trainer, value)` puts
    a value back (it may keep `value`: callers hand it a copy), `template(trainer)` what a valid
    value is for this network (arrays and groups only)."""

    name: str
    kind: Any
    get: Callable
    set: Callable
    template: Callable | None = None


# --- checking plain values -----------------------------------------------------------------------

def _is(value, hint) -> bool:
    """Whether a JSON value fits a type hint (int, float, bool, None, X | None, list[X])."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_is(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_is(v, args[0]) for v in value)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return False


def _type_name(hint) -> str:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is list:
        return f"list of {_type_name(args[0])}"
    if args:
        return " or ".join(_type_name(a) for a in args)
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


def parse_dataclass(cls, value, where: str):
    """`cls(**value)` after checking that `value` has exactly cls's fields, each of its type (a
    list of records is checked record by record)."""
    if not isinstance(value, dict):
        raise StateError(f"{where} is not a record")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    for name in value:
        if name not in names:
            raise StateError(f"unexpected entry {where}.{name!r:.60}")
    kw = {}
    for name in names:
        if name not in value:
            raise StateError(f"{where}.{name} is missing")
        v, hint = value[name], hints[name]
        item = typing.get_args(hint)[0] if typing.get_origin(hint) is list else None
        if item is not None and hasattr(item, "__dataclass_fields__"):
            if not isinstance(v, list):
                raise StateError(f"{where}.{name} is not a list")
            kw[name] = [parse_dataclass(item, x, f"{where}.{name}[{i}]") for i, x in enumerate(v)]
        elif _is(v, hint):
            kw[name] = v
        else:
            raise StateError(f"{where}.{name} = {v!r:.60} is not a {_type_name(hint)}")
    return cls(**kw)


def parse_position(value, where: str) -> Position:
    """A Position from its plain form, with the invariants a run keeps (counts never negative,
    one history row per finished epoch, the best epoch one of them)."""
    pos = parse_dataclass(Position, value, where)
    for name in ("epoch", "batch", "iteration", "seen", "bad_epochs"):
        if getattr(pos, name) < 0:
            raise StateError(f"{where}.{name} is negative")
    if len(pos.history) != pos.epoch:
        raise StateError(f"{where} has {len(pos.history)} history rows for {pos.epoch} finished epochs")
    if pos.best_epoch is not None and not 1 <= pos.best_epoch <= pos.epoch:
        raise StateError(f"{where}.best_epoch {pos.best_epoch} is not a finished epoch")
    if not all(math.isfinite(v) for v in (pos.loss_sum, pos.correct, pos.epoch_seconds)):
        raise StateError(f"{where} holds a non-finite running sum")
    return pos


def parse_count(value, where: str) -> int:
    """A non-negative integer."""
    if not _is(value, int) or value < 0:
        raise StateError(f"{where} = {value!r:.60} is not a non-negative integer")
    return value


def parse_int(value, where: str) -> int:
    """An integer."""
    if not _is(value, int):
        raise StateError(f"{where} = {value!r:.60} is not an integer")
    return value


MAX_LABEL_NAMES, MAX_LABEL_NAME = 10_000, 200  # as runtime/data/csvfile.py bounds them


def parse_label_names(value, where: str) -> tuple[str, ...] | None:
    """None, or a list of distinct non-empty class names (strings), bounded in count and length."""
    if value is None:
        return None
    if (not isinstance(value, list) or not value or len(value) > MAX_LABEL_NAMES
            or not all(isinstance(v, str) and 0 < len(v) <= MAX_LABEL_NAME for v in value)
            or len(set(value)) != len(value)):
        raise StateError(f"{where} is not a list of distinct class names")
    return tuple(value)


def _data_label_names(t):
    return None if t.data is None else getattr(t.data, "label_names", None)


def _check_label_names(t, value) -> None:
    """The classes a checkpoint was trained with must be the data's (netc maps the data's string
    labels with the checkpoint's names before it gets here: a mismatch is a bug or a forgery)."""
    have = _data_label_names(t)
    if t.data is not None and tuple(value or ()) != tuple(have or ()):
        raise StateError(f"the checkpoint's classes ({', '.join(value or ()) or 'numbered'}) are not "
                         f"the data's ({', '.join(have or ()) or 'numbered'})")


def parse_target_scaling(value, where: str) -> dict | None:
    """None, or {"mean": [...], "std": [...]} (`standardize target`): as many finite numbers in
    each, at least one, the stds > 0; returned as float64 arrays."""
    if value is None:
        return None
    ok = (isinstance(value, dict) and set(value) == {"mean", "std"}
          and all(isinstance(value[k], list) and 0 < len(value[k]) <= 1_000_000 for k in ("mean", "std"))
          and len(value["mean"]) == len(value["std"])
          and all(_is(v, float) and math.isfinite(v) for k in ("mean", "std") for v in value[k])
          and all(v > 0 for v in value["std"]))
    if not ok:
        raise StateError(f"{where} is not a target's mean and std")
    return {k: np.array(value[k], dtype=np.float64) for k in ("mean", "std")}


def _data_target_scaling(t):
    return None if t.data is None else getattr(t.data, "target_scaling", None)


def _check_target_scaling(t, value) -> None:
    """The target statistics a checkpoint was trained with must be the data's (netc loads the data
    with the checkpoint's statistics before it gets here)."""
    have = _data_target_scaling(t)
    if t.data is None:
        return
    same = (value is None) == (have is None) and (value is None or all(
        np.shape(value[k]) == np.shape(have[k]) and np.allclose(value[k], have[k]) for k in ("mean", "std")))
    if not same:
        raise StateError("the checkpoint's target standardization is not the data's",
                         "the file's 'standardize target' changed since the checkpoint was saved")


# --- the declaration -----------------------------------------------------------------------------

def _model_template(t) -> dict[str, Desc]:
    return {k: _desc(v) for k, v in {**t.model.params, **t.model.buffers}.items()}


def _optimizer_template(t) -> dict[str, dict[str, Desc]]:
    return {k: t.optimizer.slots(v.shape, v.dtype) for k, v in t.model.params.items()}


def _set_attr(owner_of, attr):
    def put(t, value):
        setattr(owner_of(t), attr, value)
    return put


PARTS: list[Part] = [
    # first: checked before any other part is put back
    Part("label_names", Value(parse_label_names, lambda v: None if v is None else list(v), optional=True),
         _data_label_names, _check_label_names),
    Part("target_scaling", Value(parse_target_scaling, lambda v: None if v is None else
                                 {k: [float(x) for x in v[k]] for k in ("mean", "std")}, optional=True),
         _data_target_scaling, _check_target_scaling),
    Part("model", Arrays(), lambda t: {**t.model.params, **t.model.buffers},
         lambda t, v: t.model.load_state_dict(v), _model_template),
    Part("optim", Groups(), lambda t: t.optimizer.state, _set_attr(lambda t: t.optimizer, "state"),
         _optimizer_template),
    Part("optimizer_steps", Value(parse_count), lambda t: t.optimizer.steps,
         _set_attr(lambda t: t.optimizer, "steps")),
    Part("best", Arrays(optional=True), lambda t: t.best_state, _set_attr(lambda t: t, "best_state"),
         _model_template),
    Part("position", Value(parse_position, Position.to_dict), lambda t: t.position,
         _set_attr(lambda t: t, "position")),
    Part("seed", Value(parse_int), lambda t: t.seed, _set_attr(lambda t: t, "seed")),
]


def capture(trainer) -> dict[str, Any]:
    """A copy of every part of the trainer's state (for replay: `restore` puts it back)."""
    return {p.name: p.kind.copy(p.get(trainer)) for p in PARTS}


def restore(trainer, state: dict[str, Any]) -> None:
    """Put a captured state back into `trainer` (the capture stays usable: copies go in)."""
    for p in PARTS:
        p.set(trainer, p.kind.copy(state[p.name]))


def state_bytes(trainer) -> int:
    """The most bytes of arrays a capture can hold for this network (every template filled: the
    optimizer's moments, the best weights): what the stepper budgets for each saved iteration."""
    total = 0
    for p in PARTS:
        if p.template is None:
            continue
        tpl = p.template(trainer)
        descs = [d for v in tpl.values() for d in (v.values() if isinstance(v, dict) else [v])]
        total += sum(int(np.prod(shape, dtype=np.int64)) * np.dtype(dt).itemsize for shape, dt in descs)
    return total


__all__ = ["PARTS", "Part", "Arrays", "Groups", "Value", "StateError", "capture", "restore",
           "state_bytes", "parse_dataclass", "parse_position", "parse_label_names",
           "parse_target_scaling", "EpochResult"]
