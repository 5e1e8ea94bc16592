"""The data and train sections as typed settings: frozen dataclasses whose every default is read
from the statement schema (spec/schema.py), where it is written once.

Field names are the statements' keywords (`TrainSettings.batch`, `DataSettings.split`) and, inside
a statement, its parameters' names (`EarlyStop.patience`, `Clip.limit`); a statement whose first
word picks a variant (`optimizer adam`, `schedule step`, `source digits`) is a `Choice`: the
variant's name and every parameter it takes, defaults filled in. Both the file
(`train_settings`, `data_settings`) and the command line's `--set` (spec/overrides.py) build these
values through `choice` and `dataclasses.replace`, from values checked by the same schema.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from . import ast
from .bind import Call, bind
from .diagnostics import Collector, Span, did_you_mean
from .schema import CLASSIFICATION_LOSSES, MIXUP_LOSSES, STATEMENTS, lookup

# Sources for activation statistics, not learning (random labels): every example is for the
# statistics, so their default split is 1.0 (no validation) rather than the schema's.
WHOLE_SPLIT_SOURCES = ("gaussian",)
SOURCE_EXTENSIONS = {".npz": "npz", ".csv": "csv", ".csv.gz": "csv"}


def default(section: str, keyword: str, param: str | None = None, variant: str | None = None) -> Any:
    """The schema's default of a statement's parameter (its only positional one when `param` is
    None), e.g. default("data", "split") == 0.8."""
    stmt = STATEMENTS[section][keyword]
    where = stmt.variants[variant] if variant else stmt
    params = where.positional + where.keywords
    return next(p for p in params if param is None or p.name == param).default


@dataclass(frozen=True)
class Choice:
    """A statement whose first word picks a variant: `name` (`adam`, `step`, `digits`) and `params`,
    every parameter of that variant (read-only; attributes too: `optimizer.lr`)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__") or key == "params":  # copy/pickle probe dunders before params is set
            raise AttributeError(key)
        try:
            return self.params[key]
        except KeyError:
            raise AttributeError(f"{self.name} has no parameter {key!r}") from None

    def with_params(self, **changes) -> "Choice":
        """A copy with some parameters changed."""
        return dataclasses.replace(self, params={**self.params, **changes})

    def to_dict(self, key: str = "name") -> dict[str, Any]:
        """Plain values, the variant's name under `key` (for JSON)."""
        return {key: self.name, **self.params}


def choice(section: str, keyword: str, variant: str, given: Mapping[str, Any] | None = None,
           missing: Any = None) -> Choice:
    """The variant `variant` of a statement with the given parameter values and the schema's
    defaults for the rest (`missing` for a required parameter that is not given)."""
    v = STATEMENTS[section][keyword].variants[variant]
    given = dict(given or {})
    params = {p.name: given.pop(p.name, missing if p.required else p.default) for p in v.positional + v.keywords}
    assert not given, f"{keyword} {variant} takes no {sorted(given)}"
    return Choice(variant, params)


def changed_params(section: str, keyword: str, c: Choice) -> dict[str, Any]:
    """The parameters of `c` (a variant of `keyword` in `section`) whose values differ from the
    schema's defaults for that variant, in the schema's order: what a summary line shows besides
    the variant's name (`sgd ... momentum=0.9 nesterov=true`)."""
    v = STATEMENTS[section][keyword].variants[c.name]
    return {p.name: c.params[p.name] for p in v.positional + v.keywords
            if p.name in c.params and (p.required or c.params[p.name] != p.default)}


def optimizer_text(opt: Choice) -> str:
    """`adam lr=0.002`, `sgd lr=0.02 momentum=0.9 nesterov=true`: the optimizer, its learning
    rate and every setting that differs from its default, written as in a .net file (the run's
    header, so that a --set which changes one is visible)."""
    words = [opt.name, f"lr={opt.lr:g}"]
    words += [f"{k}={_value_text(v)}" for k, v in changed_params("train", "optimizer", opt).items() if k != "lr"]
    return " ".join(words)


def _value_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _default_optimizer() -> Choice:
    return choice("train", "optimizer", STATEMENTS["train"]["optimizer"].default_variant)


@dataclass(frozen=True)
class Regularize:
    """`regularize l2 V`, `l1 V` or `elastic l1=V l2=V`: the penalty's kind and both strengths (0
    for the one a kind does not use)."""

    kind: str
    l1: float = 0.0
    l2: float = 0.0


@dataclass(frozen=True)
class Clip:
    """`clip value V` or `clip norm V`."""

    kind: str
    limit: float


@dataclass(frozen=True)
class Constrain:
    """`constrain maxnorm=V`: the largest L2 norm of a unit's incoming weights."""

    maxnorm: float


@dataclass(frozen=True)
class EarlyStop:
    """`early_stop patience=5 metric=val_loss min_delta=0`."""

    patience: int = default("train", "early_stop", "patience")
    metric: str = default("train", "early_stop", "metric")
    min_delta: float = default("train", "early_stop", "min_delta")


@dataclass(frozen=True)
class TrainSettings:
    """The train section: the schema's defaults for every statement it omits (None for the
    optional ones: no schedule, penalty, clipping, constraint or early stopping)."""

    loss: str = default("train", "loss")
    optimizer: Choice = field(default_factory=_default_optimizer)
    schedule: Choice | None = None
    batch: int = default("train", "batch")
    epochs: int = default("train", "epochs")
    regularize: Regularize | None = None
    clip: Clip | None = None
    constrain: Constrain | None = None
    early_stop: EarlyStop | None = None
    mixup: float | None = None  # the Beta distribution's alpha; None: no mixup
    seed: int = default("train", "seed")

    @property
    def classification(self) -> bool:
        """Whether the loss takes class labels (accuracy is reported)."""
        return self.loss in CLASSIFICATION_LOSSES

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for JSON and messages)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["optimizer"] = self.optimizer.to_dict()
        d["schedule"] = self.schedule.to_dict() if self.schedule else None
        for key in ("regularize", "clip", "constrain", "early_stop"):
            d[key] = dataclasses.asdict(d[key]) if d[key] else None
        return d


@dataclass(frozen=True)
class Augment:
    """`augment shift=N flip=horizontal cutout=N noise=S`: the random changes to each training
    batch (see `augment_settings`: a DataSettings holds one only when it changes something)."""

    shift: int = default("data", "augment", "shift")
    flip: str = default("data", "augment", "flip")
    cutout: int = default("data", "augment", "cutout")
    noise: float = default("data", "augment", "noise")


@dataclass(frozen=True)
class DataSettings:
    """The data section: its source (a Choice whose name is the kind: `digits`, `csv`, `npz`,
    `idx`, `moons`, ...) and how the examples are split, scaled and shuffled."""

    source: Choice
    split: float = default("data", "split")
    validation: str | None = None
    standardize: bool = False
    minmax: bool = False
    shuffle: bool = default("data", "shuffle")
    augment: Augment | None = None
    labels: str = default("data", "labels")  # zero_based, or one_based (1..K, shifted to 0..K-1)
    standardize_target: bool = False  # `standardize target`: a regression target's mean and std

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for JSON), the source's kind under "kind"."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["source"] = self.source.to_dict("kind")
        d["augment"] = dataclasses.asdict(self.augment) if self.augment else None
        return d


def source(kind: str, **params) -> Choice:
    """A data source with the schema's defaults: source("moons", n=100); source("csv", path="d.csv")
    (a file's kind is its type, `csv` or `npz`, whose parameters are those of a path)."""
    if kind == "npz":
        return Choice(kind, {"path": params["path"]})
    if kind == "csv":
        path = params.pop("path")
        values = choice("data", "source", "path", params).params
        header = {"auto": "auto", "true": True, "false": False}.get(values["header"], values["header"])
        return Choice(kind, {"path": path, "label": values["label"], "header": header})
    return Choice(kind, choice("data", "source", kind, params).params)


# --- from a file's sections -----------------------------------------------------------------------

def _calls(section: ast.Section | None, kind: str, errors: Collector) -> dict[str, Call]:
    """Each statement of a data or train section bound to the schema, at most once each."""
    calls: dict[str, Call] = {}
    if section is None:
        return calls
    for stmt in section.body:
        schema = lookup(kind, stmt.keyword)
        if schema is None:
            other = next((s for s in STATEMENTS if stmt.keyword in STATEMENTS[s]), None)
            if other:
                errors.error(f"'{stmt.keyword}' belongs in the {other} section, not in {kind}",
                             stmt.keyword_span)
            else:
                errors.error(f"unknown {kind} statement '{stmt.keyword}'", stmt.keyword_span,
                             did_you_mean(stmt.keyword, STATEMENTS[kind]))
            continue
        if stmt.alias is not None:
            errors.error(f"'as' names model nodes; {stmt.keyword} cannot be named", stmt.alias_span)
        if stmt.body is not None:
            errors.error(f"{stmt.keyword} takes no {{ }} body", stmt.body_span)
        call = bind(stmt, schema, {}, errors)
        key = statement_key(schema, call.values if call is not None else {})
        if key in calls:
            errors.error(f"'{stmt.keyword}' is given twice in the {kind} section", stmt.keyword_span,
                         f"first given at line {calls[key].stmt.span.line}")
        elif call is not None:
            calls[key] = call
    return calls


def statement_key(schema, values: Mapping[str, Any]) -> str:
    """The statement's key among its section's: its keyword or, when its `distinct_by` parameter
    has a value other than its default, KEYWORD_VALUE (`standardize target`: standardize_target)."""
    if schema.distinct_by is None:
        return schema.keyword
    param = next(p for p in schema.positional + schema.keywords if p.name == schema.distinct_by)
    value = values.get(schema.distinct_by, param.default)
    return schema.keyword if value == param.default else f"{schema.keyword}_{value}"


def _only(call: Call) -> Any:
    """The value of a statement's only parameter (`batch 64`, `split 0.8`)."""
    return next(iter(call.values.values()))


def data_settings(section: ast.Section | None, errors: Collector) -> tuple[DataSettings | None, dict[str, Span]]:
    """The data section as typed settings, and the span of each statement and parameter
    (None and {} without a section)."""
    if section is None:
        return None, {}
    calls = _calls(section, "data", errors)
    spans = {k: c.stmt.span for k, c in calls.items()}
    src = Choice("unknown")
    if "source" in calls:
        src = _source(calls["source"], errors)
        spans.update({f"source.{k}": s for k, s in calls["source"].spans.items()})
    elif not any(s.keyword == "source" for s in section.body):
        errors.error("the data section has no source", section.kind_span,
                     "e.g. source digits, or source \"data.csv\"")
    values: dict[str, Any] = {k: _only(calls[k]) for k in ("split", "validation", "shuffle", "labels") if k in calls}
    values.update({k: k in calls for k in ("standardize", "minmax", "standardize_target")})
    if src.name in WHOLE_SPLIT_SOURCES and "split" not in calls:
        values["split"] = 1.0
    if "augment" in calls:
        call = calls["augment"]
        spans.update({f"augment.{k}": s for k, s in call.spans.items()})
        values["augment"] = augment_settings(call.values)
        if values["augment"] is None:
            errors.error("augment changes nothing: give at least one of shift=, flip=, cutout=, noise=",
                         call.stmt.keyword_span, "e.g. augment shift=1 cutout=3")
    for a, b in (("split", "validation"), ("standardize", "minmax")):
        if a in calls and b in calls:
            errors.error(f"give either {a} or {b}, not both", calls[b].stmt.keyword_span)
    return DataSettings(src, **values), spans


def augment_settings(values: Mapping[str, Any]) -> "Augment | None":
    """The augment statement's values as an Augment (the schema's defaults for the keys not
    given), or None when they change nothing (so `augment` with only zeros is no augment); what
    both the file and `--set augment.KEY=V` build the setting with."""
    aug = Augment(**values)
    on = aug.shift or aug.flip != "none" or aug.cutout or aug.noise
    return aug if on else None


def _source(call: Call, errors: Collector) -> Choice:
    if call.variant != "path":
        return Choice(call.variant, call.values)
    path = call.values["path"]
    kind = next((k for ext, k in SOURCE_EXTENSIONS.items() if path.lower().endswith(ext)), None)
    if kind is None:
        errors.error(f"unknown data file type: \"{path}\"", call.spans["path"],
                     "netc reads .npz (arrays x and y), .csv and .csv.gz; MNIST files: source idx images=... labels=...")
        return Choice("unknown", {"path": path})
    if kind == "npz":
        for key in ("label", "header"):
            if key in call.spans:
                errors.error(f"{key}= applies to csv files, not .npz", call.spans[key])
    return source(kind, **call.values)


def train_statement(key: str, call_or_variant: Call | str, values: Mapping[str, Any]) -> Any:
    """The typed value of one train statement, from its variant (if it has variants) and its
    parameters' values: what both the file and `--set` build a setting with."""
    variant = call_or_variant.variant if isinstance(call_or_variant, Call) else call_or_variant
    if key in ("optimizer", "schedule"):
        return choice("train", key, variant, values)
    if key == "regularize":
        if variant == "elastic":
            return Regularize("elastic", values["l1"], values["l2"])
        return Regularize(variant, **{variant: values["strength"]})
    if key == "clip":
        return Clip(variant, values["limit"])
    if key == "early_stop":
        return EarlyStop(**values)
    if key == "constrain":
        return Constrain(**values)
    return next(iter(values.values()))  # loss, batch, epochs, seed: one value


def train_settings(section: ast.Section | None, errors: Collector) -> tuple[TrainSettings, dict[str, Span]]:
    """The train section as typed settings (the schema's defaults for what it omits), and the span
    of each statement and parameter."""
    calls = _calls(section, "train", errors)
    spans = {k: c.stmt.span for k, c in calls.items()}
    for key, call in calls.items():
        spans.update({f"{key}.{name}": span for name, span in call.spans.items()})
    settings = TrainSettings(**{key: train_statement(key, call, call.values) for key, call in calls.items()})
    problem = settings_conflict(settings)
    if problem:
        message, hint, key, param = problem
        call = calls.get(key)
        errors.error(message, call.spans.get(param, call.stmt.keyword_span) if call else None, hint)
    return settings, spans


def settings_conflict(train: TrainSettings) -> tuple[str, str, str, str] | None:
    """A train setting that contradicts another: (message, hint, statement, parameter), or None."""
    stop, sched, opt = train.early_stop, train.schedule, train.optimizer
    if stop and stop.metric == "val_accuracy" and not train.classification:
        return (f"early_stop metric=val_accuracy needs a classification loss, not {train.loss}",
                "use metric=val_loss", "early_stop", "metric")
    if sched and sched.name == "cosine" and sched.min_lr > opt.lr:
        return (f"schedule cosine: min_lr={sched.min_lr:g} is above the learning rate "
                f"{opt.lr:g}, so it would rise", "use a min_lr below lr", "schedule", "min_lr")
    if train.mixup and train.loss not in MIXUP_LOSSES:
        return (f"mixup mixes the targets of two examples, but the {train.loss} loss needs one true "
                f"class per example", f"mixup works with loss {', '.join(MIXUP_LOSSES[:-1])} or {MIXUP_LOSSES[-1]}; or remove mixup",
                "mixup", "alpha")
    if opt.params.get("nesterov") and not opt.params.get("momentum"):
        return ("nesterov=true needs momentum > 0", "e.g. optimizer sgd momentum=0.9 nesterov=true",
                "optimizer", "nesterov")
    return None
