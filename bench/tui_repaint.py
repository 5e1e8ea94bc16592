"""How long a single node step takes to reach the screen in `netc debug`.

    python bench/tui_repaint.py                     # examples/digits.net, 160x48, 200 steps
    python bench/tui_repaint.py --size 120x40 --steps 400 examples/residual.net
    python bench/tui_repaint.py --size 80x24 --view overview   # the all-layers panel on screen
    python bench/tui_repaint.py --size 80x24 --view channels examples/digits_cnn.net   # heatmaps (pane 4)

Drives the app headless with Textual's pilot. For each step it presses `n` and measures from the key
press to the end of the first screen refresh (the compositor's render of every changed widget) that
starts after the step's action has run: key dispatch + the runtime's step + handing the snapshot to
the widgets + repainting them. Prints the median, the 90th percentile and the worst case, and the
parts (the action alone, the refresh alone). The target is a median under 30 ms.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def measure(path: str, size: tuple[int, int], steps: int, warmup: int,
                  view: str = "stats") -> dict[str, list[float]]:
    from textual.screen import Screen

    from netc.tui.app import DebuggerApp
    from netc.tui.session import open_session

    refreshes: list[tuple[float, float]] = []
    original = Screen._compositor_refresh

    def timed_refresh(self):
        start = time.perf_counter()
        try:
            return original(self)
        finally:
            refreshes.append((start, time.perf_counter()))

    Screen._compositor_refresh = timed_refresh
    app = DebuggerApp(open_session(path), settle_gc=True)  # as `netc debug` runs it
    acted: list[float] = []
    step = app.action_step

    def timed_step():
        start = time.perf_counter()
        step()
        acted.append(time.perf_counter() - start)
        app._bench_done = time.perf_counter()

    app.action_step = timed_step
    out = {"total": [], "action": [], "refresh": [], "phase": []}
    try:
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.5)  # past the start-up settling (see DebuggerApp._settle)
            if view in ("overview", "channels"):
                await pilot.press("o" if view == "overview" else "4")  # 4: the channels pane when tabbed
                await pilot.pause(0.1)
            for i in range(warmup + steps):
                app._bench_done = None
                start = time.perf_counter()
                await pilot.press("n")
                while True:  # the first refresh that began after the step's action
                    done = app._bench_done
                    after = [r for r in refreshes if done is not None and r[0] >= done]
                    if after:
                        break
                    await asyncio.sleep(0.0005)
                if i >= warmup:
                    out["total"].append(after[0][1] - start)
                    out["action"].append(acted[-1])
                    out["refresh"].append(after[0][1] - after[0][0])
                    snap = app.session.snapshot
                    out["phase"].append(snap.phase if snap is not None else "end")
                await pilot.pause(0.02)
                if app.session.finished:
                    break
    finally:
        Screen._compositor_refresh = original
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", nargs="?", default=str(ROOT / "examples" / "digits.net"))
    p.add_argument("--size", default="160x48", help="terminal size WIDTHxHEIGHT (default 160x48)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--view", choices=("stats", "overview", "channels"), default="stats",
                   help="the detail panel on screen while stepping (default: the node's statistics; "
                        "channels: an image node's heatmaps, the whole panel in a small terminal)")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    out = asyncio.run(measure(args.file, (w, h), args.steps, args.warmup, args.view))
    total = sorted(out["total"])

    def ms(v: float) -> str:
        return f"{1000 * v:.1f} ms"
    print(f"{Path(args.file).name} at {w}x{h}, {args.view} panel, {len(total)} single-node steps (n)")
    print(f"  key press to repainted screen: median {ms(statistics.median(total))}, "
          f"p90 {ms(total[int(0.9 * (len(total) - 1))])}, max {ms(total[-1])}")
    print(f"  of which: step action median {ms(statistics.median(out['action']))}, "
          f"screen refresh median {ms(statistics.median(out['refresh']))}")
    by_phase: dict[str, list[float]] = {}
    for phase, t in zip(out["phase"], out["total"]):
        by_phase.setdefault(phase, []).append(t)
    print("  median by phase: " + ", ".join(f"{p} {ms(statistics.median(v))} ({len(v)})"
                                             for p, v in by_phase.items()))
    return 0 if statistics.median(total) < 0.030 else 1


if __name__ == "__main__":
    sys.exit(main())
