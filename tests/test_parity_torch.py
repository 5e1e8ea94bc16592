"""Parity with PyTorch for whole networks: every example and a network using every op, built in
PyTorch with netc's initial weights; forward outputs of every node, the loss, every gradient, and
the batch-norm running statistics after several SGD steps, in training and evaluation mode, to
1e-6 relative in float64. Dropout masks are shared (PyTorch multiplies by netc's mask)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import require  # noqa: E402

torch = require("torch")
F = torch.nn.functional

import netc  # noqa: E402
from conftest import EXAMPLES  # noqa: E402
from netc.compiler.lower import lower  # noqa: E402
from netc.runtime.model import Model  # noqa: E402
from netc.runtime.optim import SGD  # noqa: E402

RTOL = 1e-6
# Arrays that are zero in exact arithmetic (the gradient of a dense bias right before batchnorm)
# hold only round-off in both libraries: below this scale they are compared absolutely.
FLOOR = 1e-9

EVERY_OP = """
data { source blobs n=64 classes=3 }
model every_op {
    input 2
    dense 6 as a
    maxout 6 k=3
    relu; sigmoid; tanh; selu; mish
    leaky_relu slope=0.1
    elu alpha=0.7
    gelu
    gelu approx=none
    swish
    softplus beta=2
    prelu init=0.3
    batchnorm momentum=0.2
    batchnorm stats=average affine=false
    layernorm
    layernorm affine=false
    dropout 0.3
    dropout keep=0.8 mode=vanilla
    noise 0.2
    activity l1=0.01 l2=0.05
    dense 6 init=xavier
    add a
    concat a
    dense 3 init=lecun
}
train { loss cross_entropy }
"""


def close(a, b, what, floor=FLOOR):
    a = np.asarray(a, np.float64)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b, np.float64)
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), floor)
    err = np.abs(a - b).max(initial=0.0) / scale
    assert err < RTOL, f"{what}: relative error {err:.2e}"


class TorchTwin:
    """The plan's network in PyTorch, with the netc model's current weights and buffers."""

    def __init__(self, model: Model):
        self.model = model
        self.params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
                       for k, v in model.params.items()}
        self.bn = {}
        for s in model.steps:
            if s.op == "batchnorm":
                a = s.kernel.attrs
                bn = torch.nn.BatchNorm1d(s.kernel.in_widths[0], eps=a["eps"], affine=False,
                                          momentum=None if a["stats"] == "average" else a["momentum"],
                                          dtype=torch.float64)
                bn.running_mean.copy_(torch.tensor(model[f"{s.name}.running_mean"]))
                bn.running_var.copy_(torch.tensor(model[f"{s.name}.running_var"]))
                bn.num_batches_tracked.fill_(int(model[f"{s.name}.num_batches"]))
                self.bn[s.name] = bn

    def forward(self, x, training: bool):
        outs = []
        for s in self.model.steps:
            xs = [torch.tensor(x)] if not s.inputs else [outs[j] for j in s.inputs]
            outs.append(self.op(s, xs, training))
        return outs

    def op(self, s, xs, training):
        a, x, P = s.kernel.attrs, xs[0], (lambda k: self.params.get(f"{s.name}.{k}"))
        if s.op == "input":
            return x
        if s.op == "dense":
            return x @ P("W") + (P("b") if a["bias"] else 0)
        if s.op == "maxout":
            return (torch.einsum("bd,kdn->kbn", x, P("W")) + P("b")[:, None, :]).max(dim=0).values
        if s.op == "batchnorm":
            self.bn[s.name].train(training)
            y = self.bn[s.name](x)
            return y * P("gamma") + P("beta") if a["affine"] else y
        if s.op == "layernorm":
            return F.layer_norm(x, (x.shape[1],), P("gamma") if a["affine"] else None,
                                P("beta") if a["affine"] else None, a["eps"])
        if s.op == "dropout":
            if training:
                mask = self.model.ctxs[s.index].mask
                return x if mask is None else x * torch.tensor(mask)
            return x if a["mode"] == "inverted" else x * (1 - a["p"])
        if s.op == "gaussian_noise":  # netc's own draws
            noise = self.model.ctxs[s.index].noise if training else None
            return x if noise is None else x + torch.tensor(noise)
        if s.op == "activity":  # the identity, whose backward adds the penalty's gradient
            if not training:
                return x
            grad = (a["l1"] * torch.sign(x) + a["l2"] * x).detach() / x.shape[0]
            y = x.view_as(x)
            y.register_hook(lambda dy: dy + grad)
            return y
        if s.op == "prelu":
            return F.prelu(x, P("slope"))
        if s.op == "add":
            return xs[0] + xs[1]
        if s.op == "concat":
            return torch.cat(xs, dim=1)
        simple = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "selu": F.selu,
                  "mish": F.mish, "swish": F.silu, "softmax": lambda t: F.softmax(t, dim=1),
                  "leaky_relu": lambda t: F.leaky_relu(t, a["slope"]), "elu": lambda t: F.elu(t, a["alpha"]),
                  "gelu": lambda t: F.gelu(t, approximate=a["approx"]),
                  "softplus": lambda t: F.softplus(t, beta=a["beta"])}
        return simple[s.op](x)

    def loss(self, out, y, kind):
        if kind == "cross_entropy":
            return F.cross_entropy(out, torch.tensor(y))
        if kind == "hinge":
            return F.multi_margin_loss(out, torch.tensor(y))
        if kind == "bce":
            return F.binary_cross_entropy_with_logits(out[:, 0], torch.tensor(y, dtype=torch.float64))
        t = torch.tensor(y, dtype=torch.float64)
        return F.mse_loss(out, t.reshape(out.shape))


def networks():
    runnable = ["digits.net", "residual.net", "blocks.net", "lints/double_softmax.net",
                "lints/bias_before_batchnorm.net", "lints/dropout_before_batchnorm.net",
                "lints/init_activation.net", "lints/feature_scale.net"]
    return [pytest.param(name, id=name) for name in runnable] + [pytest.param("every_op", id="every_op")]


def load(name):
    return netc.loads(EVERY_OP) if name == "every_op" else netc.load(EXAMPLES / name)


@pytest.mark.parametrize("name", [p.values[0] for p in networks()])
def test_parity_over_sgd_steps(name):
    net = load(name)
    ds, loss_kind = net.dataset, net.train.loss
    model = Model(lower(net), seed=0, dtype=np.float64)
    twin = TorchTwin(model)
    sgd = SGD(momentum=0.0, nesterov=False)
    opt = torch.optim.SGD(list(twin.params.values()), lr=0.05)
    batch = 16
    for step in range(3):
        x, y = ds.x_train[step * batch:(step + 1) * batch], ds.y_train[step * batch:(step + 1) * batch]
        out = model.forward(x, training=True, rng=np.random.default_rng(step))
        loss = model.loss(y)
        grads = model.backward()
        touts = twin.forward(x, training=True)
        tloss = twin.loss(touts[-1], y, loss_kind)
        opt.zero_grad()
        tloss.backward()
        close(loss, tloss, f"step {step} loss")
        for s, t in zip(model.steps, touts):
            close(model.outputs[s.index], t, f"step {step} output of {s.name}")
        for k, p in twin.params.items():
            close(grads[k], p.grad, f"step {step} gradient of {k}")
        sgd.step(model.params, grads, 0.05)
        opt.step()
    for k, p in twin.params.items():
        close(model.params[k], p, f"{k} after 3 SGD steps")
    for s in model.steps:
        if s.op == "batchnorm":
            # a running mean is measured in units of the feature's spread (after an earlier
            # batchnorm it is zero up to round-off)
            spread = float(np.sqrt(model[f"{s.name}.running_var"].max()))
            close(model[f"{s.name}.running_mean"], twin.bn[s.name].running_mean, f"{s.name}.running_mean",
                  floor=spread)
            close(model[f"{s.name}.running_var"], twin.bn[s.name].running_var, f"{s.name}.running_var")
    x = ds.x_val[:32] if ds.x_val is not None else ds.x_train[:32]
    model.forward(x, training=False)
    touts = twin.forward(x, training=False)
    for s, t in zip(model.steps, touts):
        close(model.outputs[s.index], t, f"evaluation output of {s.name}")


def test_parity_init_tanh_forward_and_gradients():
    net = netc.load(EXAMPLES / "init_tanh.net")
    model = Model(lower(net), seed=0, dtype=np.float64)
    twin = TorchTwin(model)
    x, y = net.dataset.x_train[:8], net.dataset.y_train[:8]
    model.forward(x, training=True)
    loss = model.loss(y)
    grads = model.backward()
    touts = twin.forward(x, training=True)
    tloss = twin.loss(touts[-1], y, "cross_entropy")
    tloss.backward()
    close(loss, tloss, "loss")
    for s, t in zip(model.steps, touts):
        close(model.outputs[s.index], t, f"output of {s.name}")
    for k, p in twin.params.items():
        close(grads[k], p.grad, f"gradient of {k}")
