"""Run `netc ...` as a user runs it, fast: the tests' one way to call the command line.

`netc_cli(*args)` behaves as `subprocess.run([python, "-m", "netc", *args], capture_output=True,
text=True)`: a new process with its own stdout and stderr, the exit status `sys.exit` gives, and
an environment and working directory of its own. Starting Python and importing numpy, networkx,
lark and netc takes about a third of a second, several hundred times per suite; so the process
is forked from a *template* process that has done those imports once (one per pytest worker and
start-up setting), never from the test process itself (which may have imported torch, whose
OpenMP threads do not survive a fork, or have monkeypatched something).

What a forked run shares with its template is only what `python -m netc` would have done at
start-up anyway (imports); everything a command does happens in the fork. The variables Python
reads at start-up (PYTHONPATH, PYTHONWARNINGS, ...) are given to the template when it starts: a
deprecation raised while importing counts as it would in a fresh process, and a module blocked
by PYTHONPATH stays blocked. NETC_TEST_SUBPROCESS=1 runs each command in a fresh
`python -m netc` instead (to rule the template out).

Tests that signal the process (Ctrl-C, SIGTERM, kill -9) use subprocess.Popen, as before: they
need the real process's id from its start.
"""
from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

# The template process: imports what `netc` commands import (not torch: a command that needs it
# imports it in the fork), then forks one child per request line and answers with its status.
TEMPLATE = r"""
import io, json, os, sys, warnings
import netc.cli, netc.run, netc.prepare, netc.inspection, netc.report
import netc.compiler, netc.runtime.train, netc.runtime.stepper, netc.runtime.checkpoint

def serve(line):
    req = json.loads(line)
    pid = os.fork()
    if pid:
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)
        return
    code = 1
    try:
        os.setsid()  # a group of its own: a timeout kills the run and whatever it started
        os.chdir(req["cwd"])
        os.environ.clear()
        os.environ.update(req["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, req["out"]), (2, req["err"])):
            f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(f, fd)
            os.close(f)
        sys.stdin = open(0, closefd=False)
        sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), line_buffering=False)
        sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), line_buffering=True)
        sys.argv = [netc.__file__, *req["args"]]
        try:
            code = netc.cli.main(req["args"])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, (int, type(None))):
                print(e.code, file=sys.stderr)
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 1
        import atexit
        atexit._run_exitfuncs()  # what a normal exit runs (os._exit below would skip it)
        for s in (sys.stdout, sys.stderr):
            try:
                s.flush()
            except Exception:
                pass
    finally:
        os._exit(code if isinstance(code, int) else 1)

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    serve(line)
"""


def _startup(env: dict) -> tuple[tuple[str, str], ...]:
    """The variables Python reads when it starts (PYTHONPATH, PYTHONWARNINGS, ...): a template
    started with them serves exactly the requests that have the same."""
    return tuple(sorted((k, v) for k, v in env.items() if k.startswith("PYTHON")))


class _Template:
    """One template process and a lock: requests are served one at a time."""

    def __init__(self, startup: tuple[tuple[str, str], ...]):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(startup)
        self.proc = subprocess.Popen([sys.executable, "-c", TEMPLATE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                     text=True, bufsize=1)
        self.lock = threading.Lock()
        first = self.proc.stdout.readline()
        if not first:
            raise RuntimeError(f"the netc template process did not start:\n{self.proc.stderr.read()}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, args: list[str], cwd: str, env: dict, timeout: float) -> tuple[int, Path, Path]:
        folder = Path(tempfile.mkdtemp(prefix="netc-cli-"))
        out, err = folder / "stdout", folder / "stderr"
        with self.lock:
            self.proc.stdin.write(json.dumps({"args": args, "cwd": cwd, "env": env,
                                              "out": str(out), "err": str(err)}) + "\n")
            self.proc.stdin.flush()
            pid = json.loads(self.proc.stdout.readline())["pid"]
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            if not ready:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.stdout.readline()
                raise subprocess.TimeoutExpired(["netc", *args], timeout, _read(out), _read(err))
            code = json.loads(self.proc.stdout.readline())["returncode"]
        return code, out, err


_templates: dict[tuple, _Template] = {}


def _read(path: Path) -> str:
    """A captured stream as subprocess.run(text=True) returns it: decoded, universal newlines."""
    data = path.read_bytes() if path.exists() else b""
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline=None).read()


def netc_cli(*args, cwd=None, env=None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`netc *args` in a process of its own (forked from a template that has done the imports),
    as subprocess.run(..., capture_output=True, text=True) would return it. `env` replaces the
    environment (default: this process's); `cwd` the working directory."""
    env = dict(os.environ if env is None else env)
    argv = [str(a) for a in args]
    if os.environ.get("NETC_TEST_SUBPROCESS"):
        return subprocess.run([sys.executable, "-m", "netc", *argv], capture_output=True, text=True,
                              cwd=cwd, env=env, timeout=timeout, stdin=subprocess.DEVNULL)
    key = _startup(env)
    template = _templates.get(key)
    if template is None or not template.alive():
        template = _templates[key] = _Template(key)
    code, out, err = template.run(argv, str(cwd or os.getcwd()), env, timeout)
    try:
        return subprocess.CompletedProcess([sys.executable, "-m", "netc", *argv], code, _read(out), _read(err))
    finally:
        for p in (out, err):
            p.unlink(missing_ok=True)
        out.parent.rmdir()
