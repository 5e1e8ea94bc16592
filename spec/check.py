"""From text to a checked spec (parse, check the sections and blocks, build the settings), and the
expansion of its model into a flat stream of layers: the compiler's first two passes."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from . import ast
from .diagnostics import Collector, Diagnostic, Source, Span, SpecError, did_you_mean
from .expand import Expander, Layer
from .parser import parse
from .schema import ALIASES, SECTIONS, STATEMENTS
from .settings import DataSettings, TrainSettings, data_settings, train_settings
from .values import ValueError_, evaluate


@dataclass(frozen=True)
class CheckedSpec:
    """A spec that parsed and validated: its model section and blocks (expanded into `layers` by
    `expand`), and the typed settings with the span of each statement."""

    source: Source
    model_name: str
    model_span: Span
    data: DataSettings | None
    train: TrainSettings
    data_spans: dict[str, Span]
    train_spans: dict[str, Span]
    model: ast.Section | None = dataclasses.field(default=None, repr=False)
    blocks: dict[str, ast.Section] = dataclasses.field(default_factory=dict, repr=False)
    layers: tuple[Layer, ...] = ()


def check(source: Source, errors: Collector | None = None) -> CheckedSpec:
    """Parse and validate `source`. Syntax errors raise SpecError at once; the other errors are
    recorded in `errors` (the next passes add theirs, so a file's mistakes are reported together),
    or, without a collector, raised as a SpecError carrying every error found."""
    raise_now = errors is None
    errors = Collector() if errors is None else errors
    if not source.text.strip():
        raise SpecError([Diagnostic("error", "the file is empty", Span.point(1, 1),
                                    "a .net file needs at least a model section: model NAME { input N ... }")],
                        source)
    tree = parse(source)
    sections = _sections(tree, errors)
    blocks = _blocks(sections.get("block", []), errors)
    models = sections.get("model", [])
    if not models:
        if not errors.has_errors:  # else a misspelt 'model' was reported already
            errors.error("the file has no model section", Span.point(1, 1),
                         "add one: model NAME { input N ... }")
    else:
        for extra in models[1:]:
            errors.error("a second model section: a file declares exactly one model", extra.kind_span,
                         f"the first model is at line {models[0].span.line}")
    data, data_spans = data_settings(_single(sections, "data", errors), errors)
    train, train_spans = train_settings(_single(sections, "train", errors), errors)
    model = models[0] if models else None
    spec = CheckedSpec(source, (model.name if model else None) or "model", model.span if model else Span.point(1, 1),
                       data, train, data_spans, train_spans, model, blocks)
    if raise_now:
        spec = expand(spec, errors)
        if errors.has_errors:
            raise SpecError(unique(errors.items), source)
    return spec


def expand(spec: CheckedSpec, errors: Collector) -> CheckedSpec:
    """The spec with its model expanded into `layers` (block calls and repeats unrolled, names
    given, add/concat resolved); errors recorded in `errors`."""
    if spec.model is None:
        return spec
    return dataclasses.replace(spec, layers=tuple(Expander(spec.blocks, errors).expand(spec.model)))


def unique(items: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics without repeats (a mistake inside a block is found once per call)."""
    seen, out = set(), []
    for d in items:
        key = (d.message, d.span)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def _sections(tree: ast.SpecFile, errors: Collector) -> dict[str, list[ast.Section]]:
    found: dict[str, list[ast.Section]] = {}
    for section in tree.sections:
        if section.kind not in SECTIONS:
            hint = did_you_mean(section.kind, SECTIONS)
            where = next((k for k in STATEMENTS if section.kind in STATEMENTS[k]), None)
            if where:
                hint = f"'{section.kind}' is a statement of the {where} section"
            errors.error(f"unknown section '{section.kind}'", section.kind_span, hint)
            continue
        if section.kind in ("data", "train") and section.name is not None:
            errors.error(f"the {section.kind} section takes no name", section.name_span,
                         f"write: {section.kind} {{ ... }}")
        if section.kind != "block" and section.params is not None:
            errors.error(f"only blocks take parameters, not the {section.kind} section", section.name_span)
        if section.kind == "block" and section.name is None:
            errors.error("a block needs a name", section.kind_span, "e.g. block hidden(width) { ... }")
            continue
        found.setdefault(section.kind, []).append(section)
    return found


def _single(sections, kind: str, errors: Collector) -> ast.Section | None:
    items = sections.get(kind, [])
    for extra in items[1:]:
        errors.error(f"a second {kind} section: a file has at most one", extra.kind_span,
                     f"merge it into the one at line {items[0].span.line}")
    return items[0] if items else None


def _blocks(sections: list[ast.Section], errors: Collector) -> dict[str, ast.Section]:
    blocks: dict[str, ast.Section] = {}
    builtins = set(STATEMENTS["model"]) | set(ALIASES)
    for block in sections:
        if block.name in builtins:
            errors.error(f"block name '{block.name}' is a built-in statement", block.name_span,
                         "pick another name")
            continue
        if block.name in blocks:
            errors.error(f"block '{block.name}' is defined twice", block.name_span,
                         f"first defined at line {blocks[block.name].span.line}")
            continue
        seen: set[str] = set()
        for p in block.params or ():
            if p.name in seen:
                errors.error(f"block '{block.name}': parameter '{p.name}' is declared twice", p.span)
            seen.add(p.name)
            if p.default is not None:
                try:
                    evaluate(p.default, {})
                except ValueError_ as e:
                    errors.error(e.message, e.span, e.hint)
        blocks[block.name] = block
    return blocks
