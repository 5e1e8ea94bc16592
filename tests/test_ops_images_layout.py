"""The image kernels give the same results whatever the memory layout of their inputs and however
the convolution splits the batch into chunks: channels-last arrays (what a conv returns) and
C-contiguous ones, one chunk or several (with a short last one), in float64. PyTorch parity of the
default path is tests/test_ops_images_torch.py's; these tests carry it to the other paths. Also
max pooling's NaN rule (PyTorch's CPU kernel: a window's last NaN takes the gradient) and the
scratch buffers' reuse."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import kernel_defaults, require
from netc.runtime.ops import KERNELS, Ctx
from netc.runtime.ops import conv as conv_module
from netc.runtime.ops.layout import channel_rows, column_sums
from netc.runtime.ops.scratch import scratch, untouched

B = 5
IMG = (3, 7, 6)


def make(op, overrides, shape=IMG):
    return KERNELS[op]({**kernel_defaults(op), **overrides}, (shape,))


def channels_last(a):
    """The same values as a (B, C, H, W), laid out (B, H, W, C) in memory."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def run(kernel, x, dy, state, training=True):
    ctx = Ctx()
    y = kernel.forward(ctx, [x], state, training, np.random.default_rng(0))
    (dx,), grads = kernel.backward(ctx, dy, state)
    return y, dx, grads


def assert_same(a, b):
    ya, dxa, ga = a
    yb, dxb, gb = b
    np.testing.assert_allclose(ya, yb, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dxa, dxb, rtol=1e-12, atol=1e-12)
    assert ga.keys() == gb.keys()
    for k in ga:
        np.testing.assert_allclose(ga[k], gb[k], rtol=1e-12, atol=1e-12, err_msg=k)


CONVS = [{"channels": 4}, {"channels": 4, "stride": 2}, {"channels": 3, "pad": "valid"},
         {"channels": 2, "size": 2}, {"channels": 3, "size": 5, "stride": 2, "pad": 1, "bias": False}]


@pytest.mark.parametrize("attrs", CONVS)
def test_conv_same_in_any_layout_and_any_chunking(attrs, monkeypatch):
    kernel = make("conv", attrs)
    rng = np.random.default_rng(1)
    state = {k: v + rng.standard_normal(v.shape) for k, v in kernel.init_state(rng, np.float64).items()}
    x = rng.standard_normal((B,) + IMG)
    dy = rng.standard_normal((B,) + kernel.out_shape)
    whole = run(kernel, x, dy, state)
    assert_same(whole, run(kernel, channels_last(x), channels_last(dy), state))
    n, oh, ow = kernel.out_shape
    per_example = oh * ow * attrs.get("size", 3) ** 2 * IMG[0] * 8
    for examples in (1, 2):  # 5 examples in chunks of 1, and of 2 (the last one short)
        monkeypatch.setattr(conv_module, "_CHUNK_BYTES", examples * per_example)
        assert kernel._chunks(B, 8)[0] == examples
        assert_same(whole, run(kernel, x, channels_last(dy), state))


@pytest.mark.parametrize("attrs", [{"channels": 3}, {"channels": 2, "pad": "valid", "bias": False},
                                   {"channels": 2, "size": 2}, {"channels": 2, "pad": 2}])
def test_conv_input_gradient_same_by_rows_and_by_offsets(attrs, monkeypatch):
    """Images wide next to their padding take the contiguous-rows col2im (stride 1); it gives
    what the strided per-offset adds give, in one chunk or several."""
    shape = (2, 9, 20)
    kernel = make("conv", attrs, shape)
    before, after = conv_module.padding(kernel.attrs["pad"], kernel.attrs["size"])
    assert kernel._rows_col2im((B, 9 + before + after, 20 + before + after, 2))
    rng = np.random.default_rng(5)
    state = {k: v + rng.standard_normal(v.shape) for k, v in kernel.init_state(rng, np.float64).items()}
    x = rng.standard_normal((B,) + shape)
    dy = rng.standard_normal((B,) + kernel.out_shape)
    by_rows = run(kernel, x, dy, state)
    monkeypatch.setattr(conv_module, "_CHUNK_BYTES", 1)  # one example per chunk
    assert_same(by_rows, run(kernel, x, dy, state))
    monkeypatch.setattr(type(kernel), "_rows_col2im", lambda self, xp_shape: False)
    assert_same(by_rows, run(kernel, x, dy, state))


def test_conv_backward_reuses_forward_patches_only_while_untouched():
    """A batch in one chunk leaves its patches in the shared buffer; backward uses them only if no
    conv has used the buffer since, and gets the same gradients either way."""
    kernel, other = make("conv", {"channels": 3}), make("conv", {"channels": 2}, (2, 5, 5))
    rng = np.random.default_rng(6)
    state = {k: v + rng.standard_normal(v.shape) for k, v in kernel.init_state(rng, np.float64).items()}
    x = rng.standard_normal((B,) + IMG)
    dy = rng.standard_normal((B,) + kernel.out_shape)
    results = []
    for interleave in (False, True):
        ctx = Ctx()
        kernel.forward(ctx, [x], state, True, rng)
        assert ctx.patches is not None
        if interleave:  # another conv overwrites the buffer with its own patches
            other.forward(Ctx(), [rng.standard_normal((B, 2, 5, 5))],
                          other.init_state(rng, np.float64), True, rng)
        (dx,), grads = kernel.backward(ctx, dy, state)
        results.append((dx, grads))
    (dx0, g0), (dx1, g1) = results
    np.testing.assert_allclose(dx0, dx1, rtol=1e-12, atol=1e-12)
    for k in g0:
        np.testing.assert_allclose(g0[k], g1[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_conv_output_is_channels_last():
    """What the ops after a conv rely on for speed: its output is a view of (B, Ho, Wo, N) memory."""
    kernel = make("conv", {"channels": 4})
    rng = np.random.default_rng(0)
    y = kernel.forward(Ctx(), [rng.standard_normal((B,) + IMG)], kernel.init_state(rng, np.float64),
                       True, rng)
    assert channel_rows(y) is not None and channel_rows(np.ascontiguousarray(y)) is None


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_same_on_channels_last_images(training):
    kernel = make("batchnorm", {})
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B,) + IMG) * 3 + 1
    dy = rng.standard_normal(x.shape)
    gamma, beta, mean = (rng.standard_normal(IMG[0]) for _ in range(3))
    states = []
    results = []
    for xi, dyi in ((x, dy), (channels_last(x), channels_last(dy))):
        state = kernel.init_state(rng, np.float64)
        state["gamma"][...], state["beta"][...], state["running_mean"][...] = gamma, beta, mean
        results.append(run(kernel, xi, dyi, state, training))
        states.append(state)
    assert_same(*results)
    for k in states[0]:
        np.testing.assert_allclose(states[0][k], states[1][k], rtol=1e-12, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("op", ["maxpool", "avgpool"])
@pytest.mark.parametrize("size, stride", [(2, 2), (3, 2), (2, 1)])
def test_pooling_same_in_any_layout_and_keeps_it(op, size, stride):
    kernel = make(op, {"size": size, "stride": stride})
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, (B,) + IMG).astype(np.float64)  # ties
    dy = rng.standard_normal((B,) + kernel.out_shape)
    plain = run(kernel, x, dy, {})
    last = run(kernel, channels_last(x), channels_last(dy), {})
    assert_same(plain, last)
    assert channel_rows(last[0]) is not None and channel_rows(last[1]) is not None


def test_max_pool_nan_window_sends_its_gradient_to_the_last_nan():
    torch = require("torch")
    kernel = make("maxpool", {"size": 2}, (1, 4, 4))
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = x[0, 0, 1, 0] = np.nan      # two NaNs in the first window
    x[0, 0, 0, 3] = np.nan                        # one NaN, not the window's maximum position
    dy = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    y, dx, _ = run(kernel, x, dy, {})
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, 2)
    ty.backward(torch.tensor(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())  # NaN where torch has NaN
    np.testing.assert_array_equal(dx, tx.grad.numpy())
    assert dx[0, 0, 1, 0] == 1.0 and dx[0, 0, 0, 0] == 0.0


def test_column_sums_on_tall_and_wide_matrices():
    rng = np.random.default_rng(4)
    for shape in ((4000, 3), (3, 4000), (1, 1)):
        m = rng.standard_normal(shape)
        np.testing.assert_allclose(column_sums(m), m.sum(axis=0), rtol=1e-12, atol=1e-12)


def test_scratch_reuses_memory_by_name():
    token = object()
    a = scratch("test.a", (10, 3), np.float32, token)
    assert np.shares_memory(untouched("test.a", token, (10, 3), np.float32), a)
    assert untouched("test.a", object(), (10, 3), np.float32) is None
    b = scratch("test.a", (2, 4), np.float32)
    c = scratch("test.b", (2, 4), np.float32)
    assert np.shares_memory(a, b) and not np.shares_memory(b, c)
    assert b.shape == (2, 4) and b.dtype == np.float32 and b.flags.c_contiguous
    big = scratch("test.a", (100, 100), np.float64)  # grows
    assert big.shape == (100, 100) and not np.shares_memory(big, a)
