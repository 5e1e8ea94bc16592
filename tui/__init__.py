"""netc.tui: `netc debug`, the step debugger (a Textual app over the runtime's Stepper).

Importing this package does not import Textual: `debug` checks the input first (a bad file, weights
or breakpoint exits 2 before any screen is drawn), then loads the app.
"""
from __future__ import annotations


def debug(file: str, weights: str | None = None, breaks=(), seed: int | None = None,
          epochs: int | None = None, sets=()) -> int:
    """Run the debugger on `file`; the exit status. Bad input raises a NetcError (exit 2) before
    any screen is drawn."""
    from .session import open_session
    session = open_session(file, weights, breaks, seed, epochs, sets)  # a NetcError for bad input
    from .app import DebuggerApp
    DebuggerApp(session, settle_gc=True).run()
    return 0
