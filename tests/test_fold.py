"""Batch-norm folding (`netc graph --fold`, `netc export --fold`): an evaluation-mode batchnorm
right after a dense or conv merges into that layer's weights, and the folded network computes the
same evaluation outputs (float64, 1e-10 relative); a batchnorm anywhere else is left alone."""
from __future__ import annotations


import numpy as np
import pytest

import netc
from conftest import EXAMPLES
from netc.compiler.fold import fold_network
from netc.compiler.lower import lower
from netc.runtime.fold import fold_model
from netc.runtime.model import Model
from cli_runner import netc_cli

MLP = """
data { source blobs n=64 classes=3 }
model m {
    input 2
    dense 16 bias=false         # folds with batchnorm1 (the bias it gets is beta's)
    batchnorm
    relu
    dense 16 as h               # folds with batchnorm2, whose output 'add' reads
    batchnorm affine=false
    tanh
    dense 16
    relu
    batchnorm                   # after an activation: left alone
    add batchnorm2
    dense 16 as raw             # its raw output is also used by concat: left alone
    batchnorm stats=average
    concat raw
    dense 3
    batchnorm                   # the last node: folds too
}
train { seed 0 }
"""

CNN = """
data { source digits }
model c {
    input 1 8 8
    conv 4 bias=false
    batchnorm
    relu
    conv 3 size=1 stride=2
    batchnorm
    flatten
    dense 10
}
"""


def randomized(net, seed=0) -> Model:
    """A float64 model of `net` whose batch-norm parameters and running statistics are far from
    their initial values (so folding has something to fold), and whose biases are not zero."""
    model = Model(lower(net), seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed + 1)
    for name, v in {**model.params, **model.buffers}.items():
        key = name.rsplit(".", 1)[1]
        if key in ("gamma", "running_var"):
            v[...] = rng.uniform(0.3, 2.5, v.shape)
        elif key in ("beta", "running_mean", "b"):
            v[...] = rng.normal(0.0, 1.5, v.shape)
    return model


def fold(net, model):
    folded_net, pairs = fold_network(net)
    return folded_net, fold_model(model, lower(folded_net), pairs), pairs


def rel(a, b) -> float:
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("text, x_of", [(MLP, lambda ds: ds.x_train), (CNN, lambda ds: ds.x_train[:200])])
def test_the_folded_network_computes_the_same_outputs(text, x_of):
    net = netc.loads(text, name="f.net")
    model = randomized(net)
    folded_net, folded, pairs = fold(net, model)
    x = x_of(net.dataset).astype(np.float64)
    ours, theirs = model.forward(x, training=False), folded.forward(x, training=False)
    assert ours.shape == theirs.shape
    assert rel(ours, theirs) < 1e-10
    assert len(folded.steps) == len(model.steps) - len(pairs)


def test_only_a_batchnorm_directly_after_a_dense_or_conv_whose_output_it_alone_reads_folds():
    net = netc.loads(MLP, name="f.net")
    folded_net, pairs = fold_network(net)
    assert pairs == [("dense1", "batchnorm1"), ("h", "batchnorm2"), ("dense5", "batchnorm5")]
    left = [n for n in folded_net.order if folded_net.graph.nodes[n]["op"] == "batchnorm"]
    assert left == ["batchnorm3", "batchnorm4"]
    g = folded_net.graph
    assert g.nodes["dense1"]["attrs"]["bias"] is True and g.nodes["dense1"]["folded"] == "batchnorm1"
    assert g.nodes["add1"]["ref"] == "h"  # `add batchnorm2` now reads the folded layer
    assert g.graph["output"] == "dense5"
    cnn, cnn_pairs = fold_network(netc.loads(CNN, name="c.net"))
    assert cnn_pairs == [("conv1", "batchnorm1"), ("conv2", "batchnorm2")]


def test_a_network_without_batchnorm_is_unchanged():
    net = netc.load(EXAMPLES / "moons.net")
    folded_net, pairs = fold_network(net)
    assert pairs == [] and folded_net.order == net.order


def test_graph_fold_shows_the_folded_layers():
    r = netc_cli("graph", str(EXAMPLES / "bn_before.net"), "--fold")
    assert r.returncode == 0, r.stderr
    assert "batchnorm" not in r.stdout.replace("(+ batchnorm", "")
    assert "(+ batchnorm1 folded)" in r.stdout and "(+ batchnorm2 folded)" in r.stdout
    r = netc_cli("graph", str(EXAMPLES / "bn_after.net"), "--fold")
    assert r.returncode == 0 and r.stdout.count(": batchnorm") == 2  # after the ReLU: both stay


def test_export_fold_to_onnx_and_torch(tmp_path):
    from conftest import require
    require("onnx")
    ort = require("onnxruntime")
    torch = require("torch")
    import importlib.util
    from safetensors.torch import load_file
    f = EXAMPLES / "bn_before.net"
    r = netc_cli("export", str(f), "--to", "onnx", "--fold", "-o", str(tmp_path / "m.onnx"))
    assert r.returncode == 0, r.stderr
    import onnx
    assert "BatchNormalization" not in {n.op_type for n in onnx.load(str(tmp_path / "m.onnx")).graph.node}
    net = netc.load(f)
    model = Model(lower(net), seed=0)
    x = net.dataset.x_val[:64].astype(np.float32)
    expected = model.forward(x, training=False)
    got = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input": x})[0]
    assert rel(expected, got) < 1e-5
    r = netc_cli("export", str(f), "--to", "torch", "--fold", "--dtype", "float64", "-o", str(tmp_path / "t"))
    assert r.returncode == 0, r.stderr
    assert "BatchNorm" not in (tmp_path / "t" / "model.py").read_text()
    spec = importlib.util.spec_from_file_location("folded_model", tmp_path / "t" / "model.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    module = mod.BnBefore().double()
    module.load_state_dict(load_file(str(tmp_path / "t" / "weights.safetensors")), strict=True)
    module.eval()
    model64 = Model(lower(net), seed=0, dtype=np.float64)
    with torch.no_grad():
        out = module(torch.tensor(x.astype(np.float64))).numpy()
    assert rel(model64.forward(x.astype(np.float64), training=False), out) < 1e-10
