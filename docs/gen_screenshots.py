"""Regenerate the debugger's screenshots in docs/ from the current app (SVG, as Textual draws it).

    python docs/gen_screenshots.py            # rewrite every screenshot of SHOTS
    python docs/gen_screenshots.py debugger   # only docs/debugger.svg

Each screenshot is a file, a terminal size and the keys pressed before it is taken; the run is
seeded, so the numbers are the same on every run on one machine (another CPU may round the last
digit of a figure differently). README.md and docs/debugger.md show docs/debugger.svg,
docs/images.md docs/debugger-cnn.svg.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Shot:
    name: str                 # docs/NAME.svg
    file: str                 # the .net file, relative to the repository
    size: tuple[int, int]
    keys: tuple[str, ...]     # pressed in order; "i" waits for its iteration to end
    title: str


SHOTS = (
    Shot("debugger", "examples/digits.net", (160, 48), ("i",) * 20 + ("n",) * 15,
         "netc debug examples/digits.net: the backward pass of iteration 21"),
    Shot("debugger-cnn", "examples/digits_cnn.net", (160, 48), ("n",) * 6,
         "netc debug examples/digits_cnn.net: a batchnorm node's channels"),
)


async def take(shot: Shot, out: Path) -> None:
    """Press the shot's keys in a headless app and write its screenshot to `out`."""
    from netc.tui.app import DebuggerApp
    from netc.tui.session import open_session

    app = DebuggerApp(open_session(shot.file))  # relative: the source panel's title is the path given
    async with app.run_test(size=shot.size) as pilot:
        await pilot.pause()
        for key in shot.keys:
            await pilot.press(key)
            while app.running or app.busy:   # `i` runs in the app's timer: wait for its end
                await pilot.pause(0.01)
        await pilot.pause(0.1)
        out.write_text(app.export_screenshot(title=shot.title), encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help=f"which screenshots (default: all of {', '.join(s.name for s in SHOTS)})")
    args = p.parse_args()
    unknown = set(args.names) - {s.name for s in SHOTS}
    if unknown:
        p.error(f"unknown screenshot {', '.join(sorted(unknown))}; known: {', '.join(s.name for s in SHOTS)}")
    os.chdir(ROOT)
    for shot in SHOTS:
        if args.names and shot.name not in args.names:
            continue
        out = ROOT / "docs" / f"{shot.name}.svg"
        asyncio.run(take(shot, out))
        print(f"wrote {out.relative_to(ROOT)} ({shot.file}, {shot.size[0]}x{shot.size[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
