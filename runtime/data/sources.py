"""One loader per source kind, in a table keyed by kind, and a one-line description of a source."""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from ...spec.settings import Choice, DataSettings
from ...spec.settings import source as make_source

from . import bundled, generated
from .csvfile import read_csv
from .errors import DataError
from .files import resolve, read_npz
from .idx import read_idx
from .prepare import rng_for
from .raw import Raw, count_classes


@dataclass(frozen=True)
class Context:
    """What loaders need besides the source's own parameters."""

    seed: int = 0
    base_dir: Path = Path(".")
    default_classes: int | None = None
    label_names: tuple[str, ...] | None = None  # string labels' mapping to keep (a checkpoint's)


def _npz(params: dict, ctx: Context) -> Raw:
    return read_npz(resolve(params["path"], ctx.base_dir))


def _csv(params: Mapping, ctx: Context) -> Raw:
    ref = resolve(params["path"], ctx.base_dir)
    return read_csv(ref, label=params["label"], header=params["header"],
                    label_names=ctx.label_names)


def _idx(params: dict, ctx: Context) -> Raw:
    return read_idx(resolve(params["images"], ctx.base_dir, param="images"),
                    resolve(params["labels"], ctx.base_dir, param="labels"))


def _bundled(kind: str) -> Callable[[dict, Context], Raw]:
    return lambda params, ctx: bundled.BUNDLED[kind]()


def _generated(kind: str) -> Callable[[dict, Context], Raw]:
    return lambda params, ctx: generated.generate(kind, params, rng_for(ctx.seed, "generate"),
                                                  ctx.default_classes)


SOURCES: dict[str, Callable[[dict, Context], Raw]] = {
    **{kind: _bundled(kind) for kind in bundled.BUNDLED},
    "npz": _npz,
    "csv": _csv,
    "idx": _idx,
    **{kind: _generated(kind) for kind in generated.GENERATED},
}


def load_source(source: Choice, ctx: Context) -> Raw:
    """The examples of `source` (the data section's source: its kind as `name`, its `params`),
    before splitting and scaling.

    DataError (statement 'source') for an unknown kind, with the valid kinds, or any problem
    the kind's loader finds.
    """
    kind = source.name
    if kind not in SOURCES:
        close = difflib.get_close_matches(str(kind), SOURCES, n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise DataError(f"unknown source {kind!r}", hint=f"{guess}sources: {', '.join(SOURCES)}")
    return SOURCES[kind](source.params, ctx)


def load_validation(path: str, source: Choice, ctx: Context) -> Raw:
    """A separate validation set from an .npz or .csv(.gz) file, chosen by extension.

    A csv uses the source's label and header settings when the source is a csv too, else
    label=last, header=auto. Errors carry statement 'validation'.
    """
    ref = resolve(path, ctx.base_dir, statement="validation")
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes[-1:] == [".npz"]:
        return read_npz(ref)
    if suffixes[-1:] == [".csv"] or suffixes[-2:] == [".csv", ".gz"]:
        like = source if source.name == "csv" else make_source("csv", path=path)
        return read_csv(ref, label=like.params["label"], header=like.params["header"],
                        label_names=ctx.label_names)
    raise ref.error("has an unknown extension for a validation set",
                    hint="use an .npz file (arrays x and y) or a .csv / .csv.gz file")


def describe_raw(raw: Raw) -> str:
    """'name: N examples, D features, C classes' (or the kind of regression target)."""
    if raw.y.ndim == 2:
        target = f"{raw.y.shape[1]} regression targets"
    else:
        classes = raw.classes or count_classes(raw.y)
        target = "a regression target" if classes is None else f"{classes} classes"
        if raw.class_names and classes is not None and len(raw.class_names) == classes <= 4:
            target += f" ({', '.join(raw.class_names)})"
    features = "1 feature" if raw.features == 1 else f"{raw.features} features"
    return f"{raw.name}: {raw.n} examples, {features}, {target}"


def describe_source(settings: DataSettings | Choice, *, seed: int = 0, base_dir: str | Path = ".",
                    default_classes: int | None = None) -> str:
    """One line describing a data section's source, e.g. "digits: 1797 examples, 64 features,
    10 classes". `settings` is the data settings (or just their source); files are read
    (relative to base_dir) to count their examples, so DataError is possible."""
    source = settings.source if isinstance(settings, DataSettings) else settings
    raw = load_source(source, Context(seed, Path(base_dir), default_classes))
    return describe_raw(raw)
