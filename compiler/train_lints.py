"""Lints on the train section's numbers: settings that are valid but silently stop learning in
float32 (a clip limit that rounds to 0, a penalty that outweighs any loss). They run at compile
time and again once the command line's --set overrides are applied."""
from __future__ import annotations

from ..spec.diagnostics import Diagnostic, Span
from ..spec.settings import TrainSettings

FLOAT32_TINY = 1.1754944e-38  # the smallest normal float32: a limit below it is 0 or denormal
CLIP_FLOOR = 1e-8             # gradients clipped below this barely move the weights
PENALTY_CEILING = 1.0         # a penalty strength from here on outweighs any loss


def _warn(code: str, message: str, span: Span | None, hint: str) -> Diagnostic:
    return Diagnostic("warning", f"{message} [{code}]", span, hint, code)


def train_warnings(train: TrainSettings, spans: dict[str, Span]) -> list[Diagnostic]:
    """Warnings for the `clip` and `regularize` settings of `train` (spans: the statements'
    and parameters' spans, as CheckedSpec.train_spans)."""
    out = []
    clip = train.clip
    if clip:
        limit, span = clip.limit, spans.get("clip.limit") or spans.get("clip")
        if limit < FLOAT32_TINY:
            out.append(_warn("clip-underflow", f"clip {clip.kind} {limit:g} rounds to 0 in float32: "
                             "every gradient becomes 0 and the weights never change", span,
                             "typical limits are 0.5 to 5, e.g. clip norm 1.0"))
        elif limit < CLIP_FLOOR:
            out.append(_warn("clip-underflow", f"clip {clip.kind} {limit:g} shrinks every gradient "
                             f"below {CLIP_FLOOR:g}: the weights barely move", span,
                             "typical limits are 0.5 to 5, e.g. clip norm 1.0"))
    reg = train.regularize
    if reg:
        for kind in ("l1", "l2"):
            strength = getattr(reg, kind)
            if strength >= PENALTY_CEILING:
                span = (spans.get(f"regularize.{kind}") or spans.get("regularize.strength")
                        or spans.get("regularize"))
                out.append(_warn("penalty-overwhelms", f"regularize {kind} {strength:g} outweighs the loss: "
                                 "the penalty drives every weight to 0 (or, in float32, overflows) and "
                                 "nothing is learned", span, "typical strengths are 1e-5 to 1e-2"))
    return out
