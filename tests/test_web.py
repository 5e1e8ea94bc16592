"""`netc debug FILE --web`: the debugger served with textual-serve, opened in headless Chromium
(Debian's `chromium` through Playwright), keys pressed in the page, and the node statistics seen
changing in what the page receives. Bad input: a host that is not loopback, a port in use, the
extra missing, all exit 2 before anything is served."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time


from netc import cli

from conftest import EXAMPLES, ROOT, require

DIGITS = str(EXAMPLES / "digits.net")
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_web_serves_only_on_loopback(capsys):
    assert cli.main(["debug", DIGITS, "--web", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "only on this machine's loopback address" in err and "ssh -L" in err
    assert cli.main(["debug", DIGITS, "--web", "--host", "example.com"]) == 2


def test_web_port_in_use_suggests_another(capsys):
    require("textual_serve")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["debug", DIGITS, "--web", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is in use" in err
    suggested = int(re.search(r"try --port (\d+)", err).group(1))
    assert suggested > port


def test_web_without_the_extra_names_the_pip_command(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "textual_serve", None)     # import fails as if not installed
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    assert cli.main(["debug", DIGITS, "--web", "--port", str(free_port())]) == 2
    assert "pip install 'netc[web]'" in capsys.readouterr().err


def test_web_bad_file_exits_2_before_serving(tmp_path, capsys):
    require("textual_serve")
    broken = tmp_path / "broken.net"
    broken.write_text("model m {\n    input 4\n    dense\n}\n")
    assert cli.main(["debug", str(broken), "--web", "--port", str(free_port())]) == 2
    assert "broken.net:3" in capsys.readouterr().err


def test_web_page_steps_the_debugger_in_chromium(tmp_path):
    require("textual_serve")
    playwright = require("playwright.sync_api")
    chromium = require("chromium")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "netc", "debug", DIGITS, "--web", "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        line = server.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line
        frames: list[bytes] = []
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True)
            page = browser.new_page(viewport={"width": 1100, "height": 660})
            page.route("https://**/*", lambda route: route.abort())   # the page's web fonts: offline
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda f: frames.append(f if isinstance(f, bytes) else f.encode())))
            page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
            page.wait_for_function("document.body.classList.contains('-first-byte')", timeout=120_000)

            def after(key: str, expect: str) -> str:
                """Press `key` in the page; the text the app sends back until `expect` shows."""
                frames.clear()
                page.keyboard.press(key)
                deadline, text = time.monotonic() + 60, ""
                while time.monotonic() < deadline:
                    page.wait_for_timeout(200)
                    text = ANSI.sub(b" ", b"".join(frames)).decode("utf-8", "ignore")
                    text = re.sub(r"\s+", " ", text)
                    if expect in text:
                        return text
                raise AssertionError(f"{expect!r} not shown after {key!r}: {len(frames)} frames, {text[-1500:]!r}")

            def stats(text: str) -> list[str]:
                return re.findall(r"(mean|std|max)\s+(-?[0-9][0-9.e+-]*)", text)

            page.wait_for_timeout(1500)
            page.focus(".xterm-helper-textarea")                  # keys go to the terminal
            first = after("n", "forward input")
            second = after("n", "forward hidden1.dense1")
            third = after("n", "forward hidden1.batchnorm1")
            assert stats(second) and stats(third) and stats(second) != stats(third)
            assert stats(first) != stats(second)
            page.screenshot(path=str(tmp_path / "debugger-web.png"))
            if os.environ.get("NETC_WEB_SCREENSHOT"):   # how docs/debugger-web.png was made
                page.screenshot(path=os.environ["NETC_WEB_SCREENSHOT"])
            browser.close()
    finally:
        server.terminate()
        server.wait(20)
