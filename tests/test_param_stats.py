"""`netc stats --params`: per-parameter rows (norm, sparsity, gradient, sign agreement, update
ratio), and the course's sign lesson: all-positive inputs give same-sign weight gradients."""
from __future__ import annotations

import json

import numpy as np
import pytest

from netc.runtime.stats import param_stats, sign_agreement

from conftest import EXAMPLES
from cli_runner import netc_cli


def test_sign_agreement_of_all_positive_inputs():
    rng = np.random.default_rng(0)
    delta = rng.normal(size=(1, 5))  # one example's output gradient
    x_pos = rng.uniform(0.1, 1, size=(1, 8))  # all-positive inputs (a sigmoid or ReLU layer's output)
    x_cen = rng.normal(size=(1, 8))  # centered inputs
    assert sign_agreement(x_pos.T @ delta) == 1.0  # every unit's weights move the same way
    assert sign_agreement(x_cen.T @ delta) < 0.9
    assert sign_agreement(np.array([[1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])) == pytest.approx(2 / 3)


def test_param_stats_fields():
    w = np.array([[0.0, 2.0], [0.0005, -2.0]])
    g = np.array([[1.0, 1.0], [1.0, -1.0]])
    st = param_stats("d.W", w * 0.5, g, before=w)
    assert st.norm == pytest.approx(np.linalg.norm(w * 0.5))
    assert st.near_zero == 0.5  # 0 and 0.00025
    assert st.grad_norm == pytest.approx(2.0)
    assert st.grad_sign_agreement == pytest.approx(0.75)
    assert st.update_ratio == pytest.approx(0.5)


def test_stats_params_cli():
    r = netc_cli("stats", EXAMPLES / "dead_relu.net", "--params", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    rows = {p["name"]: p for p in out["params"]}
    assert set(rows) == {"dense1.W", "dense1.b", "dense2.W", "dense2.b", "dense3.W", "dense3.b"}
    assert rows["dense1.W"]["shape"] == [64, 128]
    assert rows["dense1.b"]["near_zero"] == 1.0  # biases start at zero
    # SGD at lr 1.5: the update is lr * grad exactly
    w_norm, g_norm = rows["dense2.W"]["norm"], rows["dense2.W"]["grad_norm"]
    assert rows["dense2.W"]["update_ratio"] == pytest.approx(1.5 * g_norm / w_norm, rel=1e-4)
    assert [n["name"] for n in out["nodes"]] == ["input", "dense1", "relu1", "dense2", "relu2", "dense3"]
    r = netc_cli("stats", EXAMPLES / "dead_relu.net", "--params")
    assert "grad sign" in r.stdout and "update/w" in r.stdout
