"""The data and train sections turned into plain settings dicts (every key present, defaults filled)."""
from __future__ import annotations

from typing import Any

from . import ast
from .bind import Call, bind
from .diagnostics import Collector, Span, did_you_mean
from .schema import CLASSIFICATION_LOSSES, MIXUP_LOSSES, STATEMENTS, lookup

DATA_DEFAULTS = {"source": None, "split": 0.8, "validation": None, "standardize": False,
                 "minmax": False, "shuffle": True, "augment": None}
TRAIN_DEFAULTS = {"loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 1e-3, "betas": (0.9, 0.999),
                                                         "eps": 1e-8},
                  "schedule": None, "batch": 32, "epochs": 10, "regularize": None, "clip": None, "constrain": None,
                  "early_stop": None, "mixup": None, "seed": 0}
# Sources for activation statistics, not learning (random labels): every example is for the
# statistics, so their default split is 1.0 (no validation) rather than 0.8.
WHOLE_SPLIT_SOURCES = ("gaussian",)
SOURCE_EXTENSIONS = {".npz": "npz", ".csv": "csv", ".csv.gz": "csv"}


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
        if schema.keyword in calls:
            errors.error(f"'{stmt.keyword}' is given twice in the {kind} section", stmt.keyword_span,
                         f"first given at line {calls[schema.keyword].stmt.span.line}")
        elif call is not None:
            calls[schema.keyword] = call
    return calls


def data_settings(section: ast.Section | None, errors: Collector) -> tuple[dict | None, dict[str, Span]]:
    """The data section as plain values, and the span of each statement (None without a section)."""
    if section is None:
        return None, {}
    calls = _calls(section, "data", errors)
    settings = dict(DATA_DEFAULTS)
    spans = {k: c.stmt.span for k, c in calls.items()}
    if "source" in calls:
        settings["source"] = _source(calls["source"], errors)
        spans.update({f"source.{k}": s for k, s in calls["source"].spans.items()})
    elif not any(s.keyword == "source" for s in section.body):
        errors.error("the data section has no source", section.kind_span,
                     "e.g. source digits, or source \"data.csv\"")
    for key in ("split", "validation"):
        if key in calls:
            settings[key] = next(iter(calls[key].values.values()))
    if (settings["source"] or {}).get("kind") in WHOLE_SPLIT_SOURCES and "split" not in calls:
        settings["split"] = 1.0
    for key in ("standardize", "minmax"):
        settings[key] = key in calls
    if "shuffle" in calls:
        settings["shuffle"] = calls["shuffle"].values["enabled"]
    if "augment" in calls:
        call = calls["augment"]
        spans.update({f"augment.{k}": s for k, s in call.spans.items()})
        settings["augment"] = augment_settings(call.values)
        if settings["augment"] is None:
            errors.error("augment changes nothing: give at least one of shift=, flip=, cutout=, noise=",
                         call.stmt.keyword_span, "e.g. augment shift=1 cutout=3")
    for a, b in (("split", "validation"), ("standardize", "minmax")):
        if a in calls and b in calls:
            errors.error(f"give either {a} or {b}, not both", calls[b].stmt.keyword_span)
    return settings, spans


def augment_settings(values: dict[str, Any]) -> dict[str, Any] | None:
    """The augment statement's values (every key present), or None when they change nothing (so
    `augment` with only zeros is the same as no augment)."""
    on = values["shift"] or values["flip"] != "none" or values["cutout"] or values["noise"]
    return dict(values) if on else None


def _source(call: Call, errors: Collector) -> dict[str, Any]:
    values = dict(call.values)
    if call.variant != "path":
        return {"kind": call.variant, **values}
    path = values["path"]
    kind = next((k for ext, k in SOURCE_EXTENSIONS.items() if path.lower().endswith(ext)), None)
    if kind is None:
        errors.error(f"unknown data file type: \"{path}\"", call.spans["path"],
                     "netc reads .npz (arrays x and y), .csv and .csv.gz; MNIST files: source idx images=... labels=...")
        return {"kind": "unknown", "path": path}
    if kind == "npz":
        for key in ("label", "header"):
            if key in call.spans:
                errors.error(f"{key}= applies to csv files, not .npz", call.spans[key])
        return {"kind": "npz", "path": path}
    header = {"auto": "auto", "true": True, "false": False}[values["header"]]
    return {"kind": "csv", "path": path, "label": values["label"], "header": header}


def train_settings(section: ast.Section | None, errors: Collector) -> tuple[dict, dict[str, Span]]:
    """The train section as plain values (defaults for what it omits), and each statement's span."""
    calls = _calls(section, "train", errors)
    settings = {k: (dict(v) if isinstance(v, dict) else v) for k, v in TRAIN_DEFAULTS.items()}
    spans = {k: c.stmt.span for k, c in calls.items()}
    for key, call in calls.items():
        for name, span in call.spans.items():
            spans[f"{key}.{name}"] = span
        v = call.values
        if key == "loss":
            settings["loss"] = v["kind"]
        elif key in ("batch", "epochs", "seed", "mixup"):
            settings[key] = next(iter(v.values()))
        elif key == "optimizer":
            settings["optimizer"] = {"name": call.variant, **v}
        elif key == "schedule":
            settings["schedule"] = {"name": call.variant, **v}
        elif key == "regularize":
            if call.variant == "elastic":
                settings["regularize"] = {"kind": "elastic", "l1": v["l1"], "l2": v["l2"]}
            else:
                strength = v["strength"]
                settings["regularize"] = {"kind": call.variant,
                                          "l1": strength if call.variant == "l1" else 0.0,
                                          "l2": strength if call.variant == "l2" else 0.0}
        elif key == "clip":
            settings["clip"] = {"kind": call.variant, "limit": v["limit"]}
        elif key == "early_stop":
            settings["early_stop"] = dict(v)
        elif key == "constrain":
            settings["constrain"] = dict(v)
    problem = settings_conflict(settings)
    if problem:
        message, hint, key, param = problem
        call = calls.get(key)
        errors.error(message, call.spans.get(param, call.stmt.keyword_span) if call else None, hint)
    return settings, spans


def settings_conflict(train: dict) -> tuple[str, str, str, str] | None:
    """A train setting that contradicts another: (message, hint, statement, parameter), or None."""
    stop = train["early_stop"]
    if stop and stop["metric"] == "val_accuracy" and train["loss"] not in CLASSIFICATION_LOSSES:
        return (f"early_stop metric=val_accuracy needs a classification loss, not {train['loss']}",
                "use metric=val_loss", "early_stop", "metric")
    sched = train["schedule"]
    if sched and sched["name"] == "cosine" and sched["min_lr"] > train["optimizer"]["lr"]:
        return (f"schedule cosine: min_lr={sched['min_lr']:g} is above the learning rate "
                f"{train['optimizer']['lr']:g}, so it would rise", "use a min_lr below lr", "schedule", "min_lr")
    if train.get("mixup") and train["loss"] not in MIXUP_LOSSES:
        return (f"mixup mixes the targets of two examples, but the {train['loss']} loss needs one true "
                f"class per example", f"mixup works with loss {', '.join(MIXUP_LOSSES[:-1])} or {MIXUP_LOSSES[-1]}; or remove mixup",
                "mixup", "alpha")
    opt = train["optimizer"]
    if opt.get("nesterov") and not opt.get("momentum"):
        return ("nesterov=true needs momentum > 0", "e.g. optimizer sgd momentum=0.9 nesterov=true",
                "optimizer", "nesterov")
    return None
