"""The compiled network (what `netc.load` returns), reading a spec file, and the data pass."""
from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from ..spec.check import CheckedSpec
from ..spec.diagnostics import Diagnostic, Source, Span, SpecError, printable
from ..spec.settings import DataSettings, TrainSettings
from .lints import DataFacts

# A spec is text a person writes: a few kilobytes. Anything larger is the wrong file, and reading
# it whole (a 5 GB file, /dev/zero) would exhaust memory before any message could be shown.
MAX_SPEC_BYTES = 4 * 1024 * 1024


@dataclass
class Network:
    """A compiled `.net` file.

    - `graph`: a `networkx.DiGraph`; nodes in `graph.graph["order"]` (execution order) carry `op`,
      `attrs` (the op's parameters), `shape` ((None, width)), `params` / `buffers` (name -> shape),
      `param_count`, `span` (the statement that made the node), `calls` (block-call spans), `group`.
    - `data` and `train`: the data and train sections as typed settings (netc.spec.settings:
      `DataSettings`, `TrainSettings`; every setting present, defaults filled in).
    - `warnings`: the lints' diagnostics; `source`: the text and its name; `base_dir`: where
      relative data paths are resolved.
    """

    name: str
    graph: nx.DiGraph
    data: DataSettings | None
    train: TrainSettings
    warnings: list[Diagnostic]
    source: Source
    base_dir: Path
    spec: CheckedSpec = field(repr=False)
    data_description: str | None = None
    dataset: object = field(default=None, repr=False)  # the data as loaded for the checks, if it was
    label_description: str | None = None  # which column the labels came from, classes, mapping

    @property
    def order(self) -> list[str]:
        """Node names in execution order."""
        return self.graph.graph["order"]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The per-example shape declared by `input`: (D,) or (C, H, W)."""
        return tuple(self.graph.nodes[self.graph.graph["input"]]["shape"][1:])

    @property
    def input_width(self) -> int:
        """The number of features an example of the data must have: D, or C*H*W for images."""
        return math.prod(self.input_shape)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The per-example shape of the last node: (D,) or (C, H, W)."""
        return tuple(self.graph.nodes[self.graph.graph["output"]]["shape"][1:])

    @property
    def output_width(self) -> int:
        """The width of the last node (the logits for classification); channels for an image."""
        return self.graph.nodes[self.graph.graph["output"]]["shape"][1]

    @property
    def param_count(self) -> int:
        """Total number of learned scalars."""
        return sum(a["param_count"] for _, a in self.graph.nodes(data=True))

    @property
    def buffer_count(self) -> int:
        """Total number of non-learned state scalars (batch-norm running statistics)."""
        total = 0
        for _, a in self.graph.nodes(data=True):
            for shape in a["buffers"].values():
                n = 1
                for d in shape:
                    n *= d
                total += n
        return total

    def render_warnings(self) -> str:
        """The warnings in `FILE:LINE:COL: warning: ...` form, one block each."""
        return "\n".join(w.render(self.source) for w in self.warnings)


def input_mismatch(shape: tuple[int, ...], features: int, what: str,
                   stored: tuple[int, ...] | None = None) -> tuple[str, str] | None:
    """(message, hint) when data of `features` features per example does not fit an input of
    per-example `shape`, else None. Images fit flat rows of C*H*W features (reshaped row-major).
    `stored`: the shape one example had in the file when it was not a flat row ((1, 8, 8) for an
    .npz of (N, 1, 8, 8)); such data gets the image form `input 1 8 8` as its hint."""
    need = math.prod(shape)
    if need == features:
        return None
    image = tuple(stored) if stored is not None and len(stored) in (2, 3) else None
    if image is not None and len(image) == 2:  # grayscale H W: one channel
        image = (1,) + image
    if image is not None and image[0] > 4:  # channels last (H, W, C) is not netc's C H W layout
        image = None
    if image is not None:
        dims = "x".join(map(str, image))
        hint = (f"the data holds {dims} images: write input {' '.join(map(str, image))} "
                f"(or input {features} to take each one as a flat vector)")
    elif len(shape) == 1:
        return f"{what} has {features} features but the model's input is {need} wide", f"write input {features}"
    else:
        fits = [f"input {c} {int(round((features // c) ** 0.5))} {int(round((features // c) ** 0.5))}"
                for c in (1, 3) if features % c == 0 and round((features // c) ** 0.5) ** 2 == features // c]
        hint = f"write input {features} (a vector)" + (f", or {fits[0]}" if fits else "") + \
            ": an image C H W needs C*H*W features per example"
    if len(shape) == 1:
        return f"{what} has {features} features but the model's input is {need} wide", hint
    return (f"{what} has {features} features per example, but the model's input "
            f"{'x'.join(map(str, shape))} needs {need} (C*H*W)", hint)


def augment_mismatch(shape: tuple[int, ...], augment, data: str | None = None):
    """(message, hint, key) when the `augment` settings cannot act on examples of per-example
    `shape` (the model's input, which the data fits), else None: shift, flip and cutout move or
    hide pixels, so they need images (C, H, W); a shift that can move a whole image out of view or
    a cutout larger than the image is refused too. `augment` is the setting (netc.spec.settings.
    Augment); `data` describes the loaded data, if it was."""
    from ..spec.schema import IMAGE_AUGMENTS
    given = [k for k in IMAGE_AUGMENTS if getattr(augment, k) and getattr(augment, k) != "none"]
    if not given:
        return None
    key = given[0]
    written = f"augment {key}={getattr(augment, key)}"
    if len(shape) != 3:
        where = f"{printable(data.split(':')[0])} has" if data else "the examples have"
        return (f"{written} needs images, but {where} {shape[0]} features per example, a vector of shape "
                f"({shape[0]},) (the model's input is 'input {shape[0]}')",
                "shift, flip and cutout act on images (input C H W, when the features are pixels); "
                "noise= also works on vectors", key)
    _, h, w = shape
    if augment.shift and augment.shift >= min(h, w):
        return (f"augment shift={augment.shift} can move a whole {h}x{w} image out of view",
                f"use a shift below {min(h, w)} (1 or 2 pixels is usual)", "shift")
    if augment.cutout and augment.cutout > min(h, w):
        return (f"augment cutout={augment.cutout} is larger than the {h}x{w} images",
                f"use a cutout of at most {min(h, w)} (about half the image side is usual)", "cutout")
    return None


def data_facts(ds, spec: CheckedSpec) -> DataFacts:
    """What the data-aware lints need to know of a loaded Dataset."""
    ranges = [r for r in ds.raw_feature_range.tolist() if r > 0]
    ratio = max(ranges) / min(ranges) if ranges else None
    y = ds.y_train
    scale = None
    # a regression target: real numbers, or whole ones read as int64 (prices) under a regression loss
    if len(y) and (y.dtype.kind == "f" or (y.ndim == 1 and not spec.train.classification)):
        scale = float(max(abs(y.mean()), y.std()))
    return DataFacts(ds.features, ds.classes, ratio, spec.data_spans.get("source"), scale)


def describe_dataset(ds, classification: bool = True) -> str:
    """'digits: 1797 examples (1438 train, 359 validation), 64 features, 10 classes'; under a
    regression loss (`classification` False) '..., regression' even when the targets are whole
    numbers (prices in dollars are not 401,300 classes)."""
    n_train = len(ds.x_train)
    n_val = 0 if ds.x_val is None else len(ds.x_val)
    what = f"{ds.classes} classes" if ds.classes is not None and classification else "regression"
    return f"{printable(ds.name)}: {n_train + n_val} examples ({n_train} train, {n_val} validation), " \
           f"{ds.features} features, {what}"


DATA_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".npz", ".npy", ".gz", "-ubyte", ".idx")


def _is_data_file(name: str) -> bool:
    """Whether `name` is plainly one of the data formats netc reads (a learner's `netc check
    iris.csv`), by its ending."""
    return name.lower().endswith(DATA_SUFFIXES)


def read_source(path: str | Path) -> Source:
    """The file's text as a Source. SpecError for a missing, unreadable or non-UTF-8 file, for
    anything but a regular file (a device such as /dev/zero, a FIFO: reading it could block or
    never end) and for a file over MAX_SPEC_BYTES."""
    name = str(path)

    def refuse(message: str, hint: str | None = None):
        return SpecError([Diagnostic("error", message, None, hint)], Source(name, ""))
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer before it can be refused
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise refuse("is a directory, not a .net file")
            if not stat.S_ISREG(st.st_mode):
                raise refuse("is not a regular file (a device, pipe or socket)", "give the path of a .net file")
            if st.st_size > MAX_SPEC_BYTES:
                raise refuse(f"is {st.st_size:,} bytes; a .net file may have at most {MAX_SPEC_BYTES:,}",
                             "is this the right file? a spec is a few kilobytes of text")
            raw = f.read(MAX_SPEC_BYTES + 1)  # the file may have grown since fstat
    except FileNotFoundError:
        raise refuse("no such file", "check the path") from None
    except IsADirectoryError:
        raise refuse("is a directory, not a .net file") from None
    except OSError as e:
        raise refuse(f"cannot read the file: {e.strerror}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise refuse(f"is more than {MAX_SPEC_BYTES:,} bytes, the most a .net file may have")
    if _is_data_file(name):
        base = os.path.basename(name)
        raise refuse("is a data file, not a .net spec",
                     f'a spec names its data in its data section: data {{ source "{base}" }} '
                     "(examples/*.net and docs/language.md show whole files)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        good = raw[:e.start].decode("utf-8", errors="replace")
        line = good.count("\n") + 1
        col = len(good) - (good.rfind("\n") + 1) + 1
        source = Source(name, good)
        raise SpecError([Diagnostic("error", f"the file is not valid UTF-8 (byte 0x{raw[e.start]:02x})",
                                    Span.point(line, col), "save the file as UTF-8")], source)
    if text.startswith("\ufeff"):
        text = text[1:]  # a byte-order mark is not part of the spec
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")  # old Mac line endings
    return Source(name, text)
