"""`netc debug FILE --web`: the same debugger served to a browser with textual-serve (the
`netc[web]` extra). Each browser tab runs its own `netc debug FILE ...` in a subprocess.

Only loopback addresses: the debugger runs the code of its command for whoever opens the page,
so it is never offered to the network.
"""
from __future__ import annotations

import errno
import ipaddress
import shlex
import socket
import sys

from netc.spec.diagnostics import NetcError

PIP_HINT = "pip install 'netc[web]'"


def check_host(host: str) -> None:
    """A NetcError unless `host` is a loopback address (127.0.0.0/8, ::1 or localhost)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NetcError(f"--host {host}: netc debug --web serves only on this machine's loopback address",
                        hint="use --host 127.0.0.1 (the default) and, to reach it from elsewhere, an SSH "
                             "tunnel: ssh -L 8000:127.0.0.1:8000 HOST")


def port_free(host: str, port: int) -> bool:
    """Whether a server can listen on host:port now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check_port(host: str, port: int) -> None:
    """A NetcError naming a free port to try when `port` is taken (or not allowed)."""
    if not 1 <= port <= 65535:
        raise NetcError(f"--port {port}: a port is a number from 1 to 65535", hint="try --port 8000")
    if port_free(host, port):
        return
    free = next((p for p in range(port + 1, min(port + 100, 65536)) if port_free(host, p)), None)
    raise NetcError(f"port {port} on {host} is in use (or not allowed)",
                    hint=f"try --port {free}" if free else "choose another --port")


def preflight(host: str, port: int) -> None:
    """Every check that can fail before serving: a loopback host, textual-serve installed, the
    port free (NetcError, exit 2, otherwise)."""
    check_host(host)
    try:
        import textual_serve.server  # noqa: F401
    except ImportError:
        raise NetcError("netc debug --web needs textual-serve, which is not installed",
                        hint=PIP_HINT) from None
    check_port(host, port)


def serve(file: str, args: list[str], host: str, port: int) -> int:
    """Serve `netc debug FILE ARGS...` at http://host:port until ctrl+c; the exit status."""
    preflight(host, port)
    from textual_serve.server import Server
    command = shlex.join([sys.executable, "-m", "netc", "debug", file, *args])
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    print(f"netc debug: serving {file} at {url} (each browser tab gets its own session; ctrl+c stops)",
          flush=True)
    Server(command, host=host, port=port, title=f"netc debug {file}", public_url=url).serve()
    return 0
