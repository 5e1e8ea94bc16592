"""netc.tui: `netc debug`, the step debugger (a Textual app over the runtime's Stepper).

Importing this package does not import Textual: `debug` checks the input first (a bad file, weights
or breakpoint exits 2 before any screen is drawn), then loads the app.
"""
from __future__ import annotations


def opens_on_overview(file: str) -> bool:
    """Whether the debugger opens on the all-layers overview without --overview: for the
    initialization experiments (files named init_*.net), whose lesson is every layer at once."""
    import os
    return os.path.basename(file).startswith("init_")


def debug(file: str, weights: str | None = None, breaks=(), seed: int | None = None,
          epochs: int | None = None, sets=(), overview: bool = False) -> int:
    """Run the debugger on `file` (on the all-layers overview with `overview`); the exit status.
    Bad input raises a NetcError (exit 2) before any screen is drawn."""
    from .session import open_session
    session = open_session(file, weights, breaks, seed, epochs, sets)  # a NetcError for bad input
    from .app import DebuggerApp
    DebuggerApp(session, settle_gc=True, overview=overview or opens_on_overview(file)).run()
    return 0


def serve_web(args) -> int:
    """`netc debug FILE --web`: check the input as the terminal debugger would (bad input exits 2
    here, not in the browser), then serve the same command to a browser (tui/web.py)."""
    from .session import open_session
    from .web import preflight, serve
    preflight(args.host, args.port)
    open_session(args.file, args.weights, args.breaks, args.seed, args.epochs, args.set)
    forwarded = []
    if args.weights:
        forwarded += ["--weights", args.weights]
    for b in args.breaks:
        forwarded += ["--break", b]
    if args.seed is not None:
        forwarded += ["--seed", str(args.seed)]
    if args.epochs is not None:
        forwarded += ["--epochs", str(args.epochs)]
    for s in args.set:
        forwarded += ["--set", s]
    if args.overview:
        forwarded.append("--overview")
    return serve(args.file, forwarded, args.host, args.port)
