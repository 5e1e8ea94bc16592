"""The all-layers overview and the node flags (runtime/overview.py), on the course's examples:
init_tanh_small collapses, init_tanh_large saturates, dead_relu kills its second ReLU, digits is
healthy. Figures come from the stepper's snapshots, as the debugger shows them."""
from __future__ import annotations

import numpy as np
import pytest

from netc.runtime.overview import (COLLAPSE, DEAD_UNITS, EXPLODING, FLAGS, SATURATED, dead_fraction,
                                   overview, rebin)
from netc.runtime.stats import activation_stats, histogram
from netc.tui.session import open_session

from conftest import EXAMPLES


def stepped(name: str, iterations: int = 1, **kw):
    """A session run to the update of `iterations` iterations, and its overview."""
    s = open_session(str(EXAMPLES / name), **kw)
    while True:
        snap = s.step()
        if snap is None or (snap.phase == "update" and snap.iteration + 1 >= iterations):
            return s, s.overview()


def by_node(ov):
    return {r.node: r for r in ov.rows}


def test_init_tanh_small_collapses_layer_by_layer():
    s, ov = stepped("init_tanh_small.net")
    rows = by_node(ov)
    stds = [rows[f"tanh{i}"].std for i in range(1, 7)]
    assert all(a > b for a, b in zip(stds, stds[1:]))           # shrinks layer by layer
    flagged = [i for i in range(1, 7) if "collapsed" in rows[f"tanh{i}"].flags]
    # collapsed exactly where the std fell below a tenth of the network input's
    assert flagged == [i for i in range(1, 7) if rows[f"tanh{i}"].std < COLLAPSE * rows["input"].std]
    assert flagged and 1 not in flagged
    assert not any("saturated" in r.flags for r in ov.rows)
    assert ov.bar(rows["tanh6"]) < 0.1 * ov.bar(rows["dense1"])  # one scale for every bar


def test_init_tanh_large_saturates_in_every_layer():
    s, ov = stepped("init_tanh_large.net")
    rows = by_node(ov)
    for i in range(1, 7):
        r = rows[f"tanh{i}"]
        assert r.saturated_frac > SATURATED and "saturated" in r.flags
        assert "collapsed" not in r.flags
    # layers with parameters have no saturation range: no fraction, no flag
    assert rows["dense1"].saturated_frac is None and "saturated" not in rows["dense1"].flags
    assert rows["dense1"].update_ratio is not None and rows["tanh1"].update_ratio is None


def test_dead_relu_is_flagged_where_it_dies():
    s, ov = stepped("dead_relu.net", iterations=30)
    rows = by_node(ov)
    assert rows["relu2"].dead_frac > DEAD_UNITS and rows["relu2"].flags == ("dead",)
    assert "dead" not in rows["relu1"].flags and "dead" not in rows["dense3"].flags


def test_a_healthy_network_has_no_flags():
    s, ov = stepped("digits.net", iterations=3)
    assert all(r.flags == () for r in ov.rows), [(r.node, r.flags) for r in ov.rows]
    # dropout zeroes a fraction of the outputs, but no unit for the whole batch: not dead
    rows = by_node(ov)
    assert rows["hidden1.dropout1"].zero_frac > 0.3 and rows["hidden1.dropout1"].dead_frac < 0.05


def test_nan_and_exploding_gradient_flags():
    from netc.runtime.stats import GradientStats
    s, _ = stepped("digits.net")
    forward = {r: snap.activation for r, snap in s.latest.items() if snap.activation is not None}
    grads = dict(s.gradients)
    big = grads["hidden1.dense1"]
    grads["hidden1.dense1"] = GradientStats(big.mean, big.var, 2 * EXPLODING * grads["dense1"].norm,
                                            big.hist, True)
    forward["hidden2.relu1"] = activation_stats(np.full((4, 3), np.nan))
    rows = by_node(overview(s.steps, forward, grads, s.last_update))
    assert "exploding" in rows["hidden1.dense1"].flags
    assert rows["hidden2.relu1"].flags == ("nan",)
    assert "exploding" not in rows["hidden2.dense1"].flags


def test_dead_fraction_counts_units_zero_for_the_whole_batch():
    a = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    assert dead_fraction(activation_stats(a)) == pytest.approx(1 / 3)


def test_rebin_keeps_the_counts_and_places_them_on_the_shared_axis():
    rng = np.random.default_rng(0)
    h = histogram(rng.normal(0, 0.1, 1000))
    counts = rebin(h, -1.0, 1.0, 20)
    assert sum(counts) == pytest.approx(1000)
    assert sum(counts[8:12]) > 0.95 * 1000          # a narrow distribution sits in the middle
    assert rebin(h, None, None, 20) == ()


def test_flags_have_symbols_and_legends():
    assert set(FLAGS) == {"nan", "dead", "saturated", "collapsed", "exploding"}
    symbols = [sym for sym, _ in FLAGS.values()]
    assert len(set(symbols)) == len(symbols) and all(len(sym) == 1 for sym in symbols)
