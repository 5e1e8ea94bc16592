"""`--set KEY=VALUE`: the value is exactly one value of the setting's type, read by the file's own
grammar; anything more (a `;`, a brace, a newline, a comment, a second value) is an error, exit 2."""
from __future__ import annotations


import pytest

import netc
from conftest import EXAMPLES
from netc.spec import overrides
from netc.spec.overrides import OverrideError
from cli_runner import netc_cli

DIGITS = EXAMPLES / "digits.net"

SPLICES = [
    "epochs=2; this is not valid",
    "epochs=2 } model x { input 2 }",
    "epochs=2\nseed 3",
    "epochs=2 # a comment",
    "epochs=2 3",
    "optimizer.lr=0.1 momentum=0.9",
    "loss=mse as x",
    "split=0.5 }",
    "epochs=",
    "epochs=1/0",
    'validation="a.npz" label=first',
]


@pytest.fixture(scope="module")
def net():
    return netc.load(DIGITS, check_data=False)


@pytest.mark.parametrize("item", SPLICES)
def test_anything_but_one_value_is_refused(net, item):
    with pytest.raises(OverrideError) as info:
        overrides.apply(net.train, net.data, [item])
    assert "one value" in info.value.message and info.value.hint


@pytest.mark.parametrize("item, key, value", [
    ("epochs=2", "epochs", 2),
    ("epochs = 3 ", "epochs", 3),
    ("epochs=2*3", "epochs", 6),
    ("optimizer.betas=(0.8, 0.9)", ("optimizer", "betas"), (0.8, 0.9)),
    ("optimizer.lr=-(-1e-2)", ("optimizer", "lr"), 0.01),
    ("loss=mse", "loss", "mse"),
])
def test_one_value_of_the_settings_type_is_taken(net, item, key, value):
    train, _ = overrides.apply(net.train, net.data, [item])
    got = getattr(train, key) if isinstance(key, str) else getattr(getattr(train, key[0]), key[1])
    assert got == value


@pytest.mark.parametrize("item, fragment", [
    ("epochs=2.5", "--set epochs: count must be an integer >= 1 and <= 1000000, got 2.5"),
    ("epochs=adam", "count must be an integer >= 1 and <= 1000000, got 'adam'"),
    ("optimizer.lr=(1, 2)", "lr must be a number > 0"),
    ("optimizer.lrr=0.1", "unknown setting 'optimizer.lrr'"),
])
def test_a_value_of_the_wrong_type_gets_the_set_error(net, item, fragment):
    with pytest.raises(OverrideError) as info:
        overrides.apply(net.train, net.data, [item])
    assert fragment in info.value.message


def test_unknown_key_has_did_you_mean(net):
    with pytest.raises(OverrideError) as info:
        overrides.apply(net.train, net.data, ["optimizer.lrr=0.1"])
    assert info.value.hint == "did you mean 'optimizer.lr'?"


@pytest.mark.parametrize("item, close", [("lr=0.1", "optimizer.lr"), ("patience=3", "early_stop.patience")])
def test_a_bare_key_suggests_the_setting_it_ends(net, item, close):
    """`--set lr=0.1` means optimizer.lr: say so, rather than list every key."""
    with pytest.raises(OverrideError) as info:
        overrides.apply(net.train, net.data, [item])
    assert info.value.hint == f"did you mean '{close}'?"


def test_a_setting_of_another_optimizer_says_which_has_it(net):
    """digits.net's adam has no momentum: say that sgd has, and how to switch."""
    with pytest.raises(OverrideError) as info:
        overrides.apply(net.train, net.data, ["optimizer.momentum=0.9"])
    assert info.value.message == "--set: adam has no setting 'momentum' (optimizer.momentum)"
    assert info.value.hint.startswith("momentum is a setting of sgd: switch first, e.g. "
                                      "--set optimizer=sgd --set optimizer.momentum=")
    train, _ = overrides.apply(net.train, net.data, ["optimizer=sgd", "optimizer.momentum=0.9"])
    assert train.optimizer.momentum == 0.9


@pytest.mark.parametrize("item", ["epochs=2; this is not valid", "epochs=2 } model x { input 2 }"])
def test_the_command_line_exits_2_on_a_spliced_value(item):
    r = netc_cli("run", str(DIGITS), "--set", item)
    assert r.returncode == 2, r.stdout
    assert r.stderr.startswith("netc: error: --set epochs: cannot read") and "Traceback" not in r.stderr
    assert r.stdout == ""
