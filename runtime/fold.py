"""Batch-norm folding, the weights: a model whose plan is the folded graph's
(compiler/fold.py), with each folded layer's weights and bias absorbing the normalization's
evaluation-mode scale and shift, so its evaluation output equals the original's up to rounding:

    W' = W * s,  b' = b * s + t,   s = gamma / sqrt(running_var + eps),  t = beta - running_mean * s

(per output unit). Which kernels know how is theirs to say (`eval_affine`, `fold_affine`).
"""
from __future__ import annotations

from .model import Model


def fold_model(model: Model, folded_plan, pairs: list[tuple[str, str]]) -> Model:
    """A Model of `folded_plan` (the plan of the folded graph) holding `model`'s parameters and
    buffers, the folded layers' weights merged with their normalizations' statistics."""
    steps = {s.name: s for s in model.plan.steps}
    values = model.state_dict()
    for layer, norm in pairs:
        own = {k: values.pop(f"{layer}.{k}") for k in steps[layer].kernel.param_shapes()}
        stats = {k: values.pop(f"{norm}.{k}") for k in (*steps[norm].kernel.param_shapes(),
                                                       *steps[norm].kernel.buffer_shapes())}
        scale, shift = steps[norm].kernel.eval_affine(stats)
        for k, v in steps[layer].kernel.fold_affine(own, scale, shift).items():
            values[f"{layer}.{k}"] = v
    folded = Model(folded_plan, seed=model.seed, dtype=model.dtype)
    folded.load_state_dict(values)
    return folded
