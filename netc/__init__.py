"""netc: write, train and see inside small neural networks.

    >>> import netc
    >>> net = netc.load("examples/digits.net")
    >>> net.graph            # networkx.DiGraph; nodes carry op, attrs, shape, params, span
    >>> net.data, net.train  # the data and train sections as typed, frozen settings
    >>> net.train.optimizer.lr, net.train.batch, net.data.split   # every default filled in
    >>> net.warnings         # lint diagnostics

Errors in a spec raise `netc.SpecError`, whose `diagnostics` list every problem found and whose
string form is the `FILE:LINE:COL: error: ...` report.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["load", "loads", "Network", "NetcError", "SpecError", "Diagnostic", "Span", "Model", "lower"]

# The compiler pulls in numpy, networkx and lark: import it on first use, so that `netc --help`
# and the command line's own start-up (which sets the BLAS thread count first) stay fast.
_LAZY = {"Network": "compiler", "SpecError": "spec.diagnostics", "NetcError": "spec.diagnostics",
         "Diagnostic": "spec.diagnostics",
         "Span": "spec.diagnostics", "Source": "spec.diagnostics", "Model": "runtime.model",
         "lower": "compiler.lower"}

if TYPE_CHECKING:
    from .compiler import Network
    from .compiler.lower import lower
    from .runtime.model import Model
    from .spec.diagnostics import Diagnostic, NetcError, Source, SpecError, Span


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'netc' has no attribute {name!r}")


def load(path: str | Path, *, check_data: bool = True) -> Network:
    """Compile the `.net` file at `path` into a Network (graph, settings, warnings).

    Relative data paths in the file are resolved against the file's folder. With `check_data`
    (the default) the data is loaded once to check its width and for the data-aware lints.
    Raises SpecError for a missing or unreadable file and for every error in the spec.
    """
    from .compiler import load_path
    return load_path(path, check_data=check_data)


def loads(text: str, *, name: str = "<string>", base_dir: str | Path = ".",
          check_data: bool = True) -> Network:
    """Compile spec text into a Network, as `load` does for a file; `name` is used in messages."""
    from .compiler import compile_source
    from .spec.diagnostics import Source
    return compile_source(Source(name, text), Path(base_dir), check_data)
