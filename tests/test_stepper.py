"""The debugger's stepper (no Textual): pause order and count, statistics equal to the runtime's
arrays, bounded history, exact replay, mode comparison, node gradient check; `netc stats`; and
the course's experiments as the debugger and `netc stats` show them."""
from __future__ import annotations

import json

import numpy as np
import pytest

import netc
from conftest import EXAMPLES
from netc.compiler.lower import lower
from netc.runtime.breakpoints import BreakpointError, parse_breakpoint
from netc.runtime.model import Model
from netc.runtime.stepper import Stepper
from netc.runtime.train import Trainer
from cli_runner import netc_cli


def stepper(name="digits.net", **kw):
    net = netc.load(EXAMPLES / name)
    model = Model(lower(net), seed=0)
    trainer = Trainer(model, net.dataset, net.train, shuffle=True)
    return net, model, Stepper(trainer, **kw)


def test_pause_order_and_count_for_one_iteration():
    net, model, st = stepper()
    n = len(model.steps)
    snaps = [st.next() for _ in range(2 * n + 2)]
    assert [s.phase for s in snaps] == ["forward"] * n + ["loss"] + ["backward"] * n + ["update"]
    assert [s.node for s in snaps[:n]] == net.order
    assert [s.node for s in snaps[n + 1:2 * n + 1]] == list(reversed(net.order))
    assert all(s.iteration == 0 and s.epoch == 0 for s in snaps)
    nxt = st.next()
    assert (nxt.phase, nxt.node, nxt.iteration) == ("forward", "input", 1)


def test_statistics_equal_the_runtime_arrays():
    net, model, st = stepper()
    n = len(model.steps)
    snaps = [st.next() for _ in range(2 * n + 1)]
    fwd = {s.node: s for s in snaps if s.phase == "forward"}
    bwd = {s.node: s for s in snaps if s.phase == "backward"}
    for step in model.steps:
        out = np.asarray(model.outputs[step.index], np.float64)
        a = fwd[step.name].activation
        assert a.mean == pytest.approx(out.mean(), rel=1e-12, abs=1e-15)
        assert a.var == pytest.approx(out.var(), rel=1e-12, abs=1e-15)
        assert a.zero_frac == pytest.approx((out == 0).mean())
        np.testing.assert_allclose(a.unit_mean, out.mean(axis=0), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(a.unit_var, out.var(axis=0), rtol=1e-12, atol=1e-15)
        assert sum(a.hist.counts) == out.size
        g = model.grad_outputs[step.index]
        if g is not None:
            assert bwd[step.name].gradient.norm == pytest.approx(np.linalg.norm(np.asarray(g, np.float64)), rel=1e-9)
    relu = fwd["hidden1.relu1"].activation
    assert 0.3 < relu.zero_frac < 0.7  # about half the units of a ReLU after batchnorm are zero
    assert fwd["hidden1.batchnorm1"].activation.mean == pytest.approx(0, abs=1e-5)


def test_update_snapshot_has_update_ratios():
    _, model, st = stepper()
    n = len(model.steps)
    for _ in range(2 * n + 2):
        s = st.next()
    assert s.phase == "update"
    ratios = {p.name: p.update_ratio for p in s.params}
    assert set(ratios) == set(model.params)
    assert all(r is not None and 0 < r < 1 for name, r in ratios.items() if name.endswith(".W"))


def test_history_is_bounded():
    _, model, st = stepper(history=5)
    per_iter = 2 * len(model.steps) + 2
    for _ in range(per_iter * 8):
        st.next()
    assert len(st.history["dense1"]) == 5 and len(st.losses) == 5
    assert [h.iteration for h in st.history["dense1"]] == [3, 4, 5, 6, 7]


def test_loss_curve_is_the_trailing_moving_average():
    _, model, st = stepper(history=30)
    per_iter = 2 * len(model.steps) + 2
    for _ in range(per_iter * 25):
        st.next()
    curve = st.loss_curve(window=4)
    assert curve.iterations == tuple(range(25)) and curve.window == 4
    raw = np.array(curve.raw)
    assert curve.raw == tuple(loss for _, loss in st.losses)
    expect = [raw[max(0, i - 3):i + 1].mean() for i in range(25)]
    np.testing.assert_allclose(curve.average, expect, rtol=1e-12)
    assert st.loss_curve(window=4) is curve  # unchanged losses, the same curve (the TUI skips a redraw)


def test_saved_states_respect_the_memory_budget():
    _, model, st = stepper(state_budget=1)
    per_iter = 2 * len(model.steps) + 2
    for _ in range(per_iter * 2):
        st.next()
    assert st.saved_iterations() == [] and not st.goto(0)


def test_replay_reproduces_an_iteration_exactly():
    _, model, st = stepper()
    per_iter = 2 * len(model.steps) + 2
    for _ in range(per_iter * 2):
        last = st.next()
    w = model["hidden1.dense1.W"].copy()
    rm = model["hidden1.batchnorm1.running_mean"].copy()
    for _ in range(per_iter * 3):
        st.next()
    assert st.goto(1)
    for _ in range(per_iter):
        again = st.next()
    assert again.loss == last.loss and again.iteration == 1
    assert np.array_equal(model["hidden1.dense1.W"], w)
    assert np.array_equal(model["hidden1.batchnorm1.running_mean"], rm)


def test_compare_modes_shows_where_batchnorm_and_dropout_differ():
    _, model, st = stepper()
    for _ in range(5):
        st.next()
    before = {k: v.copy() for k, v in model.buffers.items()}
    cmp = st.compare_modes()
    for k, v in model.buffers.items():
        assert np.array_equal(v, before[k])  # no state changed
    row = cmp["hidden1.dense1"]
    assert row.train.mean == pytest.approx(row.eval.mean)  # same input, same weights
    assert not row.differs and not row.source
    row = cmp["hidden1.batchnorm1"]
    assert row.train.std == pytest.approx(1.0, abs=1e-3) and abs(row.eval.std - 1.0) > 0.01
    assert row.differs and row.source  # batchnorm itself acts differently
    row = cmp["hidden1.dropout1"]
    assert row.train.zero_frac > row.eval.zero_frac
    assert row.differs and not row.source  # its input (after batchnorm) already differs
    assert [r.node for r in cmp.rows] == [s.name for s in model.steps]
    assert [r.node for r in cmp.rows if r.source] == ["hidden1.batchnorm1"]


def test_compare_modes_finds_dropout_without_batchnorm():
    net = netc.loads("data { source digits }\nmodel m {\n    input 64\n    dense 8\n    relu\n"
                     "    dropout 0.5\n    dense 10\n}\n")
    st = Stepper(Trainer(Model(lower(net), seed=0), net.dataset, net.train, shuffle=True))
    st.next()
    cmp = st.compare_modes()
    assert [r.node for r in cmp.rows if r.source] == ["dropout1"]
    assert [r.node for r in cmp.rows if r.differs] == ["dropout1", "dense2"]


def test_views_at_the_update_pause_use_that_iterations_batch_and_masks():
    _, model, st = stepper()
    per_iter = 2 * len(model.steps) + 2
    for _ in range(per_iter):
        s = st.next()
    assert s.phase == "update" and s.iteration == 0
    x, _ = st.current_batch()
    idx = st.trainer.batches(0)[0]
    assert np.array_equal(x, np.asarray(st.trainer.data.x_train[idx], np.float32))
    assert st._iteration_rng().random() == st.trainer.dropout_rng(0).random()


def test_check_node_small_errors():
    _, model, st = stepper()
    for _ in range(3):
        st.next()
    errs = st.check_node("hidden1.batchnorm1")
    assert set(errs) >= {"x0", "gamma", "beta"} and max(errs.values()) < 1e-6


def test_nan_is_flagged_at_the_node():
    net = netc.loads("data { source digits }\nmodel m {\n    input 64\n    dense 8\n    relu\n"
                     "    dense 10\n}\ntrain { optimizer sgd lr=1e30 }\n")
    model = Model(lower(net), seed=0)
    st = Stepper(Trainer(model, net.dataset, net.train, shuffle=True))
    with np.errstate(all="ignore"):
        for _ in range(200):
            s = st.next()
            if s is None or s.nonfinite:
                break
    assert s is not None and s.nonfinite
    # after the first huge update, the second iteration's forward overflows at the last dense layer
    assert (s.phase, s.node, s.iteration) == ("forward", "dense2", 1)
    assert model.steps[s.index].span.line == 6
    with np.errstate(all="ignore"):
        while s is not None and s.phase != "loss":
            s = st.next()
        assert s.nonfinite and st.next() is None and st.next() is None  # halted, not looping
        assert st.goto(0) and st.next().iteration == 0  # going back resumes


def test_breakpoints_parse_and_hit():
    nodes = ["dense1", "relu1", "dense2"]
    bp = parse_breakpoint("dense2:grad_norm>10", nodes)
    assert bp.phase == "backward" and bp.hit("dense2", "backward", {"grad_norm": 11})
    assert not bp.hit("dense2", "backward", {"grad_norm": 9}) and not bp.hit("dense2", "forward", {})
    star = parse_breakpoint("*:var<1e-8", nodes)
    assert star.phase == "forward" and star.hit("relu1", "forward", {"var": 0.0})
    assert parse_breakpoint("relu1", nodes).hit("relu1", "forward", {})
    for bad in ("nothere", "dense1:foo>1", "dense1:grad_norm>>1", ":x"):
        with pytest.raises(BreakpointError):
            parse_breakpoint(bad, nodes)


# --- netc stats and the course's experiments ---------------------------------------------------

def stats_json(*args):
    r = netc_cli("stats", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_stats_json_keys_and_values():
    rows = stats_json(EXAMPLES / "digits.net")
    keys = ["name", "op", "shape", "mean", "var", "std", "min", "max", "zero_frac", "saturated_frac",
            "grad_mean", "grad_var", "grad_norm"]
    assert all(list(r) == keys for r in rows)
    assert [r["name"] for r in rows][:2] == ["input", "hidden1.dense1"]
    bn = next(r for r in rows if r["name"] == "hidden1.batchnorm1")
    assert abs(bn["mean"]) < 1e-5 and bn["std"] == pytest.approx(1, abs=1e-3) and bn["shape"] == [64, 128]


def test_stats_table_and_modes():
    r = netc_cli("stats", str(EXAMPLES / "digits.net"), "--mode", "eval")
    assert r.returncode == 0 and r.stdout.startswith("eval mode, batch of 64")
    assert "grad norm" in r.stdout and "hidden2.dropout1" in r.stdout
    train = {x["name"]: x for x in stats_json(EXAMPLES / "digits.net", "--mode", "train")}
    evals = {x["name"]: x for x in stats_json(EXAMPLES / "digits.net", "--mode", "eval")}
    assert train["hidden1.dropout1"]["zero_frac"] > evals["hidden1.dropout1"]["zero_frac"]
    assert train["hidden1.batchnorm1"]["std"] != pytest.approx(evals["hidden1.batchnorm1"]["std"], abs=1e-3)


def layer_stds(name, op):
    return [r["std"] for r in stats_json(EXAMPLES / name) if r["op"] == op]


def test_xavier_tanh_std_shrinks_as_in_the_course():
    stds = layer_stds("init_tanh.net", "tanh")
    course = [0.63, 0.49, 0.41, 0.36, 0.32, 0.30]
    assert stds == pytest.approx(course, abs=0.03)


def test_small_init_collapses_and_large_init_saturates():
    """The std per tanh layer, and `saturated_frac`: the share of outputs in tanh's declared
    saturation range |y| >= 0.99 (a third of the units when a large init saturates tanh, none
    when a small one collapses it); None for ops without a range."""
    small = [r for r in stats_json(EXAMPLES / "init_tanh_small.net") if r["op"] == "tanh"]
    stds = [r["std"] for r in small]
    assert all(b < a for a, b in zip(stds, stds[1:])) and stds[-1] < 0.06
    assert all(r["saturated_frac"] < 1e-3 for r in small) and small[-1]["saturated_frac"] == 0.0
    large = [r for r in stats_json(EXAMPLES / "init_tanh_large.net") if r["op"] == "tanh"]
    assert min(r["std"] for r in large) > 0.8
    assert all(r["saturated_frac"] > 0.3 for r in large)  # a third of the units, layer after layer


def test_saturated_fraction_is_none_without_a_range():
    rows = stats_json(EXAMPLES / "digits.net")
    assert all(r["saturated_frac"] is None for r in rows)  # dense, batchnorm, relu, dropout


def test_he_keeps_relu_activations_level():
    stds = layer_stds("init_relu_he.net", "relu")
    assert max(stds) / min(stds) < 1.1


def test_dead_relus_show_as_zero_fraction_near_one(tmp_path):
    ck = tmp_path / "dead.ckpt"
    r = netc_cli("run", str(EXAMPLES / "dead_relu.net"), "--quiet", "--save", str(ck))
    assert r.returncode == 0, r.stderr
    rows = {x["name"]: x for x in stats_json(EXAMPLES / "dead_relu.net", "--weights", ck, "--mode", "eval")}
    assert rows["relu2"]["zero_frac"] > 0.95


def test_restart_goes_back_to_the_very_start():
    _, model, st = stepper(history=3)
    initial = model.state_dict()
    first = None
    per_iter = 2 * len(model.steps) + 2
    for i in range(per_iter * 4):
        s = st.next()
        if first is None and s.phase == "loss":
            first = s.loss
    st.restart()
    assert st.trainer.position.iteration == 0 and not st.losses
    for k, v in initial.items():
        np.testing.assert_array_equal(model[k], v)
    while True:
        s = st.next()
        if s.phase == "loss":
            break
    assert s.iteration == 0 and s.loss == first


def test_restart_of_a_model_too_big_to_copy_reinitializes_from_the_seed():
    _, model, st = stepper(state_budget=1)
    initial = model.state_dict()
    for _ in range(2 * len(model.steps) + 2):
        st.next()
    assert not np.array_equal(model["dense1.W"], initial["dense1.W"])
    st.restart()
    for k, v in initial.items():
        np.testing.assert_array_equal(model[k], v)


def test_node_check_cost_does_not_grow_with_the_layer():
    import time
    net = netc.loads("data { source gaussian n=32 features=1024 }\nmodel m {\n    input 1024\n"
                     "    dense 1024 init=xavier\n    tanh\n}\n")
    model = Model(lower(net), seed=0)
    st = Stepper(Trainer(model, net.dataset, net.train, shuffle=True))
    st.next()
    start = time.process_time()  # CPU time: the machine may be shared (a full check takes hours)
    errs = st.check_node("dense1")
    assert time.process_time() - start < 30
    assert set(errs) == {"x0", "W", "b"} and max(errs.values()) < 1e-6


def test_histograms_of_values_float64_cannot_split_into_bins():
    """A diverged layer's constant -3.3e15 (or values a few float64 spacings apart far from zero)
    still gets a histogram: its range is widened, all values counted."""
    from netc.runtime.stats import HIST_BINS, histogram
    for a in (np.full(10, -3.3e15), np.array([1e300, 1e300 * (1 + 1e-15)]), np.full(4, 1.7e308)):
        h = histogram(a)
        assert sum(h.counts) == a.size and len(h.edges) == HIST_BINS + 1
        assert all(x < y for x, y in zip(h.edges, h.edges[1:]))
    assert histogram(np.full(3, 2.0)).edges[::HIST_BINS] == (1.5, 2.5)  # small constants as before


def test_stats_on_huge_constant_inputs_does_not_crash(tmp_path):
    rows = "\n".join(f"3e15,3e15,{i % 2}" for i in range(40))
    (tmp_path / "big.csv").write_text("a,b,y\n" + rows + "\n")
    spec = tmp_path / "big.net"
    spec.write_text('data {\n    source "big.csv"\n}\nmodel m {\n    input 2\n    dense 2\n}\n'
                    "train {\n    loss cross_entropy\n    optimizer sgd lr=0.1\n    batch 8\n}\n")
    r = netc_cli("stats", spec)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
