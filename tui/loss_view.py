"""The loss per iteration, raw (faint) and as a moving average (bright), as a braille line plot,
with each finished epoch's validation loss (a dot at the epoch's last iteration) and, where there
is room, a table of the epochs' validation loss and accuracy beside it.

Attributes down: the app sets `data` (a LossData: the stepper's LossCurve, whose moving average is
the runtime's, and the trainer's EpochResults).
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from .fmt import num, pct, short
from .lines import Lines
from .plot import Series, line_plot

TABLE_FROM = 70     # the panel's width from which the epoch table sits beside the plot


@dataclass(frozen=True)
class LossData:
    """The stepper's LossCurve (None before any); the finished epochs (runtime EpochResult);
    classification or not."""

    curve: object = None
    epochs: tuple = ()
    classification: bool = True
    per_epoch: int = 0  # iterations per epoch (where an epoch's validation dot goes)


class LossView(Lines):
    """A plot of the loss over the iterations, the newest values in the title and subtitle."""

    COMPONENT_CLASSES = {"loss--raw", "loss--average", "loss--val"}
    data: reactive[LossData] = reactive(LossData, always_update=True, repaint=False)

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._key = None

    @property
    def curve(self):
        """The LossCurve on screen."""
        return self.data.curve

    def watch_data(self, d: LossData) -> None:
        key = (id(d.curve), len(d.epochs))
        if key == self._key:
            return
        self._key = key
        self._titles()
        self._draw()

    def _titles(self) -> None:
        d, width = self.data, self.size.width
        c = d.curve
        window = c.window if c is not None else 20
        self.border_title = (f"loss per iteration: raw ⠒, moving average over {window} ━, validation ●"
                             if width >= 70 else "loss: raw ⠒ average ━ val ●")
        parts = []
        if c is not None and c.raw:
            parts.append(f"iteration {c.iterations[-1] + 1}: {num(c.raw[-1])} · average {num(c.average[-1])}")
        if d.epochs and d.epochs[-1].val_loss is not None:
            e = d.epochs[-1]
            val = f"epoch {e.epoch}: val {num(e.val_loss)}" + (f" {pct(e.val_accuracy)}" if e.val_accuracy is not None
                                                              else "")
            parts.append(val)
        text = " · ".join(parts)
        self.border_subtitle = text if len(text) + 4 <= width else (parts[-1] if parts else "")

    def on_resize(self) -> None:
        super().on_resize()
        self._titles()
        self._draw()

    def _table(self, height: int) -> list[str]:
        """The last epochs that fit: epoch, validation loss (and accuracy), newest last."""
        d = self.data
        rows = [e for e in d.epochs if e.val_loss is not None]
        acc = d.classification and any(e.val_accuracy is not None for e in rows)
        head = "epoch  val loss" + ("   acc" if acc else "")
        lines = [f"{e.epoch:>5}  {short(e.val_loss):>8}" + (f" {pct(e.val_accuracy, 1):>6}" if acc else "")
                 for e in rows[-(height - 1):]] if height > 1 else []
        return [head] + lines

    def _draw(self) -> None:
        d = self.data
        w, h = self.content_size.width, self.content_size.height
        c = d.curve
        if c is None or not c.raw:
            import textwrap
            note = "the loss appears after the first forward pass (press n, i or c)"
            self.show([Text(line, style="dim") for line in textwrap.wrap(note, max(w, 20))])
            return
        table = self._table(h) if w >= TABLE_FROM and d.epochs else []
        table_w = max((len(t) for t in table), default=-2) + 2
        xs = [i + 1 for i in c.iterations]
        raw = self.get_component_rich_style("loss--raw", partial=True)
        avg = self.get_component_rich_style("loss--average", partial=True)
        val = self.get_component_rich_style("loss--val", partial=True)
        series = [Series(xs, list(c.raw), raw), Series(xs, list(c.average), avg)]
        ends = self._epoch_ends()
        if ends:
            series.append(Series([x for x, _ in ends], [v for _, v in ends], val, points=True))
        plot = line_plot(w - table_w, h, series).split("\n")
        if table:
            head, *rows = table
            plot = [line + Text("  ") + Text(head if i == 0 else (rows[i - 1] if i - 1 < len(rows) else ""),
                                            style="dim" if i == 0 else "")
                    for i, line in enumerate(plot)]
        self.show(plot)

    def _epoch_ends(self) -> list[tuple[int, float]]:
        """(iteration, validation loss) at the end of each finished epoch with validation data."""
        d = self.data
        return [(e.epoch * d.per_epoch, e.val_loss) for e in d.epochs if e.val_loss is not None and d.per_epoch]
