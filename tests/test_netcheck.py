"""The sampled gradient check (runtime/netcheck.py, `netc gradcheck`): it passes right backwards
and catches wrong ones -- including errors confined to one entry or one row of a big weight,
which a sample of entries alone would almost never hit (docs/gradcheck.md explains why the
random direction and the largest entries catch them)."""
from __future__ import annotations

import numpy as np
import pytest

import netc
from netc.compiler.lower import lower
from netc.runtime.netcheck import (ENTRIES, TOLERANCE, check_network, pick_entries, probe_array,
                                   perturbing, random_direction)
from netc.runtime.ops.activations import ReLU
from netc.runtime.ops.linear import Dense


def deep_relu(width: int, layers: int = 3) -> netc.Network:
    """`layers` x (dense width, relu), then a dense 10 head: the sampled check's test network."""
    body = "\n".join("    dense %d init=he bias=false\n    relu" % width for _ in range(layers))
    return netc.loads(f"data {{ source gaussian n=8 features={width} classes=10 }}\n"
                      f"model m {{\n    input {width}\n{body}\n    dense 10\n}}\n"
                      "train { loss cross_entropy; batch 8; seed 0 }\n", name="deep.net")


def run(net, seed=0, plan=None, **kw):
    ds = net.dataset
    plan = plan or lower(net)
    return {r.name: r for r in check_network(plan, ds.x_train[:8], ds.y_train[:8], seed=seed, **kw)}


def typical_entry(g: np.ndarray) -> tuple[int, ...]:
    """An entry of median magnitude: never among the largest, almost never a random pick."""
    flat = np.abs(g).ravel()
    return np.unravel_index(int(np.argsort(flat)[flat.size // 2]), g.shape)


def break_dense(monkeypatch, net, layer: str, damage):
    """A plan of `net` whose dense node `layer` returns a weight gradient with `damage(dW)`
    applied (Dense.backward patched for that node's kernel only)."""
    plan = lower(net)
    target = plan.steps[plan.index(layer)].kernel
    original = Dense.backward

    def wrong(self, ctx, dy, state):
        dxs, grads = original(self, ctx, dy, state)
        if self is target:
            grads = {**grads, "W": grads["W"].copy()}
            damage(grads["W"])
        return dxs, grads
    monkeypatch.setattr(Dense, "backward", wrong)
    return plan


def test_a_right_backward_passes_with_the_default_sample():
    results = run(deep_relu(256))
    assert len(results) == 5 + 6  # 4 weights and the head's bias; 6 node inputs
    assert all(r.error < TOLERANCE for r in results.values()), results
    assert results["dense1.W"].entries == ENTRIES and results["dense4.b"].entries == 10  # all 10


@pytest.mark.parametrize("seed", [0, 1])
def test_one_wrong_entry_of_a_big_weight_is_caught(monkeypatch, seed):
    # A 1024 x 1024 weight (1M entries) with one typical entry off by 5% of the gradient's root
    # mean square: the 12 sampled entries miss it (almost surely); the random direction sees at
    # least 0.05 * rms * 0.5 / (1.04 * 1024), about 20x the tolerance relative to rms.
    net = deep_relu(1024, layers=1)
    good = run(net, seed=seed)
    assert all(r.error < TOLERANCE for r in good.values())

    def damage(dW):
        dW[typical_entry(dW)] += 0.05 * np.sqrt(np.mean(dW ** 2))
    bad = run(net, seed=seed, plan=break_dense(monkeypatch, net, "dense1", damage))
    assert bad["dense1.W"].error > 5 * TOLERANCE
    assert bad["dense2.W"].error < TOLERANCE  # the check says where


@pytest.mark.parametrize("seed", [2, 3])
def test_one_wrong_row_is_caught(monkeypatch, seed):
    net = deep_relu(1024, layers=1)

    def damage(dW):
        dW[typical_entry(dW)[0]] *= 1.01  # one input unit's row, 1% off
    plan = break_dense(monkeypatch, net, "dense1", damage)
    assert run(net, seed=seed, plan=plan)["dense1.W"].error > TOLERANCE


def test_a_dominant_wrong_entry_is_among_the_largest(monkeypatch):
    net = deep_relu(256)

    def damage(dW):
        dW[typical_entry(dW)] = 5 * np.abs(dW).max()
    plan = break_dense(monkeypatch, net, "dense2", damage)
    bad = run(net, plan=plan, directions=0)  # the largest entries alone catch it
    assert bad["dense2.W"].error > 0.1


def test_a_wrong_activation_backward_shows_at_its_input(monkeypatch):
    original = ReLU.backward

    def wrong(self, ctx, dy, state):
        (dx,), grads = original(self, ctx, dy, state)
        dx = dx.copy()
        dx[0, np.flatnonzero(dx[0])[0]] *= 1.2  # one example, one unit
        return [dx], grads
    monkeypatch.setattr(ReLU, "backward", wrong)
    bad = run(deep_relu(256))
    assert bad["relu3 <- dense3"].error > 10 * TOLERANCE


def test_full_probes_every_entry():
    net = netc.loads("data { source blobs n=16 classes=3 }\nmodel m { input 2; dense 4; tanh; dense 3 }\n"
                     "train { loss cross_entropy; batch 8; seed 0 }\n")
    results = run(net, full=True)
    assert results["dense1.W"].entries == 8 and results["dense2.W"].entries == 12
    assert results["dense1.b"].entries == 4
    assert all(r.error < TOLERANCE for r in results.values())


def test_pick_entries_takes_the_largest_and_random_ones():
    g = np.random.default_rng(0).standard_normal((300, 200))
    picks = pick_entries(g, 12, np.random.default_rng(1))
    largest = np.argsort(np.abs(g).ravel())[-6:]
    assert set(largest) <= set(picks) and len(picks) == 12
    other = pick_entries(g, 12, np.random.default_rng(2))
    assert set(other) - set(largest) != set(picks) - set(largest)  # the rest are random
    assert list(pick_entries(np.ones(5), 12, np.random.default_rng(0))) == [0, 1, 2, 3, 4]


def test_random_direction_has_no_small_entries():
    v = random_direction((100, 50), np.random.default_rng(0)).astype(np.float64)
    assert abs(np.linalg.norm(v) - 1) < 1e-6
    mags = np.abs(v)  # 0.5 to 1.5 before normalizing: no entry weighs less than a third of another
    assert mags.min() > 0 and mags.max() / mags.min() <= 3.0 + 1e-4
    assert 0.4 < np.mean(v > 0) < 0.6


def test_probe_array_restores_the_array_exactly():
    x = np.random.default_rng(0).standard_normal((40, 30))
    before = x.copy()
    target = np.random.default_rng(1).standard_normal(x.shape)
    f = lambda: float(np.sum(np.sin(x) * target))  # noqa: E731
    check = probe_array(np.cos(x) * target, *perturbing(x, f), np.random.default_rng(2))
    assert check.error < TOLERANCE and not check.zero
    np.testing.assert_array_equal(x, before)
    wrong = probe_array(np.cos(x) * target * 1.001, *perturbing(x, f), np.random.default_rng(2))
    assert wrong.error > 1e-4
