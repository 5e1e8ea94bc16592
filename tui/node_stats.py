"""The selected node's statistics as the runtime's snapshots give them: its activations and the
gradient at its output (numbers and histograms), and its parameters (with the last update's
update/weight ratio). The loss and update rows use the same panels: the loss and the learning
rate, and every parameter. The layout never changes, so a step never re-lays out the screen.

Attributes down: the app sets `view` (a NodeView).
"""
from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive

from .channels_view import ChannelsView
from .fmt import MISSING, fit_columns, num, pct, shape, where
from .histogram import HistogramView
from .lines import Lines, ScrollLines
from .session import LOSS_ROW, UPDATE_ROW


@dataclass(frozen=True)
class NodeView:
    """What to show: the row, its plan step (None for loss/update), the newest snapshot taken
    there, the newest update snapshot, whether the run is paused at this row now, and whether the
    selection follows the run."""

    row: str
    step: object = None
    snap: object = None
    update: object = None
    current: bool = False
    following: bool = True


SHORT_LABELS = {"saturated": "sat", "iteration": "iter"}


def _grid(rows: list[tuple[str, str]], room: int = 80) -> list[Text]:
    """Label and value pairs, one per line, the values right-aligned in one column; labels are
    shortened (never the values) when `room` is narrow."""
    width = max((len(v) for _, v in rows), default=0)
    label = max(min(10, room - width - 1), max(len(SHORT_LABELS.get(k, k)) for k, _ in rows) + 1)
    return [Text.assemble(((k if len(k) < label else SHORT_LABELS.get(k, k)[:label - 1]).ljust(label), "dim"),
                          v.rjust(width)) for k, v in rows]


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]], room: int = 200,
           drop: tuple[int, ...] = ()) -> list[Text]:
    """A header and rows: the first column left-aligned, the others right-aligned; the columns
    that do not fit `room` are left out whole (those in `drop` first)."""
    keep = fit_columns(head, rows, room, drop)
    head, rows = tuple(head[i] for i in keep), [tuple(r[i] for i in keep) for r in rows]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]

    def line(cells):
        return " ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return [Text(line(head), style="dim")] + [Text(line(r)) for r in rows]


class StatsView(Vertical):
    """Header, two cards (activation and gradient: numbers over a histogram) and a parameter table."""

    view: reactive[NodeView | None] = reactive(None, always_update=True, repaint=False)

    def compose(self) -> ComposeResult:
        yield Lines(id="node-title")
        with Horizontal(id="cards"):
            with Vertical(id="act-card", classes="card"):
                yield Lines(id="act-numbers")
                yield HistogramView(id="act-hist")
            with Vertical(id="grad-card", classes="card"):
                yield Lines(id="grad-numbers")
                yield HistogramView(id="grad-hist")
        yield ChannelsView(id="channels")
        yield ScrollLines(id="params")

    def on_mount(self) -> None:
        self.query_one("#params").border_title = "parameters"

    def on_resize(self) -> None:
        self.call_after_refresh(self.watch_view, self.view)  # texts fitted to the new width

    def watch_view(self, v: NodeView | None) -> None:
        if v is None or not self.is_mounted:
            return
        self.query_one("#node-title", Lines).show(self._title(v))
        if v.row == LOSS_ROW:
            self._loss_cards(v.snap)
        elif v.row == UPDATE_ROW:
            self._update_cards(v.update)
        else:
            self._cards(v.snap)
        self._channels(v)
        self.query_one("#params", ScrollLines).show(self._params(v))

    def _channels(self, v: NodeView) -> None:
        """An image node's channels below the cards (its class `-images` gives them room)."""
        a = v.snap.activation if v.snap is not None and v.row not in (LOSS_ROW, UPDATE_ROW) else None
        cs = a.channels if a is not None else None
        self.set_class(cs is not None, "-images")
        view = self.query_one(ChannelsView)
        view.empty = ("not an image node: channels are shown for outputs (B, C, H, W)"
                      if v.snap is not None or v.step is None else "after the node has run")
        view.channels = cs

    def _title(self, v: NodeView) -> Text:
        """Name, op, line, phase and iteration, and the selection note: the parts that fit the
        width, in that order of importance (the op and the note go first)."""
        snap = v.update if v.row == UPDATE_ROW else v.snap
        name = ({LOSS_ROW: "loss", UPDATE_ROW: "parameter update"}.get(v.row, v.row), "bold")
        label = (f"  {v.step.label}", "italic") if v.step is not None else None
        line = (f"  {where(v.step.span, v.step.calls)}", "dim") if v.step is not None else None
        if snap is None:
            phase = ("  · not reached yet", "dim")
        else:
            phase = (f"  · {snap.phase}, iteration {snap.iteration + 1}" + ("" if v.current else " (last seen)"),
                     "bold" if v.current else "dim")
        note = None if v.following else ("  (selected; esc follows the run)", "dim italic")
        parts = [name, label, line, phase, note]
        width = self.query_one("#node-title").content_size.width or 200
        for drop in (4, 1, 2):  # the note, the op, the line
            if sum(len(p[0]) for p in parts if p) <= width:
                break
            parts[drop] = None
        return Text.assemble(*(p for p in parts if p), no_wrap=True)

    def _set_cards(self, titles: tuple[str, str], numbers: tuple[list, list], hists: tuple, empty: tuple) -> None:
        for side, title, lines, hist, note in zip(("act", "grad"), titles, numbers, hists, empty):
            self.query_one(f"#{side}-card").border_title = title
            self.query_one(f"#{side}-numbers", Lines).show(lines)
            view = self.query_one(f"#{side}-hist", HistogramView)
            view.empty = note
            view.hist = hist

    def _cards(self, snap) -> None:
        a = snap.activation if snap is not None else None
        g = snap.gradient if snap is not None else None
        act = [("mean", num(a and a.mean, a and a.std)), ("var", num(a and a.var)), ("std", num(a and a.std)),
               ("min", num(a and a.min)), ("max", num(a and a.max)), ("zero", pct(a.zero_frac) if a else MISSING),
               ("saturated", pct(a.saturated_frac) if a and a.saturated_frac is not None else MISSING)]
        grad = [("mean", num(g and g.mean, g and g.var ** 0.5)), ("var", num(g and g.var)), ("norm", num(g and g.norm))]
        later = "after the loss, in the backward pass" if snap is not None and g is None else "not run yet"
        room = self._room()
        grad_title = "gradient at its output" if room >= 26 else "gradient"
        self._set_cards(("activations", grad_title), (_grid(act, room), _grid(grad, room)),
                        (a.hist if a else None, g.hist if g else None),
                        ("no values" if a else "not run yet", later))

    def _loss_cards(self, snap) -> None:
        rows = [("loss", num(snap and snap.loss)), ("lr", num(snap and snap.lr)),
                ("iteration", str(snap.iteration + 1) if snap else MISSING),
                ("epoch", str(snap.epoch + 1) if snap else MISSING),
                ("batch", str(snap.batch + 1) if snap else MISSING)]
        note, rest = self._wrap("The batch's loss plus the weight penalty. The backward pass starts from its "
                                "gradient and goes back up the graph.")
        self._set_cards(("loss", "then"), (_grid(rows, self._room()), note), (None, None), ("", rest))

    def _update_cards(self, snap) -> None:
        rows = [("lr", num(snap and snap.lr)), ("params", str(len(snap.params)) if snap else MISSING),
                ("iteration", str(snap.iteration + 1) if snap else MISSING)]
        note, rest = self._wrap("Each parameter steps against its gradient (clipped and penalized as the train "
                                "section says). update/w: the step's size over the weights' size.")
        self._set_cards(("update", "what happens"), (_grid(rows, self._room()), note), (None, None), ("", rest))

    def _room(self) -> int:
        """The width of a card's numbers."""
        return self.query_one("#act-numbers").content_size.width or 40

    def _wrap(self, text: str) -> tuple[list[Text], str]:
        """A note in dim lines as wide as the gradient card (panels clip, they do not wrap), and
        what does not fit its rows (at 80 columns): the empty histogram under it shows that."""
        import textwrap
        box = self.query_one("#grad-numbers")
        lines = textwrap.wrap(text, max(box.size.width, 16))
        rows = box.size.height or len(lines)
        return [Text(line, style="dim") for line in lines[:rows]], " ".join(lines[rows:])

    def _params(self, v: NodeView) -> list[Text]:
        snap, update = v.snap, v.update
        if v.row == LOSS_ROW:
            return [Text("the loss has no parameters", style="dim")]
        params = (update.params if update else ()) if v.row == UPDATE_ROW else (snap.params if snap else ())
        if not params:
            no_params = v.step is not None and not v.step.kernel.param_shapes()
            return [Text("no learned parameters" if no_params else "after the node has run", style="dim")]
        ratios = {p.name: p.update_ratio for p in update.params} if update else {}
        room = self.query_one("#params").scrollable_content_region.width or 80
        if v.row == UPDATE_ROW:  # every parameter: what the update did first
            rows = [(p.name, num(p.update_ratio), num(p.grad_norm), num(p.mean, p.std), num(p.std)) for p in params]
            return _table(("param", "update/w", "grad norm", "mean", "std"), rows, room)
        prefix = v.row + "."
        # a parameter gradient below float32 precision of the gradient it sums is noise (fmt.num)
        out_grad = snap.gradient.norm if snap is not None and snap.gradient is not None else None
        rows = [(p.name[len(prefix):], shape(p.shape), num(p.mean, p.std), num(p.std), num(p.grad_norm, out_grad),
                 num(ratios.get(p.name))) for p in params]
        return _table(("param", "shape", "mean", "std", "grad norm", "update/w"), rows, room, drop=(1, 2))
