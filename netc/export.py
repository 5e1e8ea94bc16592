"""`netc export FILE --to torch|onnx -o OUT`: hand a network over to PyTorch or ONNX, with netc's
weights (the seed's initial ones, or a checkpoint's with --weights).

--to torch writes a folder: model.py (a readable standalone nn.Module), weights.safetensors
(its state_dict) and README.md. --to onnx writes one .onnx file: the evaluation-mode network.
An op without a faithful form in the target stops the export at its statement (exit 2).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .compiler import load_path
from .compiler.lower import lower
from .experiments.extras import require
from .prepare import build_model, dtype_of, fail
from .runtime.torchnet.codegen import FormMissing, class_name, module_source, state_names, to_torch_state
from .spec import overrides
from .spec.diagnostics import EXIT_OK


def export(args) -> int:
    """`netc export`: write the network and its weights in the `--to` format; a NetcError (exit
    2) for bad input, including an op without a faithful form in the target."""
    net = load_path(args.file, check_data=False)
    extra = list(args.set) + ([f"seed={args.seed}"] if args.seed is not None else [])
    train, _ = overrides.apply(net.train, net.data, extra)
    model = build_model(net, train, dtype_of(args), args.weights)
    if getattr(args, "fold", False):
        net, model = folded(net, model)
    try:
        if args.to == "torch":
            require("safetensors.numpy", "torch", "netc export --to torch")
            written = write_torch(net, model, Path(args.output))
        else:
            require("onnx", "onnx", "netc export --to onnx")
            written = write_onnx(net, model, Path(args.output))
    except FormMissing as e:
        fail(net, e.message, e.step.span,
             "export a network without this op, or train it with netc's own engine")
    except OSError as e:
        fail(None, f"cannot write {args.output}: {e.strerror or e}")
    for path in written:
        print(path)
    _note_target_scaling(args.weights)
    return EXIT_OK


def _note_target_scaling(weights: str | None) -> None:
    """Say on stderr that the exported network predicts a standardized target (`standardize
    target`), and how to turn its outputs back into the target's units."""
    from .runtime import checkpoint
    scaling = checkpoint.data_facts(weights)["target_scaling"] if weights else None
    if scaling is not None:
        mean = ", ".join(f"{v:.6g}" for v in scaling["mean"])
        std = ", ".join(f"{v:.6g}" for v in scaling["std"])
        print(f"netc: these weights predict the standardized target (standardize target): multiply "
              f"the outputs by the std ({std}) and add the mean ({mean}) for the target's units",
              file=sys.stderr)


def folded(net, model):
    """The network and model with every batchnorm right after a dense or conv folded into that
    layer (compiler/fold.py, runtime/fold.py): the same evaluation output, no batch norm left."""
    from .compiler.fold import fold_network
    from .runtime.fold import fold_model
    net, pairs = fold_network(net)
    return net, fold_model(model, lower(net, loss=model.plan.loss), pairs)


def write_torch(net, model, folder: Path) -> list[Path]:
    """Write model.py, weights.safetensors and README.md for `model` (a netc Model of `net`) into
    `folder`; returns the paths written. FormMissing for an op without a PyTorch form."""
    from safetensors.numpy import save_file
    plan = model.plan
    source = module_source(plan, net.name, Path(net.source.name).name, net.input_width, net.output_width)
    tensors = to_torch_state(state_names(plan), model.state_dict())
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "model.py", folder / "weights.safetensors", folder / "README.md"]
    paths[0].write_text(source)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(paths[1]),
              metadata={"netc_model": net.name, "dtype": model.dtype.name})
    paths[2].write_text(_readme(net, model, class_name(net.name)))
    return paths


def write_onnx(net, model, path: Path) -> list[Path]:
    """Write the evaluation-mode network with `model`'s weights to `path` (opset 17, checked)."""
    import onnx
    from .runtime.onnxnet import onnx_model
    proto = onnx_model(model.plan, model.state, net.name, model.dtype)
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))
    return [path]


def _readme(net, model, cls: str) -> str:
    loss = model.plan.loss
    return f"""# {net.name}, exported from {Path(net.source.name).name} by `netc export --to torch`

`model.py` is a standalone PyTorch module (it imports only torch): the class `{cls}`, one
attribute per netc node, `forward` in the graph's order with each line's .net line in a comment,
and `loss(output, target)`: netc's `loss {loss}`. `weights.safetensors` holds netc's weights
({model.dtype.name}; the seed's initial ones, or the checkpoint's when exported with --weights).

```python
import torch
from safetensors.torch import load_file   # pip install safetensors
from model import {cls}, loss

model = {cls}()
model.load_state_dict(load_file("weights.safetensors"), strict=True)
model.eval()                              # evaluation mode: running statistics, no dropout
logits = model(torch.randn(8, {net.input_width}))     # (batch, {net.input_width}) -> (batch, {net.output_width})
```

For training, `model.train()` and any optimizer; `loss(model(x), y)` is netc's loss. The module
is float32 as constructed: call `model.double()` before loading float64 weights. Without the
weights file, `{cls}()` draws netc's initializations with torch's generator (the same
distributions, other numbers).
"""
