"""The test suite's own mechanisms (tests/conftest.py, docs/testing.md): a missing optional
dependency skips locally and fails in CI; a missing golden file fails unless regenerating."""
from __future__ import annotations

import pytest

import conftest
from conftest import check_golden, in_ci, require

SKIP, FAIL = pytest.skip.Exception, pytest.fail.Exception


@pytest.mark.parametrize("value, expected", [("true", True), ("1", True), ("yes", True),
                                             ("", False), ("0", False), ("false", False)])
def test_ci_is_read_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected


def test_missing_module_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.setitem(conftest.MODULES, "netc_no_such_module", "pip install 'netc[nothing]'")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(SKIP, match="pip install 'netc\\[nothing\\]'"):
        require("netc_no_such_module")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(FAIL, match="fails instead of skipping"):
        require("netc_no_such_module")


def test_missing_program_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.setitem(conftest.PROGRAMS, "netc-no-such-program", "apt-get install nothing")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(SKIP, match="apt-get install nothing"):
        require("netc-no-such-program")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(FAIL):
        require("netc-no-such-program")


def test_present_dependencies_are_returned():
    assert require("textual").__name__ == "textual"  # a dependency of netc itself


def test_present_program_is_its_path(monkeypatch):
    monkeypatch.setitem(conftest.PROGRAMS, "python3", "the system's Python")
    assert require("python3").endswith("python3")


def test_unknown_names_are_a_mistake_in_the_test():
    with pytest.raises(ValueError, match="not a known optional dependency"):
        require("numpy_typo")


def test_bare_importorskip_also_fails_in_ci():
    """The hook turns a skip for a missing import into a failure when CI is set."""
    class Report:
        skipped, outcome = True, "skipped"
        longrepr = ("x.py", 1, "Skipped: could not import 'nothing': No module named 'nothing'")
    for ci, outcome in (("", "skipped"), ("true", "failed")):
        report = Report()
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("CI", ci)
            conftest._skip_to_failure(report)
        assert report.outcome == outcome
    other = Report()
    other.longrepr = ("x.py", 1, "Skipped: root can read any file")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CI", "true")
        conftest._skip_to_failure(other)
    assert other.outcome == "skipped"  # only missing dependencies turn into failures


class _Config:
    def __init__(self, regen):
        self.regen = regen

    def getoption(self, name):
        return self.regen


def test_missing_golden_file_fails(tmp_path, monkeypatch):
    monkeypatch.delenv(conftest.REGEN_ENV, raising=False)
    with pytest.raises(FAIL, match="missing"):
        check_golden(tmp_path / "x.plan", "text\n", _Config(False))
    assert not (tmp_path / "x.plan").exists()


def test_golden_file_compares_and_regenerates(tmp_path, monkeypatch):
    monkeypatch.delenv(conftest.REGEN_ENV, raising=False)
    golden = tmp_path / "x.plan"
    check_golden(golden, "one\n", _Config(True))  # --regen-golden writes it
    assert golden.read_text() == "one\n"
    check_golden(golden, "one\n", _Config(False))
    with pytest.raises(AssertionError):
        check_golden(golden, "two\n", _Config(False))
    monkeypatch.setenv(conftest.REGEN_ENV, "1")
    check_golden(golden, "two\n", _Config(False))
    assert golden.read_text() == "two\n"
