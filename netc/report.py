"""How a training run shows itself: a live progress bar, a table row per epoch, a summary, or
JSON lines. Plain text written by hand: `netc run` must start fast and not import Textual."""
from __future__ import annotations

import json
import math
import sys
import time


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.4g}"


class Report:
    """Prints a run: `mode` is 'table' (default), 'quiet' (summary only) or 'json' (JSON lines)."""

    COLUMNS = ("epoch", "train loss", "train acc", "val loss", "val acc", "seconds")

    def __init__(self, mode: str = "table", out=None, err=None):
        # the streams of the moment the report is made, not of import time (tests and callers
        # swap sys.stdout; a default argument would keep the one netc was imported with)
        self.mode = mode
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.live = mode == "table" and self.err.isatty()
        self._last_draw = 0.0
        self._header_done = False

    def start(self, lines: list[str]) -> None:
        """What is being trained (data, network, settings), before the first epoch."""
        if self.mode == "table":
            for line in lines:
                print(line, file=self.out)
            print(file=self.out)

    def batch(self, epoch: int, epochs: int, done: int, total: int, loss: float, speed: float) -> None:
        """Redraw the progress bar (at most 20 times a second, and on the last batch)."""
        if not self.live:
            return
        now = time.perf_counter()
        if done < total and now - self._last_draw < 0.05:
            return
        self._last_draw = now
        width = 24
        filled = int(width * done / total)
        bar = "█" * filled + "░" * (width - filled)
        self.err.write(f"\r  epoch {epoch + 1}/{epochs} {bar} {done}/{total}  loss {loss:.4f}  "
                       f"{speed:,.0f} ex/s \x1b[K")
        self.err.flush()

    def epoch(self, r) -> None:
        """One finished epoch: a table row, or a JSON line."""
        if self.mode == "json":
            self._json({"epoch": r.epoch, "train_loss": r.train_loss, "train_accuracy": r.train_accuracy,
                        "val_loss": r.val_loss, "val_accuracy": r.val_accuracy, "seconds": round(r.seconds, 4)})
            return
        if self.mode != "table":
            return
        if self.live:
            self.err.write("\r\x1b[K")
        if not self._header_done:
            print("  ".join(c.rjust(10) for c in self.COLUMNS), file=self.out)
            self._header_done = True
        cells = (str(r.epoch), _num(r.train_loss), _pct(r.train_accuracy), _num(r.val_loss),
                 _pct(r.val_accuracy), f"{r.seconds:.2f}")
        print("  ".join(c.rjust(10) for c in cells), file=self.out, flush=True)

    def finish(self, final, best_epoch: int | None, params: int, wall: float, note: str | None = None,
               interrupted: bool = False) -> None:
        """The summary: best epoch, final metrics, parameter count, wall time (in JSON, with
        `"interrupted": true` when Ctrl-C ended the run)."""
        if self.live:
            self.err.write("\r\x1b[K")
        if self.mode == "json":
            rec = {"final": True, "epoch": final.epoch if final else None,
                   "train_loss": final.train_loss if final else None,
                   "train_accuracy": final.train_accuracy if final else None,
                   "val_loss": final.val_loss if final else None,
                   "val_accuracy": final.val_accuracy if final else None,
                   "seconds": round(final.seconds, 4) if final else None,
                   "best_epoch": best_epoch, "parameters": params, "wall_seconds": round(wall, 3)}
            if interrupted:
                rec["interrupted"] = True
            self._json(rec)
            return
        if self.mode == "table":
            print(file=self.out)
        if final is None:
            print(f"no epoch finished; {params:,} parameters; wall time {wall:.1f} s", file=self.out)
            return
        metrics = f"train loss {_num(final.train_loss)}"
        if final.train_accuracy is not None:
            metrics += f", train acc {_pct(final.train_accuracy)}"
        if final.val_loss is not None:
            metrics += f", val loss {_num(final.val_loss)}"
        if final.val_accuracy is not None:
            metrics += f", val acc {_pct(final.val_accuracy)}"
        print(f"best epoch: {best_epoch}" + (f" ({note})" if note else ""), file=self.out)
        print(f"final (epoch {final.epoch}): {metrics}", file=self.out)
        print(f"parameters: {params:,}   wall time: {wall:.1f} s", file=self.out)

    def _json(self, rec: dict) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}
        print(json.dumps(clean), file=self.out, flush=True)
