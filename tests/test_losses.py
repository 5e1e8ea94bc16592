"""Losses: gradient checks, hand-computed values, stability, dtypes, predictions."""
from __future__ import annotations

import math

import numpy as np
import pytest

from netc.runtime.gradcheck import check_loss
from netc.runtime.losses import LOSSES, make_loss
from netc.runtime.ops import RuntimeSpecError

B, N = 7, 4


def make_case(name: str, rng, dtype=np.float64):
    """Outputs and targets for a loss: logits (B, N) and labels, or (B, 1) for bce."""
    if name == "bce":
        return rng.standard_normal((B, 1)).astype(dtype) * 2, rng.integers(0, 2, B).astype(float)
    if name == "mse":
        return rng.standard_normal((B, N)).astype(dtype), rng.standard_normal((B, N))
    return rng.standard_normal((B, N)).astype(dtype) * 2, rng.integers(0, N, B)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradcheck(name):
    rng = np.random.default_rng(3)
    out, target = make_case(name, rng)
    assert check_loss(make_loss(name), out, target) < 1e-6


def test_hinge_gradcheck_away_from_kinks():
    """Margins far from 0, so the check is not straddling a hinge."""
    out = np.array([[3.0, 2.5, -1.0], [0.0, 0.2, 0.4], [1.0, 1.0, 1.0]])
    y = np.array([0, 2, 1])
    assert check_loss(make_loss("hinge"), out, y) < 1e-6


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_float32_stays_float32(name):
    out, target = make_case(name, np.random.default_rng(0), np.float32)
    loss = make_loss(name)
    value = loss.forward(out, target)
    assert isinstance(value, float)
    grad = loss.backward()
    assert grad.dtype == np.float32 and grad.shape == out.shape


def test_cross_entropy_values():
    loss = make_loss("cross_entropy")
    assert loss.forward(np.zeros((1, 2)), np.array([0])) == pytest.approx(math.log(2), rel=1e-15)
    e = math.e
    expected = -math.log(e**3 / (e + e**2 + e**3))
    assert loss.forward(np.array([[1.0, 2.0, 3.0]]), np.array([2])) == pytest.approx(expected)
    # batch mean of the two
    value = loss.forward(np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]), np.array([1, 2]))
    assert value == pytest.approx((math.log(3) + expected) / 2)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_b():
    rng = np.random.default_rng(1)
    out, y = rng.standard_normal((B, N)), rng.integers(0, N, B)
    loss = make_loss("cross_entropy")
    loss.forward(out, y)
    p = np.exp(out) / np.exp(out).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss.backward(), (p - np.eye(N)[y]) / B, rtol=1e-12, atol=1e-15)


def test_cross_entropy_is_stable_for_huge_logits():
    loss = make_loss("cross_entropy")
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss.forward(np.array([[1000.0, 0.0], [-1000.0, 1000.0]]), np.array([1, 1]))
        grad = loss.backward()
    assert value == pytest.approx(500.0)
    assert np.all(np.isfinite(grad))


def test_mse_values_and_shapes():
    loss = make_loss("mse")
    out = np.array([[1.0, 2.0], [3.0, 5.0]])
    assert loss.forward(out, np.array([[0.0, 2.0], [3.0, 3.0]])) == pytest.approx((1 + 4) / 4)
    np.testing.assert_allclose(loss.backward(), [[0.5, 0.0], [0.0, 1.0]])
    # (B,) targets for a (B, 1) output are read as (B, 1), not broadcast to (B, B)
    assert loss.forward(np.array([[1.0], [2.0], [4.0]]), np.array([1.0, 0.0, 1.0])) \
        == pytest.approx((0 + 4 + 9) / 3)
    assert loss.backward().shape == (3, 1)
    with pytest.raises(RuntimeSpecError):
        loss.forward(out, np.zeros(3))


def test_bce_values_and_stability():
    loss = make_loss("bce")
    assert loss.forward(np.zeros((2, 1)), np.array([0.0, 1.0])) == pytest.approx(math.log(2))
    np.testing.assert_allclose(loss.backward(), [[0.25], [-0.25]])
    x = 1.5
    expected = -(0.3 * math.log(1 / (1 + math.exp(-x))) + 0.7 * math.log(1 - 1 / (1 + math.exp(-x))))
    assert loss.forward(np.array([[x]]), np.array([0.3])) == pytest.approx(expected)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss.forward(np.array([[1000.0], [-1000.0]]), np.array([0.0, 1.0]))
        grad = loss.backward()
    assert value == pytest.approx(1000.0)
    np.testing.assert_allclose(grad, [[0.5], [-0.5]])


def test_hinge_values():
    loss = make_loss("hinge")
    # y = 0: margins 1 - 1 + 2 = 2 and 1 - 1 + 0.5 = 0.5 -> 2.5 / 3 classes
    assert loss.forward(np.array([[1.0, 2.0, 0.5]]), np.array([0])) == pytest.approx(2.5 / 3)
    np.testing.assert_allclose(loss.backward(), [[-2 / 3, 1 / 3, 1 / 3]])
    # margins satisfied: zero loss, zero gradient
    assert loss.forward(np.array([[5.0, 1.0, 0.0]]), np.array([0])) == 0.0
    np.testing.assert_array_equal(loss.backward(), np.zeros((1, 3)))
    # only the active j count; batch mean
    out = np.array([[1.0, 2.0, 0.5], [0.0, 0.0, 3.0]])
    assert loss.forward(out, np.array([0, 2])) == pytest.approx((2.5 / 3 + 0.0) / 2)


def test_predict_and_accuracy():
    ce, hinge, bce, mse = (make_loss(n) for n in ("cross_entropy", "hinge", "bce", "mse"))
    logits = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    labels = np.array([1, 0, 0])
    for loss in (ce, hinge):
        np.testing.assert_array_equal(loss.predict(logits), [1, 0, 2])
        assert loss.accuracy(logits, labels) == pytest.approx(2 / 3)
    out = np.array([[0.3], [-2.0], [0.0], [4.0]])
    np.testing.assert_array_equal(bce.predict(out), [1, 0, 0, 1])
    assert bce.accuracy(out, np.array([1.0, 0.0, 1.0, 1.0])) == pytest.approx(0.75)
    assert not mse.classification
    np.testing.assert_array_equal(mse.predict(out), out)
    with pytest.raises(TypeError):
        mse.accuracy(out, out)


def test_bad_labels_and_names():
    ce = make_loss("cross_entropy")
    with pytest.raises(RuntimeSpecError, match="out of range"):
        ce.forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(RuntimeSpecError, match="integer"):
        make_loss("hinge").forward(np.zeros((2, 3)), np.array([0.5, 1.0]))
    # float labels holding integers are accepted
    assert ce.forward(np.zeros((2, 3)), np.array([0.0, 2.0])) == pytest.approx(math.log(3))
    with pytest.raises(ValueError, match="cross_entropy"):
        make_loss("crossentropy")


def test_mse_reads_class_labels_as_one_hot_targets():
    from netc.runtime.losses import make_loss
    from netc.runtime.ops.base import RuntimeSpecError
    rng = np.random.default_rng(0)
    out = rng.normal(size=(6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    onehot = np.eye(4)[labels]
    mse = make_loss("mse")
    assert mse.forward(out, labels) == pytest.approx(np.mean((out - onehot) ** 2), rel=1e-12)
    np.testing.assert_allclose(mse.backward(), 2 * (out - onehot) / out.size, rtol=1e-12)
    assert mse.forward(out, onehot) == pytest.approx(mse.forward(out, labels), rel=1e-15)
    with pytest.raises(RuntimeSpecError, match="class labels must be 0..3"):
        mse.forward(out, np.array([0, 4, 1, 1, 2, 0]))
