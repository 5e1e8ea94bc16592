"""Data augmentation (`augment` in the data section): what each key does to a batch, that only
training batches change (never validation, evaluation or `netc eval`), that a fixed seed
reproduces the draws and each epoch draws anew, and the located errors for bad uses."""
from __future__ import annotations

import numpy as np
import pytest

import netc
from conftest import EXAMPLES, one_error
from netc import cli
from netc.compiler.lower import lower
from netc.runtime.data.augment import augment_batch, cutout, flip, shift
from netc.runtime.train import FORWARD, Trainer
from netc.spec.settings import Augment



def _images(b=6, c=2, h=5, w=7, seed=0):
    # distinct positive values, so a moved or zeroed pixel is recognizable
    return np.random.default_rng(seed).permutation(b * c * h * w).reshape(b, c, h, w).astype(np.float64) + 1


def _shift_one(img, dy, dx):
    """The reference: one image translated by (dy, dx) with zero fill, pixel by pixel."""
    c, h, w = img.shape
    out = np.zeros_like(img)
    for i in range(h):
        for j in range(w):
            if 0 <= i - dy < h and 0 <= j - dx < w:
                out[:, i, j] = img[:, i - dy, j - dx]
    return out


def test_shift_translates_each_image_by_its_own_offset_with_zero_fill():
    x = _images()
    out = shift(x, 2, np.random.default_rng(3))
    dy, dx = np.random.default_rng(3).integers(-2, 3, size=(2, len(x)))  # the same draws
    assert len(set(zip(dy, dx))) > 1  # the examples did not all move alike
    for k in range(len(x)):
        np.testing.assert_array_equal(out[k], _shift_one(x[k], dy[k], dx[k]))


def test_flip_mirrors_about_half_of_the_images_left_right():
    x = _images(b=200, h=3, w=4)
    out = flip(x, np.random.default_rng(1))
    mirrored = np.array([np.array_equal(o, i[..., ::-1]) for o, i in zip(out, x)])
    same = np.array([np.array_equal(o, i) for o, i in zip(out, x)])
    assert np.all(mirrored ^ same)
    assert 70 < mirrored.sum() < 130


def test_cutout_zeroes_one_square_in_every_channel():
    x = _images(b=300, c=3, h=8, w=8)
    out = cutout(x, 3, np.random.default_rng(2))
    zero = out == 0
    assert np.all(zero == zero[:, :1])  # the same pixels in every channel
    assert np.all(out[~zero] == x[~zero])  # nothing else changes
    sizes = zero[:, 0].sum(axis=(1, 2))
    assert sizes.max() == 9 and sizes.min() >= 4  # whole inside, or cut by a border (2x2 at a corner)
    for k in range(len(x)):
        rows, cols = np.nonzero(zero[k, 0])
        # one rectangle: its bounding box is full
        assert len(rows) == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
    # every pixel can be hidden (the centre is uniform over the image)
    assert np.all(zero[:, 0].any(axis=0))


def test_noise_adds_gaussian_noise_of_the_given_std():
    x = np.zeros((400, 64))
    out = augment_batch(x, (1, 8, 8), Augment(noise=0.5), np.random.default_rng(0))
    assert out.shape == (400, 1, 8, 8)
    assert abs(out.std() - 0.5) < 0.01 and abs(out.mean()) < 0.01
    vec = augment_batch(np.zeros((400, 30), np.float32), (30,), Augment(noise=2.0), np.random.default_rng(0))
    assert vec.dtype == np.float32 and vec.shape == (400, 30) and abs(vec.std() - 2.0) < 0.05


def test_augment_batch_keeps_the_dtype_and_never_writes_its_input():
    x = np.arange(3 * 64, dtype=np.float32).reshape(3, 64)
    before = x.copy()
    out = augment_batch(x, (1, 8, 8), Augment(shift=1, flip="horizontal", cutout=2),
                        np.random.default_rng(0))
    assert out.dtype == np.float32 and out.shape == (3, 1, 8, 8)
    np.testing.assert_array_equal(x, before)
    with pytest.raises(ValueError):
        augment_batch(x, (64,), Augment(shift=1), np.random.default_rng(0))


# --- in training ----------------------------------------------------------------------------------

def _net(augment="augment shift=1 cutout=3 flip=horizontal noise=0.1", seed=0, split="split 0.8"):
    text = (EXAMPLES / "digits_cnn.net").read_text().replace("split 0.8", f"{split}\n    {augment}")
    text = text.replace("seed 0", f"seed {seed}")
    return netc.loads(text, base_dir=EXAMPLES)


def _trainer(net):
    return Trainer(netc.Model(lower(net), seed=net.train.seed, dtype=np.float64), net.dataset,
                   net.train, shuffle=True)


def _first_input(trainer, training=True):
    """The network's input of the trainer's next iteration (the input node's output)."""
    for phase in trainer.iteration(training=training):
        if phase.kind == FORWARD:
            x = trainer.model.outputs[0].copy()
            return x


def _batches(trainer, n):
    """The inputs of the next n training iterations (each run to its update)."""
    xs = []
    for _ in range(n):
        for phase in trainer.iteration():
            if phase.kind == FORWARD and phase.step.index == 0:
                xs.append(trainer.model.outputs[0].copy())
    return xs


def test_training_batches_are_augmented_and_reproducible_with_the_seed():
    net = _net()
    plain = _trainer(_net("", split="split 0.8"))
    t1, t2 = _trainer(net), _trainer(net)
    a, b = _batches(t1, 3), _batches(t2, 3)
    for x1, x2 in zip(a, b):
        np.testing.assert_array_equal(x1, x2)  # the same seed: the same draws
    raw = _batches(plain, 1)[0]
    assert raw.shape == a[0].shape and not np.array_equal(raw, a[0])  # the same examples, changed
    assert not np.array_equal(a[0], a[1])
    other = _batches(_trainer(_net(seed=1)), 1)[0]
    assert not np.allclose(other, a[0])


def test_each_epoch_draws_anew():
    """The same examples in the same order in two epochs (shuffle false) get different draws."""
    text = (EXAMPLES / "digits_cnn.net").read_text().replace(
        "split 0.8", "split 0.8\n    shuffle false\n    augment shift=1 cutout=3")
    net = netc.loads(text, base_dir=EXAMPLES)
    trainer = Trainer(netc.Model(lower(net), seed=0, dtype=np.float64), net.dataset,
                      net.train, shuffle=False)
    first = _first_input(trainer)
    trainer.run_epoch()
    second = _first_input(trainer)
    assert trainer.position.epoch == 1 and trainer.position.batch == 0
    assert first.shape == second.shape and not np.array_equal(first, second)
    # the examples are the same: the unaugmented batch of both epochs is equal
    raw = net.dataset.x_train[:len(first)].reshape(first.shape)
    assert not np.array_equal(first, raw) and not np.array_equal(second, raw)


def test_validation_evaluation_and_eval_mode_iterations_are_never_augmented():
    net = _net()
    trainer = _trainer(net)
    ds = net.dataset
    trainer.evaluate(ds.x_val, ds.y_val)
    np.testing.assert_array_equal(trainer.model.outputs[0].reshape(len(ds.x_val), -1)[:5], ds.x_val[:5])
    plain = _trainer(_net(""))
    assert trainer.evaluate(ds.x_val, ds.y_val) == plain.evaluate(ds.x_val, ds.y_val)
    assert trainer.evaluate(ds.x_train, ds.y_train) == plain.evaluate(ds.x_train, ds.y_train)
    # an iteration in evaluation mode (netc stats --mode eval) sees the batch as it is
    x = _first_input(trainer, training=False)
    idx = trainer.batches(0)[0]
    np.testing.assert_array_equal(x.reshape(len(idx), -1), ds.x_train[idx])


def test_netc_eval_ignores_augment(tmp_path, capsys):
    """netc eval of a checkpoint gives the same metrics with the file's augment as with augment
    turned off (--set), on the training split too."""
    text = (EXAMPLES / "digits_cnn.net").read_text().replace("epochs 20", "epochs 1")
    aug = tmp_path / "aug.net"
    aug.write_text(text.replace("split 0.8", "split 0.8\n    augment shift=1 cutout=3 noise=0.5"))
    ck = tmp_path / "w.ckpt"
    assert cli.main(["run", str(aug), "--quiet", "--save", str(ck)]) == 0
    capsys.readouterr()
    off = ["--set", "augment.shift=0", "--set", "augment.cutout=0", "--set", "augment.noise=0"]
    outs = []
    for extra in ([], off):
        assert cli.main(["eval", str(aug), "--weights", str(ck), "--json", *extra]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and "train_accuracy" in outs[0]


def test_resume_mid_epoch_reproduces_the_augmented_batches():
    """The draws are keyed by (seed, iteration): a trainer restored to iteration 2 sees what a
    trainer that ran there sees."""
    net = _net()
    t1 = _trainer(net)
    xs = _batches(t1, 3)
    t2 = _trainer(net)
    t2.position.iteration, t2.position.batch = 2, 2
    np.testing.assert_array_equal(_first_input(t2), xs[2])


# --- errors ---------------------------------------------------------------------------------------

VECTOR = """
data {{ source breast_cancer; standardize; augment {aug} }}
model m {{ input 30; dense 8; relu; dense 2 }}
"""


@pytest.mark.parametrize("aug,key", [("shift=1", "shift"), ("flip=horizontal", "flip"),
                                     ("noise=0.1 cutout=2", "cutout")])
def test_pixel_augmentation_on_vector_data_is_a_located_error(aug, key):
    err = one_error(VECTOR.format(aug=aug))
    assert f"augment {key}=" in err.message and "needs images" in err.message
    assert "breast_cancer has 30 features per example" in err.message and "(30,)" in err.message
    assert err.span.line == 2 and "noise=" in err.hint
    # without the data, the model's input names the shape
    err = one_error(VECTOR.format(aug=aug), check_data=False)
    assert "30 features per example" in err.message


def test_noise_on_vectors_is_fine():
    net = netc.loads(VECTOR.format(aug="noise=0.1"))
    assert net.data.augment == Augment(noise=0.1)


@pytest.mark.parametrize("aug,words", [("shift=8", "can move a whole 8x8 image out of view"),
                                       ("cutout=9", "larger than the 8x8 images"),
                                       ("shift=0", "augment changes nothing"),
                                       ("shift=-1", "shift"), ("flip=vertical", "flip"),
                                       ("scale=2", "scale")])
def test_bad_augment_values_are_located_errors(aug, words):
    text = f"data {{ source digits; augment {aug} }}\nmodel m {{ input 1 8 8; flatten; dense 10 }}"
    err = one_error(text)
    assert words in err.message and err.span.line == 1


def test_cli_exit_2_for_shift_on_a_csv_of_30_features(tmp_path, capsys):
    rows = np.random.default_rng(0).normal(size=(20, 31))
    rows[:, -1] = np.arange(20) % 2
    (tmp_path / "f.csv").write_text("\n".join(",".join(f"{v:g}" for v in r[:-1]) + f",{int(r[-1])}"
                                              for r in rows))
    net = tmp_path / "v.net"
    net.write_text('data {\n    source "f.csv"\n    augment shift=1\n}\nmodel m { input 30; dense 2 }\n')
    assert cli.main(["check", str(net)]) == 2
    err = capsys.readouterr().err
    assert f"{net}:3:19: error: augment shift=1 needs images, but f.csv has 30 features" in err
    assert "Traceback" not in err
    # the same from the command line
    net.write_text('data { source "f.csv" }\nmodel m { input 30; dense 2 }\ntrain { batch 4 }\n')
    assert cli.main(["run", str(net), "--quiet", "--set", "augment.cutout=2"]) == 2
    err = capsys.readouterr().err
    assert "augment cutout=2 needs images" in err and "(augment from the command line)" in err


def test_set_augment_keys():
    from netc.spec import overrides
    net = _net("")
    _, data = overrides.apply(net.train, net.data, ["augment.shift=2", "augment.noise=0.3"])
    assert data.augment == Augment(shift=2, noise=0.3)
    _, data = overrides.apply(net.train, data, ["augment.shift=0", "augment.noise=0"])
    assert data.augment is None
    with pytest.raises(overrides.OverrideError, match="unknown setting 'augment.scale'"):
        overrides.apply(net.train, net.data, ["augment.scale=2"])
    with pytest.raises(overrides.OverrideError):
        overrides.apply(net.train, net.data, ["augment.flip=vertical"])
