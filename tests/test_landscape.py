"""`netc landscape`: the loss grid along coordinates and filter-normalized random directions, the
course's raw-vs-standardized contours, and the L2-vs-KL convexity figure."""
from __future__ import annotations

import json

import numpy as np
import pytest

import netc
from netc.runtime import landscape as ls

from conftest import EXAMPLES, require
from cli_runner import netc_cli

NET = """
model m {
    input 4
    dense 6 as hidden
    tanh
    dense 3
}
train { loss cross_entropy }
"""


def _cli(*args):
    return netc_cli(*args)


def test_grid_along_coordinates_is_the_loss_with_those_weights_moved():
    model = netc.Model(netc.lower(netc.loads(NET)), seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    d1 = ls.coordinate_direction(model, "hidden.W[0,0]")
    d2 = ls.coordinate_direction(model, "hidden.W[3, 5]")
    before = {k: v.copy() for k, v in model.params.items()}
    grid = np.array([-0.5, 0.0, 0.7])
    land = ls.loss_grid(model, x, y, d1, d2, grid, grid)
    for k, v in model.params.items():
        np.testing.assert_array_equal(v, before[k])  # restored
    for j, b in enumerate(grid):
        for i, a in enumerate(grid):
            m2 = netc.Model(netc.lower(netc.loads(NET)), seed=0, dtype=np.float64)
            w = before["hidden.W"].copy()
            w[0, 0] += a
            w[3, 5] += b
            m2["hidden.W"] = w
            m2.forward(x, training=False)
            assert land.loss[j, i] == pytest.approx(m2.loss(y), rel=1e-12)
    assert land.center == pytest.approx(land.loss[1, 1])


def test_random_directions_are_filter_normalized():
    model = netc.Model(netc.lower(netc.loads(NET)), seed=0, dtype=np.float64)
    d = ls.random_direction(model, np.random.default_rng(1), {"hidden.W", "dense2.W"})
    for name in ("hidden.W", "dense2.W"):
        np.testing.assert_allclose(np.linalg.norm(d[name], axis=0), np.linalg.norm(model[name], axis=0))
    assert not d["hidden.b"].any() and not d["dense2.b"].any()  # biases: no component (Li et al.)


def test_bad_coordinates_are_named():
    r = _cli("landscape", EXAMPLES / "moons.net", "--params", "dense1.w[0,0]", "dense1.W[1,0]")
    assert r.returncode == 2 and "no parameter 'dense1.w'" in r.stderr and "did you mean 'dense1.W'" in r.stderr
    r = _cli("landscape", EXAMPLES / "moons.net", "--params", "dense1.W[2,0]", "dense1.W[1,0]")
    assert r.returncode == 2 and "dense1.W has shape (2, 32)" in r.stderr
    assert "Traceback" not in r.stderr


def _curvatures(path, tmp_path):
    ck = tmp_path / (path.stem + ".ckpt")
    assert _cli("run", path, "--quiet", "--save", ck, "--epochs", "60").returncode == 0
    r = _cli("landscape", path, "--weights", ck, "--params", "linear.W[0,0]", "linear.W[1,0]", "--range", "10",
             "--steps", "5", "--json")
    assert r.returncode == 0, r.stderr
    g = np.array(json.loads(r.stdout)["loss"])
    # second differences along each axis through the centre (the MSE of a linear model is quadratic)
    along_a = g[2, 0] - 2 * g[2, 2] + g[2, 4]
    along_b = g[0, 2] - 2 * g[2, 2] + g[4, 2]
    return along_a / along_b


def test_raw_inputs_give_elongated_contours_standardized_round_ones(tmp_path):
    raw = _curvatures(EXAMPLES / "landscape_raw.net", tmp_path)
    std = _curvatures(EXAMPLES / "landscape_standardized.net", tmp_path)
    assert raw > 100  # age's weight curves the loss hundreds of times more than sex's
    assert 0.5 < std < 2  # standardized: about as much in both directions


def test_logit_divergences_convexity():
    r = _cli("landscape", "--logit", "--target", "1", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert np.diff(d["kl"], 2).min() >= -1e-12  # KL convex in z
    assert np.diff(d["l2"], 2).min() < -1e-4  # L2 is not
    r = _cli("landscape", "--logit")
    assert "not convex in z" in r.stdout and "(convex in z)" in r.stdout


def test_landscape_plot(tmp_path):
    require("matplotlib")
    r = _cli("landscape", EXAMPLES / "moons.net", "--steps", "5", "--examples", "100", "--plot", tmp_path / "l.png")
    assert r.returncode == 0, r.stderr
    import matplotlib.image
    img = matplotlib.image.imread(tmp_path / "l.png")
    assert img.shape[0] > 300 and img.shape[1] > 300
