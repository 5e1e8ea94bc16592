"""Per-channel statistics of image nodes (runtime/stats.py's channel_stats) and `netc stats
--channels`: the axes batchnorm and instancenorm normalize over, seen on examples/norms.net."""
from __future__ import annotations

import json

import numpy as np
import pytest

import netc
from netc.runtime.stats import MAP_CHANNELS, activation_stats, channel_stats

from conftest import EXAMPLES
from cli_runner import netc_cli

NORMS = EXAMPLES / "norms.net"



def test_channel_stats_by_hand():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 5, 2)) * np.array([0.5, 1.0, 2.0, 4.0])[:, None, None] + 3.0
    cs = channel_stats(x, example=2)
    for c in range(4):
        values = [x[b, c, h, w] for b in range(3) for h in range(5) for w in range(2)]
        assert cs.mean[c] == pytest.approx(np.mean(values), rel=1e-12)
        assert cs.var[c] == pytest.approx(np.var(values), rel=1e-12)
        for b in range(3):
            assert cs.example_mean[b, c] == pytest.approx(x[b, c].mean(), rel=1e-12)
            assert cs.example_var[b, c] == pytest.approx(x[b, c].var(), rel=1e-12)
    assert cs.channels == 4 and cs.maps.shape == (4, 5, 2) and np.allclose(cs.maps, x[2], rtol=1e-6)
    assert cs.map_range == pytest.approx((x[2].min(), x[2].max()), rel=1e-6)
    row = cs.table()[3]
    assert row["example_mean_min"] == pytest.approx(x[:, 3].mean(axis=(1, 2)).min())
    assert row["example_var_max"] == pytest.approx(x[:, 3].var(axis=(1, 2)).max())
    assert cs.summary()["example_var"] == pytest.approx([cs.example_var.min(), cs.example_var.max()])
    with pytest.raises(ValueError, match="B, C, H, W"):
        channel_stats(x[:, :, 0, 0])


def test_maps_keep_at_most_map_channels():
    x = np.zeros((2, MAP_CHANNELS + 5, 3, 3))
    a = activation_stats(x)
    assert a.channels.channels == MAP_CHANNELS + 5 and a.maps.shape == (MAP_CHANNELS, 3, 3)


@pytest.fixture(scope="module")
def norms_outputs():
    """norms.net's first training-mode forward pass in float64 on 64 digits."""
    net = netc.load(NORMS)
    model = netc.Model(netc.lower(net), seed=0, dtype=np.float64)
    model.forward(np.asarray(net.dataset.x_train[:64], np.float64), training=True)
    return {name: channel_stats(model.output(name)) for name in ("c1", "bn", "inorm", "ln")}


def test_batchnorm_normalizes_each_channel_over_the_batch(norms_outputs):
    bn = norms_outputs["bn"]
    np.testing.assert_allclose(bn.mean, 0, atol=1e-10)
    np.testing.assert_allclose(bn.var, 1, atol=1e-3)  # v / (v + eps)
    # ...but not each example: a channel's per-example means and variances spread
    assert np.abs(bn.example_mean).max() > 0.1
    assert np.abs(bn.example_var - 1).max() > 0.3
    assert (bn.example_mean.std(axis=0) > 0.01).all()  # instancenorm: below 1e-10


def test_instancenorm_normalizes_each_example_and_channel(norms_outputs):
    inorm = norms_outputs["inorm"]
    np.testing.assert_allclose(inorm.example_mean, 0, atol=1e-10)
    np.testing.assert_allclose(inorm.example_var, 1, atol=1e-3)
    # so each channel over the batch too (the mean of the per-example moments)
    np.testing.assert_allclose(inorm.mean, 0, atol=1e-10)
    np.testing.assert_allclose(inorm.var, 1, atol=1e-3)


def test_neither_holds_before_normalization_or_after_layernorm(norms_outputs):
    for name in ("c1", "ln"):
        cs = norms_outputs[name]
        assert np.abs(cs.mean).max() > 0.1 and np.abs(cs.example_mean).max() > 0.1, name


def test_stats_channels_table():
    r = netc_cli("stats", NORMS, "--channels", "--batch", "32")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "per channel: mean and variance over (batch, H, W)" in out
    blocks = {b.split("  ")[0]: b for b in out.split("\n\n")[1:]}
    for name in ("input", "c1", "bn", "inorm", "gn", "relu4"):
        assert name in blocks, name
    assert "globalpool1" not in blocks and "dense1" not in blocks  # vectors have no channels
    rows = [line.split() for line in blocks["bn"].splitlines()[3:]]
    assert [int(r[0]) for r in rows] == list(range(16))
    assert all(abs(float(r[1])) < 1e-4 and r[2] == "1" for r in rows)
    assert "channels: mean" in blocks["inorm"] and "per example: mean" in blocks["inorm"]


def test_stats_channels_json():
    r = netc_cli("stats", NORMS, "--channels", "--json", "--batch", "32")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["dense1"]["channels"] is None and rows["globalpool1"]["channels"] is None
    bn, inorm = rows["bn"]["channels"], rows["inorm"]["channels"]
    assert len(bn["table"]) == 16 and bn["table"][5]["channel"] == 5
    assert max(map(abs, bn["summary"]["channel_mean"])) < 1e-4
    assert bn["summary"]["channel_var"] == pytest.approx([1, 1], abs=1e-3)
    assert bn["summary"]["example_mean"][1] - bn["summary"]["example_mean"][0] > 0.2
    assert max(map(abs, inorm["summary"]["example_mean"])) < 1e-4
    assert inorm["summary"]["example_var"] == pytest.approx([1, 1], abs=1e-3)
    r = netc_cli("stats", NORMS, "--json", "--batch", "8")
    assert "channels" not in json.loads(r.stdout)[0]  # only on request


def test_stats_channels_on_vectors_is_a_located_error():
    r = netc_cli("stats", EXAMPLES / "digits.net", "--channels")
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stdout == ""
    assert "digits.net:16:5: error: --channels: no node of this network is an image" in r.stderr
    assert "input 1 8 8" in r.stderr


def test_float_noise_covers_the_rounding_of_normalized_means():
    """A batch-normalized channel's float32 mean is rounding, different per CPU: within the
    runtime's floor (shown ≈0); a real mean, or the same in float64, is far outside it."""
    from netc.runtime.stats import float_noise
    from netc.tui.fmt import short
    net = netc.load(NORMS)
    for dtype in (np.float32, np.float64):
        model = netc.Model(netc.lower(net), seed=0, dtype=dtype)
        model.forward(np.asarray(net.dataset.x_train[:64], dtype), training=True)
        bn, c1 = channel_stats(model.output("bn")), channel_stats(model.output("c1"))
        assert np.abs(bn.mean).max() <= bn.mean_noise and np.abs(bn.example_mean).max() > bn.example_mean_noise
        assert np.abs(c1.mean).min() > 100 * c1.mean_noise
        assert {short(float(m), noise=bn.mean_noise) for m in bn.mean} == {"≈0"}
    assert bn.mean_noise < 1e-12                                  # float64's floor
    x = np.full((2, 3, 4, 4), -2.0, np.float32)
    assert float_noise(x, 32) == pytest.approx(np.finfo(np.float32).eps * np.sqrt(32) * 2)
    assert float_noise(np.zeros(3, np.int64), 3) == 0.0
