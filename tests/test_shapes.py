"""Per-example shapes: (D,) vectors and (C, H, W) images through the compiler, the renderings, the
runtime and the statistics."""
from __future__ import annotations

import numpy as np
import pytest

import netc
from conftest import one_error
from netc.runtime.ops import KERNELS
from netc.runtime.stats import activation_stats, channel_moments, instance_moments

IMAGE_NET = """
model m {
    input 1 8 8
    relu as a
    tanh
    add a
    concat a
}
"""


def test_image_input_shapes_through_elementwise_add_and_concat():
    net = netc.loads(IMAGE_NET)
    g = net.graph
    assert g.nodes["input"]["shape"] == (None, 1, 8, 8)
    assert g.nodes["add1"]["shape"] == (None, 1, 8, 8)
    assert g.nodes["concat1"]["shape"] == (None, 2, 8, 8)  # concat joins channels
    assert net.input_shape == (1, 8, 8) and net.input_width == 64
    assert net.output_shape == (2, 8, 8)


def test_vector_shapes_unchanged():
    net = netc.loads("model m { input 5; dense 3; relu }")
    assert [net.graph.nodes[n]["shape"] for n in net.order] == [(None, 5), (None, 3), (None, 3)]
    assert net.input_shape == (5,) and net.input_width == 5 and net.output_width == 3


def test_renderings_print_image_shapes():
    from netc.compiler.render import shape_text, summary_table, text_tree, to_dot
    net = netc.loads(IMAGE_NET)
    assert shape_text((None, 16, 8, 8)) == "(B, 16x8x8)" and shape_text((None, 128)) == "(B, 128)"
    assert "(B, 2x8x8)" in summary_table(net)
    assert "(B, 1x8x8)" in text_tree(net) and "(B, 1x8x8)" in to_dot(net)


def test_runtime_reshapes_flat_rows_row_major():
    net = netc.loads(IMAGE_NET)
    model = netc.Model(netc.lower(net), dtype=np.float64)
    x = np.arange(3 * 64, dtype=np.float64).reshape(3, 64) - 90
    out = model.forward(x, training=True)
    assert out.shape == (3, 2, 8, 8)
    img = x.reshape(3, 1, 8, 8)
    assert np.array_equal(model.output("input"), img)  # row-major: x[b, 8*h + w] is pixel (h, w)
    a = np.maximum(img, 0)
    np.testing.assert_allclose(out, np.concatenate([a + np.tanh(a), a], axis=1))
    # the losses take vectors, so seed the backward pass by hand
    model.grad_outputs = [None] * len(model.steps)
    model.grad_outputs[-1] = np.ones_like(out)
    for step in reversed(model.steps):
        model.backward_step(step)
    assert model.grad_output("input").shape == (3, 1, 8, 8)


def test_input_rejects_wrong_feature_count_at_run_time():
    k = KERNELS["input"]({"features": 1, "height": 8, "width": 8}, ())
    from netc.runtime.ops import Ctx, RuntimeSpecError
    assert k.forward(Ctx(), [np.zeros((2, 1, 8, 8))], {}, True, None).shape == (2, 1, 8, 8)
    with pytest.raises(RuntimeSpecError, match="1x8x8"):
        k.forward(Ctx(), [np.zeros((2, 63))], {}, True, None)


def test_input_with_two_numbers_is_an_error():
    e = one_error("model m { input 1 8 }")
    assert "one number" in e.message and e.span.line == 1


@pytest.mark.parametrize("op", ["dense 10", "maxout 10", "softmax"])
def test_vector_only_ops_on_images(op):
    e = one_error(f"model m {{\n input 1 8 8\n {op}\n}}")
    assert f"{op.split()[0]} needs a vector, but its input is an image 1x8x8" in e.message
    assert "flatten" in e.hint and e.span.line == 3


def test_add_and_concat_of_images_must_agree():
    e = one_error("model m {\n input 2 8 8\n relu as a\n concat a\n add a\n}")
    assert "add needs equal shapes" in e.message and "4x8x8" in e.message and "2x8x8" in e.message
    assert e.span.line == 5


def test_data_width_against_image_input():
    e = one_error("data { source digits }\nmodel m {\n input 1 28 28\n}", check_data=True)
    assert "64 features per example" in e.message and "1x28x28 needs 784" in e.message
    assert "input 1 8 8" in e.hint and e.span.line == 3


def test_channel_statistics():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5)) * np.array([1.0, 2.0, 3.0])[:, None, None] + 1.0
    a = activation_stats(x)
    cm, cv = channel_moments(x)
    np.testing.assert_allclose(a.channel_mean, x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(a.channel_var, x.var(axis=(0, 2, 3)))
    np.testing.assert_allclose(cm, a.channel_mean)
    assert a.maps.shape == (3, 5, 5) and np.array_equal(a.maps, x[0].astype(np.float32))
    im, iv = instance_moments(x)
    assert im.shape == (4, 3) and np.allclose(iv[1, 2], x[1, 2].var())
    assert activation_stats(x[:, :, 0, 0]).channel_mean is None  # vectors have no channels
