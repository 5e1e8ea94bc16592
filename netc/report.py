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
    EVAL_COLUMNS = ("train loss (eval)", "train acc (eval)")

    def __init__(self, mode: str = "table", out=None, err=None):
        # the streams of the moment the report is made, not of import time (tests and callers
        # swap sys.stdout; a default argument would keep the one netc was imported with)
        self.mode = mode
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.live = mode == "table" and self.err.isatty()
        self._last_draw = 0.0
        self._header_done = False
        self.classification = True
        self.eval_train = False
        self.mode_dependent = False

    def start(self, lines: list[str], classification: bool = True, eval_train: bool = False,
              mode_dependent: bool = False) -> None:
        """What is being trained (data, network, settings), before the first epoch. A regression
        run's table has no accuracy columns; `eval_train` adds the training split's loss (and
        accuracy) measured in evaluation mode after each epoch; `mode_dependent` (the network has
        dropout or batch norm) makes the legend say what training mode changes."""
        self.classification, self.eval_train = classification, eval_train
        self.mode_dependent = mode_dependent
        if self.mode == "table":
            for line in lines:
                print(line, file=self.out)
            print(file=self.out)

    def columns(self) -> list[str]:
        """The table's column headers for this run."""
        cols = ["epoch", "train loss"] + (["train acc"] if self.classification else [])
        if self.eval_train:
            cols += list(self.EVAL_COLUMNS if self.classification else self.EVAL_COLUMNS[:1])
        cols += ["val loss"] + (["val acc"] if self.classification else []) + ["seconds"]
        return cols

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

    def epoch(self, r, train_eval: tuple | None = None) -> None:
        """One finished epoch: a table row, or a JSON line. `train_eval` is (loss, accuracy) of the
        training split in evaluation mode (with --eval-train; None for epochs replayed from a
        checkpoint)."""
        if self.mode == "json":
            rec = {"epoch": r.epoch, "train_loss": r.train_loss, "train_accuracy": r.train_accuracy,
                   "val_loss": r.val_loss, "val_accuracy": r.val_accuracy, "seconds": round(r.seconds, 4)}
            if self.eval_train:
                rec["train_eval_loss"], rec["train_eval_accuracy"] = train_eval or (None, None)
            self._json(rec)
            return
        if self.mode != "table":
            return
        if self.live:
            self.err.write("\r\x1b[K")
        cols = self.columns()
        widths = [max(10, len(c)) for c in cols]
        if not self._header_done:
            print("  ".join(c.rjust(w) for c, w in zip(cols, widths)), file=self.out)
            self._header_done = True
        ev_loss, ev_acc = train_eval or (None, None)
        cells = {"epoch": str(r.epoch), "train loss": _num(r.train_loss), "train acc": _pct(r.train_accuracy),
                 self.EVAL_COLUMNS[0]: _num(ev_loss), self.EVAL_COLUMNS[1]: _pct(ev_acc),
                 "val loss": _num(r.val_loss), "val acc": _pct(r.val_accuracy), "seconds": f"{r.seconds:.2f}"}
        print("  ".join(cells[c].rjust(w) for c, w in zip(cols, widths)), file=self.out, flush=True)

    def legend(self) -> str:
        """The line under the table saying how the train columns were measured."""
        what = "train loss/acc" if self.classification else "train loss"
        mode = " in training mode (dropout on, batch norm on batch statistics)" if self.mode_dependent else ""
        text = f"{what}: running means over the epoch's batches{mode}, while the weights change"
        if self.eval_train:
            return text + "; (eval): the whole training split after the epoch in evaluation mode, as netc eval measures it"
        return text + "; --eval-train adds the training split in evaluation mode, as netc eval measures it"

    def finish(self, final, best_epoch: int | None, params: int, wall: float, note: str | None = None,
               interrupted: bool = False, weights: str | None = None, after: tuple[str, ...] = (),
               extra: dict | None = None) -> None:
        """The summary: best epoch, final metrics, parameter count, wall time, then the `after`
        lines (which weights the run ends with, where they are saved). In JSON, `"weights"`
        ('best' or 'last'), `"interrupted": true` when Ctrl-C ended the run, and the `extra` keys
        (the mse in the target's units with `standardize target`)."""
        if self.live:
            self.err.write("\r\x1b[K")
        if self.mode == "table" and self._header_done:
            print(self.legend(), file=self.out)
        if self.mode == "json":
            rec = {"final": True, "epoch": final.epoch if final else None,
                   "train_loss": final.train_loss if final else None,
                   "train_accuracy": final.train_accuracy if final else None,
                   "val_loss": final.val_loss if final else None,
                   "val_accuracy": final.val_accuracy if final else None,
                   "seconds": round(final.seconds, 4) if final else None,
                   "best_epoch": best_epoch, "parameters": params, "wall_seconds": round(wall, 3)}
            if weights is not None:
                rec["weights"] = weights
            if interrupted:
                rec["interrupted"] = True
            rec.update(extra or {})
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
        for line in after:
            print(line, file=self.out)

    def _json(self, rec: dict) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}
        print(json.dumps(clean), file=self.out, flush=True)
