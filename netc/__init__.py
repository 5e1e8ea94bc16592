"""netc: write, train and see inside small neural networks.

    >>> import netc
    >>> net = netc.load("examples/digits.net")
    >>> net.graph            # networkx.DiGraph; nodes carry op, attrs, shape, params, span
    >>> net.data, net.train  # the data and train sections as plain dicts
    >>> net.warnings         # lint diagnostics

Errors in a spec raise `netc.SpecError`, whose `diagnostics` list every problem found and whose
string form is the `FILE:LINE:COL: error: ...` report.
"""
from __future__ import annotations

from pathlib import Path

from .compiler import Network, compile_source, load_path
from .spec.diagnostics import Diagnostic, Source, SpecError, Span

__version__ = "0.1.0"
__all__ = ["load", "loads", "Network", "SpecError", "Diagnostic", "Span"]


def load(path: str | Path, *, check_data: bool = True) -> Network:
    """Compile the `.net` file at `path` into a Network (graph, settings, warnings).

    Relative data paths in the file are resolved against the file's folder. With `check_data`
    (the default) the data is loaded once to check its width and for the data-aware lints.
    Raises SpecError for a missing or unreadable file and for every error in the spec.
    """
    return load_path(path, check_data=check_data)


def loads(text: str, *, name: str = "<string>", base_dir: str | Path = ".",
          check_data: bool = True) -> Network:
    """Compile spec text into a Network, as `load` does for a file; `name` is used in messages."""
    return compile_source(Source(name, text), Path(base_dir), check_data)
