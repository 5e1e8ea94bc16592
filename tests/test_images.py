"""Image networks end to end: the CNN examples train, gradient-check as whole networks and match
PyTorch; IDX (N, 28, 28) files train a CNN; bad image specs are located errors."""
from __future__ import annotations

import dataclasses
import gzip
import struct

import numpy as np
import pytest

import netc
from conftest import EXAMPLES, one_error
from netc.compiler.lower import lower
from netc.runtime.netcheck import TOLERANCE, check_network
from netc.runtime.train import Trainer


@pytest.mark.parametrize("name", ["digits_cnn.net", "norms.net"])
def test_cnn_example_whole_network_gradcheck(name):
    # NOTE: a max pool after a ReLU sees windows of tied zeros, where the max has no derivative
    # (finite differences there are one-sided, for every probe upstream of it), so the whole-network
    # check swaps it for an average pool; maxpool's own gradcheck (distinct inputs), the torch tie
    # test and test_cnn_step_matches_torch (the example as written) cover it.
    text = (EXAMPLES / name).read_text().replace("maxpool 2", "avgpool 2")
    net = netc.loads(text, base_dir=EXAMPLES)
    ds = net.dataset
    results = check_network(lower(net), ds.x_train[:6], ds.y_train[:6], seed=0, entries=6)
    assert results
    worst = max(results, key=lambda r: r.error)
    assert worst.error < TOLERANCE, worst


def test_digits_cnn_learns():
    """Three epochs already beat chance by far (the full run reaches 98.6%: docs/images.md)."""
    net = netc.load(EXAMPLES / "digits_cnn.net")
    model = netc.Model(lower(net), seed=0)
    trainer = Trainer(model, net.dataset, dataclasses.replace(net.train, epochs=3), shuffle=True)
    for _ in range(3):
        result = trainer.run_epoch()
    assert result.val_accuracy > 0.9


def _write_idx(path, array):
    data = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(data + array.astype(np.uint8).tobytes()))


def test_idx_28x28_trains_a_cnn(tmp_path):
    """A small MNIST-format file pair (N, 28, 28): images become (N, 1, 28, 28); two classes
    (a bright square top-left or bottom-right) are learned."""
    rng = np.random.default_rng(0)
    n = 120
    labels = rng.integers(0, 2, n)
    images = rng.integers(0, 40, (n, 28, 28))
    for i, c in enumerate(labels):
        r = 4 if c == 0 else 18
        images[i, r:r + 6, r:r + 6] = 255
    _write_idx(tmp_path / "img.gz", images)
    _write_idx(tmp_path / "lab.gz", labels)
    text = f"""
data {{
    source idx images="{tmp_path / 'img.gz'}" labels="{tmp_path / 'lab.gz'}"
    split 0.75
    minmax
}}
model m {{
    input 1 28 28
    conv 4 stride=2
    batchnorm
    relu
    maxpool 2
    flatten
    dense 2
}}
train {{ optimizer adam lr=0.01; batch 30; epochs 5; seed 0 }}
"""
    net = netc.loads(text)
    assert net.graph.nodes["conv1"]["shape"] == (None, 4, 14, 14)
    model = netc.Model(lower(net), seed=0)
    x0 = net.dataset.x_train[:2]
    model.forward(x0, training=False)
    assert model.output("input").shape == (2, 1, 28, 28)
    # row-major: pixel (h, w) of the file is feature 28*h + w
    np.testing.assert_array_equal(model.output("input")[:, 0].reshape(2, -1), x0.astype(np.float32))
    trainer = Trainer(model, net.dataset, net.train, shuffle=True)
    for _ in range(5):
        result = trainer.run_epoch()
    assert result.val_accuracy == 1.0


def test_cnn_step_matches_torch():
    """One training-mode forward and backward of the digits CNN equals PyTorch's (float64)."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    net = netc.load(EXAMPLES / "digits_cnn.net")
    model = netc.Model(lower(net), seed=0, dtype=np.float64)
    x, y = net.dataset.x_train[:16], net.dataset.y_train[:16]
    model.forward(x, training=False)  # evaluation: no dropout mask to share
    loss = model.loss(y)
    grads = model.backward()
    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    b = {k: torch.tensor(v) for k, v in model.buffers.items()}
    h = torch.tensor(x).reshape(16, 1, 8, 8)
    for i in (1, 2):
        n = f"conv_bn{i}"
        h = F.conv2d(h, p[f"{n}.conv1.W"], padding="same")
        h = F.batch_norm(h, b[f"{n}.batchnorm1.running_mean"], b[f"{n}.batchnorm1.running_var"],
                         p[f"{n}.batchnorm1.gamma"], p[f"{n}.batchnorm1.beta"], training=False)
        h = F.relu(h)
    h = torch.flatten(F.max_pool2d(h, 2), 1)
    out = h @ p["dense1.W"] + p["dense1.b"]
    tloss = F.cross_entropy(out, torch.tensor(y))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-9)
    for k, v in p.items():
        np.testing.assert_allclose(grads[k], v.grad.numpy(), rtol=1e-6, atol=1e-10, err_msg=k)


@pytest.mark.parametrize("text, fragments, line", [
    ("data { source digits }\nmodel m {\n input 1 28 28\n}", ["64 features per example", "needs 784"], 3),
    ("model m {\n input 1 8 8\n conv 4 size=9 pad=valid\n}", ["conv1:", "9x9", "1x8x8", "0x0"], 3),
    ("model m {\n input 1 8 8\n maxpool 3\n maxpool 3\n}", ["maxpool2:", "1x2x2", "0x0"], 4),
    ("model m {\n input 16 8 8\n groupnorm 3\n}", ["groupnorm 3 on 16 channels"], 3),
    ("model m {\n input 1 8 8\n dense 10\n}", ["dense needs a vector", "1x8x8"], 3),
    ("model m {\n input 64\n flatten\n}", ["flatten needs an image"], 3),
    ("model m {\n input 2 8 8 as a\n maxpool 2\n concat a\n}", ["height and width must match", "2x4x4",
                                                                 "2x8x8"], 4),
])
def test_bad_image_specs_are_located_errors(text, fragments, line):
    e = one_error(text, check_data=True)
    for f in fragments:
        assert f in e.message, (f, e.message)
    assert e.span.line == line


def test_conv_bias_before_batchnorm_lint():
    """The bias-before-batchnorm lint reads the op table, so it covers conv too."""
    net = netc.loads("model m {\n input 1 8 8\n conv 4\n batchnorm\n relu\n}")
    assert [(w.code, w.span.line) for w in net.warnings] == [("bias-before-batchnorm", 3)]
    assert netc.loads("model m {\n input 1 8 8\n conv 4 bias=false\n batchnorm\n}").warnings == []
