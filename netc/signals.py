"""Stopping a run cleanly on Ctrl-C, SIGTERM (`timeout`, `docker stop`, a cluster scheduler) and
SIGHUP (a closed terminal): the first signal asks the training loop to stop after the current
batch (so the checkpoint can be written); a second one stops at once (KeyboardInterrupt, which
still removes a half-written temporary file). The exit status is 128 + the signal's number:
130, 143 or 129, as a shell reports a process killed by it.
"""
from __future__ import annotations

import signal

HANDLED = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class SignalExit(KeyboardInterrupt):
    """Raised by a second signal: stop now, with `status` (128 + the signal's number)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.status = 128 + signum


class StopRequests:
    """A context manager that turns the handled signals into a request to stop.

        with StopRequests() as stop:
            while ... and not stop.requested: train one batch
        stop.status   # 130 / 143 / 129, or None without a signal
    """

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.signum is not None:
            raise SignalExit(signum)
        self.signum = signum

    def __enter__(self) -> "StopRequests":
        for s in HANDLED:
            self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)

    @property
    def requested(self) -> bool:
        """Whether a signal asked the run to stop."""
        return self.signum is not None

    @property
    def status(self) -> int | None:
        """The exit status the signal calls for (None if none arrived)."""
        return None if self.signum is None else 128 + self.signum

    @property
    def name(self) -> str:
        """'Ctrl-C', 'SIGTERM' or 'SIGHUP'."""
        if self.signum == signal.SIGINT:
            return "Ctrl-C"
        return signal.Signals(self.signum).name if self.signum else ""
