"""`netc export`: the op table's forms, the generated PyTorch module against netc (forward in both
modes with netc's dropout masks, every gradient, batch-norm statistics after SGD steps; float64,
1e-6 relative), the ONNX model under onnxruntime against netc's evaluation output (float32, 1e-5
relative), and the command's errors (an op without a form, a missing extra)."""
from __future__ import annotations

import ast
import importlib.util
import sys

import numpy as np
import pytest
from conftest import require

torch = require("torch")
onnx = require("onnx")
ort = require("onnxruntime")
load_file = require("safetensors.torch").load_file

import netc  # noqa: E402
from conftest import ALL_EXAMPLES, EXAMPLES  # noqa: E402
from netc import cli  # noqa: E402
from netc.compiler.lower import lower  # noqa: E402
from netc.export import write_onnx, write_torch  # noqa: E402
from netc.runtime.losses import LOSSES  # noqa: E402
from netc.runtime.model import Model  # noqa: E402
from netc.runtime.ops import KERNELS, Kernel  # noqa: E402
from netc.runtime.optim import SGD  # noqa: E402
from netc.runtime.torchnet.build import SharedMask  # noqa: E402
from netc.runtime.torchnet.codegen import class_name, identifiers, state_names, torch_forms  # noqa: E402
from test_parity_torch import EVERY_OP  # noqa: E402

RTOL64, RTOL32, FLOOR = 1e-6, 1e-5, 1e-9
# the parity tests' network, with softmax (elsewhere only in a lint example), hardtanh and softsign
EVERY_OP_EXPORT = EVERY_OP.replace("    gelu\n", "    gelu\n    softmax\n    hardtanh min_val=-0.5 max_val=2\n    softsign\n", 1)


# Examples wider than this are left out: the init_* experiments (six 4096-wide layers, 100
# million float64 weights) take minutes per test on two shared cores and hold only ops (dense,
# tanh, relu) that the other networks cover; test_initializations covers their init schemes.
MAX_WIDTH = 1024


def _distinct_examples():
    """The examples up to MAX_WIDTH, less those whose network equals an earlier one's up to
    `init=`/`std=`."""
    seen, out = set(), []
    for path in ALL_EXAMPLES:
        net = netc.load(path)
        steps = lower(net).steps
        shape = tuple((s.op, s.kernel.in_widths, s.inputs, tuple(sorted(
            (k, repr(v)) for k, v in s.kernel.attrs.items() if k not in ("init", "std"))))
            for s in steps)
        if max(s.kernel.out_width for s in steps) > MAX_WIDTH:
            continue
        if shape not in seen:
            seen.add(shape)
            out.append(pytest.param(path, id=str(path.relative_to(EXAMPLES))))
    return out


# Every image op, in the forms that differ in PyTorch or ONNX: even and odd kernels, pad=same (the
# even one padded unevenly), an integer and valid, stride 2, with and without bias; norms affine
# and not, batchnorm stats=average; both dropout2d modes; add and concat of images (globalpool's
# avg kind: examples/norms.net). The digits seen as 1x8x8 images feed them.
EVERY_IMAGE_OP = """
data { source digits; standardize }
model every_image_op {
    input 1 8 8
    conv 4 size=2 bias=false
    batchnorm
    prelu
    conv 6 stride=2 pad=1 init=xavier as down
    layernorm
    leaky_relu
    conv 6 size=1 pad=valid
    instancenorm
    dropout2d 0.25
    add down
    groupnorm 3
    dropout 0.1
    concat down
    maxpool 2 stride=1
    avgpool 2 stride=1
    tanh
    globalpool kind=max
    dense 10
}
"""
IMAGE_VARIANTS = """
data { source digits; standardize }
# the first conv keeps 8x8 so that the avgpool below sees 4x4: on 2x2 its one window would be
# the mean of an instance-normalized map, exactly 0, and the output nothing but round-off
model image_variants {
    input 1 8 8
    conv 4
    batchnorm stats=average affine=false
    relu
    conv 4 size=4 stride=2 bias=false
    layernorm affine=false
    instancenorm affine=false
    groupnorm 2 affine=false
    dropout2d 0.3 mode=vanilla
    avgpool 2 stride=1
    flatten
    dense 10
}
"""
IMAGE_NETWORKS = {"every_image_op": EVERY_IMAGE_OP, "image_variants": IMAGE_VARIANTS}
NETWORKS = _distinct_examples() + [pytest.param(n, id=n) for n in ("every_op", *IMAGE_NETWORKS)]


def close(a, b, what, rtol=RTOL64, floor=FLOOR):
    a = np.asarray(a, np.float64)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b, np.float64)
    assert a.shape == b.shape, f"{what}: shapes {a.shape} and {b.shape}"
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), floor)
    err = np.abs(a - b).max(initial=0.0) / scale
    assert err < rtol, f"{what}: relative error {err:.2e}"


def load(name):
    if name in IMAGE_NETWORKS:
        return netc.loads(IMAGE_NETWORKS[name], name=f"{name}.net")
    return netc.loads(EVERY_OP_EXPORT, name="every_op.net") if name == "every_op" else netc.load(name)


def examples(net):
    """(training inputs, validation inputs or None) of the network's data; a file without a data
    section (lints/bce_width.net) gets 64 standard normal examples of its input's width."""
    if net.dataset is None:
        return np.random.default_rng(3).standard_normal((64, net.input_width)), None
    return net.dataset.x_train, net.dataset.x_val


def targets(plan, n, rng):
    """Valid targets for the plan's loss and output width (the examples' own labels may not fit
    on purpose: the lint examples)."""
    width = plan.steps[-1].kernel.out_width
    if plan.loss in ("cross_entropy", "hinge"):
        return rng.integers(0, width, n)
    if plan.loss == "bce":
        return rng.integers(0, 2, (n, width)).astype(np.float64)
    return rng.standard_normal((n, width))


def import_model(folder, tag):
    spec = importlib.util.spec_from_file_location(f"netc_exported_{tag}", folder / "model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def exported(net, model, folder, tag):
    """The exported module (loaded strictly from its files), its loss and the netc <-> torch names."""
    write_torch(net, model, folder)
    mod = import_model(folder, tag)
    module = getattr(mod, class_name(net.name))().to(torch.float64)
    module.load_state_dict(load_file(folder / "weights.safetensors"), strict=True)
    return module, mod.loss


def test_every_op_has_its_forms_or_says_why():
    """Adding an op without a PyTorch and an ONNX form (or a documented reason) fails here."""
    for op, cls in KERNELS.items():
        assert cls.torch_form is not Kernel.torch_form or cls.no_torch_reason, f"{op}: no PyTorch form"
        assert cls.onnx_form is not Kernel.onnx_form or cls.no_onnx_reason, f"{op}: no ONNX form"
    for name, cls in LOSSES.items():
        assert cls.torch_code, f"loss {name}: no PyTorch form"


def test_every_op_network_uses_every_op():
    """every_op holds every op on vectors; the two image networks every op on images."""
    used = {s.op for name in ("every_op", *IMAGE_NETWORKS) for s in lower(load(name)).steps}
    assert used == set(KERNELS)
    images = {s.op for name in IMAGE_NETWORKS for s in lower(load(name)).steps
              if s.inputs and len(s.kernel.in_shapes[0]) == 3}
    # every op that takes an image somewhere in the language is exported on an image
    assert {"batchnorm", "layernorm", "dropout", "prelu", "add", "concat", "leaky_relu"} <= images


@pytest.mark.parametrize("name", [p.values[0] for p in NETWORKS], ids=[p.id for p in NETWORKS])
def test_exported_module_equals_netc(name, tmp_path):
    net = load(name)
    plan = lower(net)
    model = Model(plan, seed=0, dtype=np.float64)
    tag = str(name).replace("/", "_").replace(".", "_")
    module, loss_fn = exported(net, model, tmp_path, tag)
    hooked = {}
    for step, form, ident in zip(plan.steps, torch_forms(plan), identifiers(plan)):
        if step.kernel.stochastic:  # netc's own masks, drawn from the same generator in the same order
            setattr(module, ident, SharedMask(step.kernel, getattr(module, ident)))
        if form.module is not None:
            getattr(module, ident).register_forward_hook(
                lambda m, i, o, s=step: hooked.__setitem__(s.index, o))
    names = state_names(plan)
    tparams = dict(module.named_parameters())
    tbuffers = dict(module.named_buffers())
    opt = torch.optim.SGD(module.parameters(), lr=0.05)
    sgd = SGD(momentum=0.0, nesterov=False)
    rng, batch = np.random.default_rng(1), 16
    x_all, x_val = examples(net)
    for step_no in range(3):
        x = x_all[np.arange(step_no * batch, (step_no + 1) * batch) % len(x_all)]
        y = targets(plan, len(x), rng)
        out = model.forward(x, training=True, rng=np.random.default_rng(step_no))
        loss = model.loss(y)
        grads = model.backward()
        module.train()
        masks = np.random.default_rng(step_no)  # one generator, drawn from in graph order
        for m in module.modules():
            if isinstance(m, SharedMask):
                m.rng = masks
        tout = module(torch.tensor(x))
        tloss = loss_fn(tout, torch.tensor(y))
        opt.zero_grad()
        tloss.backward()
        close(out, tout, f"step {step_no}: training output")
        close(loss, tloss, f"step {step_no}: loss")
        for s in plan.steps:
            if s.index in hooked:
                close(model.outputs[s.index], hooked[s.index], f"step {step_no}: output of {s.name}")
        for n in names:
            if n.param:
                g = tparams[n.torch].grad
                close(grads[n.netc], g.T if n.transposed else g, f"step {step_no}: gradient of {n.netc}")
        sgd.step(model.params, grads, 0.05)
        opt.step()
    for n in names:
        t = tparams[n.torch] if n.param else tbuffers[n.torch]
        t = t.T if n.transposed else t
        if n.netc.endswith(".running_mean"):
            # in units of the feature's spread (after an earlier batchnorm it is zero up to round-off)
            spread = float(np.sqrt(model[n.netc.replace("running_mean", "running_var")].max()))
            close(model[n.netc], t, f"{n.netc} after 3 steps", floor=spread)
        else:
            close(model[n.netc], t, f"{n.netc} after 3 steps")
    x = x_val[:32] if x_val is not None else x_all[:32]
    module.eval()
    with torch.no_grad():
        tout = module(torch.tensor(x))
    close(model.forward(x, training=False), tout, "evaluation output")
    for s in plan.steps:
        if s.index in hooked:
            close(model.outputs[s.index], hooked[s.index], f"evaluation output of {s.name}")


INITS = """
model inits {
    input 300
    dense 300 init=he; dense 300 init=xavier; dense 300 init=lecun; dense 300 init=normal std=0.05
    dense 300 init=uniform; maxout 300 k=2 init=he; dense 300 init=zeros
}
train { loss mse }
"""


def test_model_py_is_standalone(tmp_path):
    net = load("every_op")
    write_torch(net, Model(lower(net), seed=0), tmp_path)
    tree = ast.parse((tmp_path / "model.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported == {"torch"}


def test_initializations(tmp_path):
    """A fresh module (no weights file) draws netc's distributions: 90,000+ draws per layer, so
    the sample std is within 2%; biases are zeros."""
    net = netc.loads(INITS, name="inits.net")
    write_torch(net, Model(lower(net), seed=0), tmp_path)
    torch.manual_seed(0)
    fresh = getattr(import_model(tmp_path, "inits"), class_name(net.name))().state_dict()
    saved = load_file(tmp_path / "weights.safetensors")
    assert set(fresh) == set(saved)
    for k, v in fresh.items():
        if k.endswith("weight"):
            if float(saved[k].std()) == 0.0:
                assert float(v.abs().max()) == 0.0, k
            else:
                assert abs(float(v.std()) / float(saved[k].std()) - 1) < 0.02, k
        else:
            assert torch.equal(v, saved[k].to(v.dtype)), k


@pytest.mark.parametrize("name", [p.values[0] for p in NETWORKS], ids=[p.id for p in NETWORKS])
def test_onnx_model_equals_netc_evaluation(name, tmp_path):
    net = load(name)
    plan = lower(net)
    model = Model(plan, seed=0)
    x_train, x_val = examples(net)
    # a few SGD steps first, so batch-norm running statistics are not the trivial 0 and 1
    rng = np.random.default_rng(2)
    for k in range(3):
        x = x_train[np.arange(k * 16, (k + 1) * 16) % len(x_train)]
        model.forward(x, training=True)
        model.loss(targets(plan, len(x), rng))
        SGD(momentum=0.0, nesterov=False).step(model.params, model.backward(), 0.05)
    path = tmp_path / "model.onnx"
    write_onnx(net, model, path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version >= 17
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == [plan.steps[0].name]
    assert [o.name for o in sess.get_outputs()] == ["output"]
    x = (x_val if x_val is not None else x_train)[:64].astype(np.float32)
    (got,) = sess.run(None, {plan.steps[0].name: x})
    want = model.forward(x, training=False)
    # NOTE: two float32 implementations differ by round-off that grows with width and depth (six
    # 4096-wide layers: ~3e-5); the bar is 1e-5 or twice netc's own float32 error against float64
    model64 = Model(plan, seed=0, dtype=np.float64)
    model64.load_state_dict(model.state_dict())
    ref = model64.forward(x.astype(np.float64), training=False)
    noise = np.abs(want - ref).max() / np.abs(ref).max()
    close(want, got, "onnxruntime output", rtol=max(RTOL32, 2 * noise))


def test_cli_export_writes_loadable_files(tmp_path, capsys):
    out = tmp_path / "digits"
    assert cli.main(["export", str(EXAMPLES / "digits.net"), "--to", "torch", "-o", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"model.py", "weights.safetensors", "README.md"}
    assert "load_state_dict" in (out / "README.md").read_text()
    assert cli.main(["export", str(EXAMPLES / "digits.net"), "--to", "onnx", "-o", str(tmp_path / "d.onnx")]) == 0
    onnx.checker.check_model(onnx.load(str(tmp_path / "d.onnx")))


def test_cli_export_of_checkpoint_weights(tmp_path):
    ckpt = tmp_path / "run.npz"
    path = str(EXAMPLES / "breast_cancer.net")
    assert cli.main(["run", path, "--epochs", "2", "--quiet", "--save", str(ckpt)]) == 0
    assert cli.main(["export", path, "--to", "torch", "-o", str(tmp_path / "out"), "--weights", str(ckpt)]) == 0
    from netc.prepare import build_model
    net = netc.load(path)
    saved = build_model(net, net.train, np.float32, str(ckpt)).state_dict()
    tensors = load_file(tmp_path / "out" / "weights.safetensors")
    for n in state_names(lower(net)):
        t = tensors[n.torch].numpy()
        np.testing.assert_array_equal(t.T if n.transposed else t, saved[n.netc])


def test_op_without_a_form_is_a_located_error(tmp_path, monkeypatch, capsys):
    softmax = KERNELS["softmax"]
    monkeypatch.setattr(softmax, "onnx_form", Kernel.onnx_form)
    monkeypatch.setattr(softmax, "no_onnx_reason", "for the test")
    f = tmp_path / "s.net"
    f.write_text("model s {\n    input 4\n    dense 3\n    softmax\n}\ntrain { loss mse }\n")
    assert cli.main(["export", str(f), "--to", "onnx", "-o", str(tmp_path / "s.onnx")]) == 2
    err = capsys.readouterr().err
    assert f"{f}:4:5: error: softmax has no faithful ONNX form: for the test" in err
    assert not (tmp_path / "s.onnx").exists()


@pytest.mark.parametrize("target, module, extra", [("onnx", "onnx", "onnx"), ("torch", "safetensors", "torch")])
def test_missing_extra_names_the_pip_command(target, module, extra, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    monkeypatch.setitem(sys.modules, f"{module}.numpy", None)
    code = cli.main(["export", str(EXAMPLES / "digits.net"), "--to", target, "-o", str(tmp_path / "x")])
    assert code == 2
    assert f"pip install 'netc[{extra}]'" in capsys.readouterr().err
