"""Training many runs at once: each (variant, seed) is a `netc run --json --log DIR` child process,
several in parallel, with a progress display of all of them.

Child processes keep runs apart: a run that diverges or crashes ends with its own exit status and
record while the others finish; each child uses one BLAS thread, so N jobs use N cores. Ctrl-C stops
the children (each writes its record, marked interrupted) and keeps what finished.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CHILD = "import sys; from netc.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass
class Job:
    """One run to do: a variant's label, file and settings, a seed, where its record goes."""

    label: str
    file: str
    sets: tuple[str, ...]
    seed: int
    record: Path
    epochs: int | None = None  # the run's epoch count, for the progress display
    extra: tuple[str, ...] = ()  # more options for the child's netc run
    epoch: int = 0
    last: dict = field(default_factory=dict)
    status: str = "waiting"  # waiting, running, completed, failed, interrupted
    returncode: int | None = None
    stderr: str = ""

    def command(self, epochs: int | None) -> list[str]:
        """The child's command line."""
        cmd = [sys.executable, "-c", CHILD, "run", self.file, "--seed", str(self.seed), "--json",
               "--log", str(self.record), "--label", self.label]
        for s in self.sets:
            cmd += ["--set", s]
        if epochs is not None:
            cmd += ["--epochs", str(epochs)]
        return cmd + list(self.extra)


def default_jobs() -> int:
    """Parallel runs by default: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class Progress:
    """Shows every run's state on stderr: a redrawn block on a terminal, a line per finished run
    otherwise."""

    def __init__(self, jobs: list[Job], out=None, quiet: bool = False):
        # stderr of the moment (not of import time: a caller may have replaced it)
        self.jobs, self.out, self.quiet = jobs, out or sys.stderr, quiet
        self.live = not quiet and self.out.isatty()
        self._drawn = 0
        self._last = 0.0
        self._reported: set[int] = set()

    def draw(self) -> None:
        """Redraw (terminal) or print the runs that finished since the last call."""
        if self.quiet:
            return
        if not self.live:
            for i, j in enumerate(self.jobs):
                if j.status not in ("waiting", "running") and i not in self._reported:
                    self._reported.add(i)
                    done = len(self._reported)
                    print(f"[{done}/{len(self.jobs)}] {self._line(j)}", file=self.out, flush=True)
            return
        now = time.monotonic()
        if now - self._last < 0.1 and any(j.status == "running" for j in self.jobs):
            return  # a terminal redraw ten times a second is enough
        self._last = now
        lines = [self._line(j) for j in self.jobs]
        if len(lines) > 24:  # too many to list: the running ones and a count
            running = [self._line(j) for j in self.jobs if j.status == "running"]
            finished = sum(j.status not in ("waiting", "running") for j in self.jobs)
            lines = running + [f"{finished}/{len(self.jobs)} runs finished"]
        buf = ("\x1b[F" * self._drawn) + "".join(f"\x1b[K{line}\n" for line in lines)
        self.out.write(buf)
        self.out.flush()
        self._drawn = len(lines)

    @staticmethod
    def _line(j: Job) -> str:
        head = f"{j.label}, seed {j.seed}: "
        if j.status == "waiting":
            return head + "waiting"
        metric = ""
        if j.last.get("val_accuracy") is not None:
            metric = f", val acc {100 * j.last['val_accuracy']:.1f}%"
        elif j.last.get("val_loss") is not None:
            metric = f", val loss {j.last['val_loss']:.4f}"
        elif j.last.get("train_loss") is not None:
            metric = f", train loss {j.last['train_loss']:.4f}"
        total = f"/{j.epochs}" if j.epochs else ""
        if j.status == "running":
            return head + f"epoch {j.epoch}{total}{metric}"
        if j.status == "failed":
            reason = j.stderr.strip().splitlines()[0] if j.stderr.strip() else f"exit {j.returncode}"
            return head + f"failed at epoch {j.epoch + 1}: {reason}"
        return head + f"{j.status} after {j.epoch} epoch{'s' if j.epoch != 1 else ''}{metric}"


def run_all(jobs: list[Job], epochs: int | None, parallel: int, progress: Progress) -> bool:
    """Run the jobs, `parallel` at a time; True if all ran, False if Ctrl-C stopped them (the
    finished ones keep their records, the running ones are stopped and marked interrupted)."""
    running: dict[int, subprocess.Popen] = {}
    readers: dict[int, threading.Thread] = {}
    pending = list(range(len(jobs)))
    try:
        while pending or running:
            while pending and len(running) < parallel:
                i = pending.pop(0)
                running[i] = _start(jobs[i], epochs)
                readers[i] = threading.Thread(target=_read, args=(jobs[i], running[i]), daemon=True)
                readers[i].start()
            for i, proc in list(running.items()):
                if proc.poll() is not None:
                    readers[i].join()
                    _finished(jobs[i], proc.returncode)
                    del running[i]
            progress.draw()
            time.sleep(0.01)  # a finished run frees its core at once: short runs are common
        progress.draw()
        return True
    except KeyboardInterrupt:
        for proc in running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30
        for i, proc in running.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            readers[i].join(timeout=5)
            _finished(jobs[i], proc.returncode, interrupted=True)
        for i in pending:
            jobs[i].status = "not started"
        progress.draw()
        return False


def _start(job: Job, epochs: int | None) -> subprocess.Popen:
    job.status = "running"
    job.record.parent.mkdir(parents=True, exist_ok=True)
    # the child ignores the terminal's Ctrl-C: this process forwards it, once, after deciding
    return subprocess.Popen(job.command(epochs), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, start_new_session=True)


def _read(job: Job, proc: subprocess.Popen) -> None:
    """Follow a child's JSON lines (epochs, then the final record) and keep its stderr."""
    err = []
    t = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    t.start()
    for line in proc.stdout:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and not rec.get("final") and "epoch" in rec:
            job.epoch, job.last = rec["epoch"], rec
    t.join()
    job.stderr = "".join(err)


def _finished(job: Job, code: int | None, interrupted: bool = False) -> None:
    job.returncode = code
    if interrupted or code == 130:
        job.status = "interrupted"
    elif code == 0:
        job.status = "completed"
    else:
        job.status = "failed"
        # the located diagnostic's first line, not the warnings printed before it
        lines = [ln for ln in job.stderr.splitlines() if ": error: " in ln]
        if lines:
            job.stderr = "\n".join(lines)
