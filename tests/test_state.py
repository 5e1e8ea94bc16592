"""The trainer's state is declared once (runtime/state.py): the stepper's replay and restart, and
checkpoints, all go through the declaration, so every part (best weights included) comes back,
and a part added to the declaration comes back too with no other edit."""
from __future__ import annotations

import numpy as np
import pytest

import netc
from netc.compiler.lower import lower
from netc.runtime import state
from netc.runtime.model import Model
from netc.runtime.stepper import Stepper
from netc.runtime.train import UPDATE, Trainer

EARLY = """data { source digits; split 0.8; standardize }
model m { input 64; dense 32; batchnorm; relu; dropout 0.2; dense 10 init=xavier }
train { optimizer adam lr=1e-2; batch 512; epochs 6; early_stop patience=3; seed 0 }
"""


def trainer(text=EARLY):
    net = netc.loads(text)
    return Trainer(Model(lower(net), seed=0), net.dataset, net.train, shuffle=True)


def run_to(st: Stepper, iteration: int) -> None:
    """Step until the iteration `iteration` is about to start (its first pause is next)."""
    while st.trainer.position.iteration < iteration or st.last is None or st.last.phase != "update":
        assert st.next() is not None
        if st.last.phase == "update" and st.last.iteration == iteration - 1:
            break


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            assert_same(a[k], b[k])
        elif isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def test_goto_restores_the_best_weights_and_their_bookkeeping():
    t = trainer()
    st = Stepper(t)
    per_epoch = len(t.batches(0))
    run_to(st, per_epoch + 1)           # the first epoch is closed: its weights are the best so far
    assert t.position.best_epoch == 1
    best_after_one = {k: v.copy() for k, v in t.best_state.items()}
    at = t.position.iteration
    kept = state.capture(t)
    run_to(st, 3 * per_epoch + 1)       # two more epochs: the validation loss improved, new best
    assert t.position.best_epoch == 3
    assert not np.array_equal(t.best_state["dense1.W"], best_after_one["dense1.W"])
    assert st.goto(at)
    assert t.position.best_epoch == 1 and t.position.epoch == 1
    assert_same(t.best_state, best_after_one)
    assert_same(state.capture(t), kept)
    assert st.goto(0) and t.best_state is None and t.position.best_epoch is None


def test_replay_of_an_epoch_end_gives_the_same_history_and_best():
    t = trainer()
    st = Stepper(t)
    per_epoch = len(t.batches(0))
    run_to(st, 2 * per_epoch + 1)
    history, best = list(t.position.history), {k: v.copy() for k, v in t.best_state.items()}
    assert st.goto(1)
    run_to(st, 2 * per_epoch + 1)
    assert t.position.history[0].val_loss == history[0].val_loss
    assert [h.train_loss for h in t.position.history] == [h.train_loss for h in history]
    assert_same(t.best_state, best)


def test_restart_restores_every_part():
    t = trainer()
    start = state.capture(t)
    st = Stepper(t)
    run_to(st, len(t.batches(0)) + 2)
    st.restart()
    assert_same(state.capture(t), start)


def test_capture_holds_copies():
    t = trainer()
    kept = state.capture(t)
    w = kept["model"]["dense1.W"].copy()
    t.model["dense1.W"] += 1
    assert np.array_equal(kept["model"]["dense1.W"], w)
    state.restore(t, kept)
    t.model["dense1.W"] += 1  # the capture is not the live array after a restore either
    assert np.array_equal(kept["model"]["dense1.W"], w)


@pytest.fixture
def extended(monkeypatch):
    """The declaration with two new parts (a counter and an array the trainer updates each step),
    added to PARTS and nowhere else."""
    parts = list(state.PARTS) + [
        state.Part("visits", state.Value(state.parse_count), lambda t: t.__dict__.setdefault("visits", 0),
                   lambda t, v: setattr(t, "visits", v)),
        state.Part("ema", state.Arrays(), lambda t: t.__dict__.setdefault("ema", {"w": np.zeros(3)}),
                   lambda t, v: setattr(t, "ema", v), lambda t: {"w": ((3,), np.dtype(np.float64))}),
    ]
    monkeypatch.setattr(state, "PARTS", parts)

    def make():
        t = trainer()
        update = t.update

        def counting_update(grads, lr):  # a trainer feature that keeps state of its own
            update(grads, lr)
            t.visits = t.__dict__.get("visits", 0) + 1
            t.__dict__.setdefault("ema", {"w": np.zeros(3)})["w"] += 0.5
        t.update = counting_update
        return t
    return make


def test_a_new_part_is_replayed_without_other_edits(extended):
    t = extended()
    st = Stepper(t)
    run_to(st, 3)
    assert t.visits == 3 and np.array_equal(t.ema["w"], [1.5] * 3)
    run_to(st, 6)
    assert st.goto(3)
    assert t.visits == 3 and np.array_equal(t.ema["w"], [1.5] * 3)
    st.restart()
    assert t.visits == 0 and np.array_equal(t.ema["w"], [0.0] * 3)


def test_a_new_part_round_trips_through_a_checkpoint_without_other_edits(extended, tmp_path):
    from netc.runtime import checkpoint
    t = extended()
    for ph in t.iteration():
        pass
    for ph in t.iteration():
        pass
    assert t.visits == 2
    path = tmp_path / "run.ckpt"
    checkpoint.save(path, t, EARLY)
    fresh = extended()
    checkpoint.restore(path, fresh, EARLY)
    assert fresh.visits == 2
    assert_same(state.capture(fresh), state.capture(t))


def test_engine_phase_order_and_position():
    t = trainer()
    kinds = [(ph.kind, ph.step.name if ph.step is not None else None) for ph in t.iteration()]
    names = [s.name for s in t.model.steps]
    assert kinds == ([("forward", n) for n in names] + [("loss", None)] +
                     [("backward", n) for n in reversed(names)] + [("update", None)])
    assert t.position.iteration == 1 and t.position.batch == 1


def test_stopping_the_engine_before_the_update_changes_no_state():
    t = trainer()
    before = state.capture(t)
    phases = t.iteration()
    for ph in phases:
        if ph.kind == "backward" and ph.step.index == 0:
            break
    phases.close()
    after = state.capture(t)
    after["model"] = before["model"]  # batch-norm's running statistics moved in the forward pass
    assert_same(after, before)


def test_run_epoch_equals_stepping_every_phase():
    a, b = trainer(), trainer()
    ra = a.run_epoch()
    while True:
        phases = list(b.iteration())
        if phases[-1].kind == "epoch":
            rb = phases[-1].result
            break
        assert phases[-1].kind == UPDATE
    assert (ra.train_loss, ra.val_loss, ra.val_accuracy) == (rb.train_loss, rb.val_loss, rb.val_accuracy)
    assert_same(state.capture(a)["model"], state.capture(b)["model"])
