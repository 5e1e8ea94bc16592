"""Shared test helpers: paths to the examples, a way to compile text expecting errors, optional
dependencies that skip locally and fail in CI (`require`), and golden files (`check_golden`).

See docs/testing.md for the rules these implement.
"""
from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path


def _share_the_cores() -> None:
    """Under pytest-xdist, each worker's BLAS and torch get cores // workers threads.

    Every worker is a process of its own that would otherwise start as many BLAS (OpenBLAS, MKL)
    and OpenMP threads as the machine has cores; on 2 cores, 2 workers with 2 threads each, which
    spin while they wait for each other, made small matrix products about 10 times slower
    (test_help_examples[netc]: 1.3 s alone, 13 s of CPU in the suite). Set before numpy is
    first imported (below, by netc), and inherited by the commands the tests start."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers > 0:
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = threads


_share_the_cores()

import pytest  # noqa: E402

import netc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ALL_EXAMPLES = sorted(EXAMPLES.rglob("*.net"))


def errors_of(text: str, **kw) -> list[netc.Diagnostic]:
    """The error diagnostics compiling `text` raises (fails the test if it compiles)."""
    with pytest.raises(netc.SpecError) as info:
        netc.loads(text, name="t.net", **kw)
    return info.value.errors


def one_error(text: str, **kw) -> netc.Diagnostic:
    """The single error of `text` (fails if there are none or several)."""
    errs = errors_of(text, **kw)
    assert len(errs) == 1, [e.message for e in errs]
    return errs[0]


# Required parameters the kernel tests fill in; everything else comes from the schema's defaults.
KERNEL_TEST_VALUES = {"input": {"features": 5}, "dense": {"units": 4}, "maxout": {"units": 4, "k": 3},
                      "dropout": {"p": 0.5}, "add": {"node": "h"}, "concat": {"node": "h"},
                      "conv": {"channels": 4}, "maxpool": {"size": 2}, "avgpool": {"size": 2},
                      "groupnorm": {"groups": 1}, "dropout2d": {"p": 0.5},
                      "gaussian_noise": {"std": 0.5}, "activity": {"l1": 0.3, "l2": 0.2}}
# Ops defined on images only: the registry-wide kernel tests give them (B, C, H, W) inputs of this
# per-example shape (channels, height, width) instead of vectors.
IMAGE_ONLY = {"conv", "maxpool", "avgpool", "globalpool", "flatten", "instancenorm", "dropout2d"}
TEST_IMAGE_HW = (5, 6)


def kernel_input_shape(op: str, width: int) -> tuple[int, ...]:
    """The per-example input shape the registry-wide kernel tests use for `op`: (width,), or an
    image of `width` channels for the image-only ops."""
    return (width,) + TEST_IMAGE_HW if op in IMAGE_ONLY else (width,)


def kernel_defaults(op: str) -> dict:
    """An op's attributes as the compiler hands them to its kernel: the schema's defaults (the one
    table of parameters), with the required ones filled in for the kernel tests."""
    from netc.spec.schema import lookup
    schema = lookup("model", op)
    attrs = {p.name: p.default for p in (*schema.positional, *schema.keywords) if not p.required}
    attrs.pop("keep", None)  # dropout's keep= is folded into p by the compiler
    attrs.update(KERNEL_TEST_VALUES.get(op, {}))
    return attrs


# --- optional dependencies: skip locally, fail in CI ---------------------------------------------

# What installs each optional dependency a test may need: Python modules (by import name) and
# programs (found on PATH). A name not listed here is an error in the test, not a skip.
MODULES = {
    "torch": "pip install 'netc[torch]'",
    "onnx": "pip install 'netc[onnx]'",
    "onnxruntime": "pip install 'netc[onnx]'",
    "safetensors": "pip install 'netc[torch]'",
    "matplotlib": "pip install 'netc[plot]'",
    "tensorboard": "pip install 'netc[tensorboard]'",
    "tensorboardX": "pip install 'netc[tensorboard]'",
    "textual_serve": "pip install 'netc[web]'",
    "playwright": "pip install 'netc[browser]'",
    "textual": "pip install netc",
}
PROGRAMS = {
    "dot": "apt-get install graphviz",
    "chromium": "apt-get install chromium",
}
# The reason every skip for a missing dependency starts with; the CI hooks below recognize it.
MISSING = "optional dependency missing: "


def in_ci() -> bool:
    """True when the environment variable CI is set to anything but '', '0', 'false' or 'no'
    (CI runs `bash .ci/run` with CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(name: str):
    """The optional dependency `name`, for a test that cannot run without it.

    `name` is a key of MODULES or a submodule of one (returns the imported module) or a key of
    PROGRAMS (returns the program's path). When it is missing the test is skipped with the install command, or FAILS
    when running in CI (see `in_ci`), so a broken install cannot turn into a green run. Works
    at module level (`torch = require("torch")`: the whole file is skipped, or in CI is a
    collection error) and inside a test.
    """
    if name in PROGRAMS:
        path = shutil.which(name)
        if path is None:
            _missing(f"program '{name}' ({PROGRAMS[name]})")
        return path
    top = name.split(".")[0]  # a submodule (tensorboard.backend...) installs with its package
    if top not in MODULES:
        raise ValueError(f"require({name!r}): not a known optional dependency; add it to "
                         f"MODULES or PROGRAMS in tests/conftest.py")
    try:
        return importlib.import_module(name)
    except ImportError as e:
        error = e
    _missing(f"module '{name}' ({MODULES[top]}): {error}")  # outside `except`: no chained trace


def _missing(what: str):
    reason = MISSING + what
    if in_ci():
        pytest.fail(f"{reason}; CI is set, so this fails instead of skipping (docs/testing.md)",
                    pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def pytest_configure(config):
    config.addinivalue_line("markers", "requires(*names): the test needs these optional "
                                       "dependencies (see require in tests/conftest.py)")


def pytest_runtest_setup(item):
    """`@pytest.mark.requires("dot")` is `require("dot")` before the test."""
    for mark in item.iter_markers("requires"):
        for name in mark.args:
            require(name)


def _skip_to_failure(report) -> None:
    """In CI, a skip for a missing import (a bare `pytest.importorskip`, which bypasses
    `require`) becomes a failure too: the safety net for tests not yet using `require`."""
    if not (in_ci() and report.skipped):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if reason.startswith("Skipped: "):
        reason = reason[len("Skipped: "):]
    if reason.startswith(("could not import", MISSING)):
        report.outcome = "failed"
        report.longrepr = f"{reason}\nCI is set, so a missing dependency fails (docs/testing.md)"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _skip_to_failure(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _skip_to_failure(outcome.get_result())


# --- golden files ------------------------------------------------------------------------------

REGEN_ENV = "NETC_REGEN_GOLDEN"


def pytest_addoption(parser):
    parser.addoption("--regen-golden", action="store_true",
                     help=f"rewrite the golden files under tests/golden/ instead of comparing "
                          f"(also {REGEN_ENV}=1); review the diff and commit it")


def regen_golden(config) -> bool:
    """Whether this run rewrites golden files (`--regen-golden` or NETC_REGEN_GOLDEN=1)."""
    return bool(config.getoption("--regen-golden")) or os.environ.get(REGEN_ENV, "") not in ("", "0")


def check_golden(path: Path, text: str, config) -> None:
    """Assert that `text` equals the committed golden file `path`.

    A missing golden file fails (a fresh clone must compare against something committed); with
    `--regen-golden` (or NETC_REGEN_GOLDEN=1) the file is written instead and the check passes.
    """
    if regen_golden(config):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    if not path.exists():
        pytest.fail(f"golden file {path} is missing: run `python -m pytest --regen-golden`, "
                    f"review it and commit it", pytrace=False)
    assert text == path.read_text(), f"{path.name} differs from the golden file " \
                                     f"(if the change is intended: pytest --regen-golden)"
