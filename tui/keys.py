"""The debugger's keys, in one table: the app's bindings and the help screen both read it."""
from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    key: str            # Textual key name(s), comma-separated
    action: str         # the app's action
    label: str | None   # in the footer; None: not shown there
    shown: str          # how the help screen writes the key
    help: str           # what it does, for the help screen
    minor: bool = False  # left out of the footer in the tabbed layout (80 columns hold the others)


KEYS = (
    Key("n,space", "step", "node", "n  space", "step one node: a node's forward, the loss, a node's "
        "backward (in reverse order) or the parameter update"),
    Key("i", "iteration", "iter", "i", "run to the end of the iteration: the parameter update"),
    Key("c", "continue", "cont", "c", "continue until a breakpoint, a NaN or Inf, or the end; "
        "c again pauses"),
    Key("b", "toggle_break", "brk", "b", "toggle a breakpoint on the selected node"),
    Key("B", "conditional_break", "cond", "B", "breakpoints with a condition, e.g. "
        "dense1:grad_norm>10, relu1:zero_frac>0.9, *:var<1e-8", minor=True),
    Key("g", "gradcheck", "grad", "g", "check the selected node's analytic backward against "
        "finite differences on the current batch", minor=True),
    Key("m", "modes", "modes", "m", "the current batch through training and evaluation mode, side "
        "by side per node (batchnorm and dropout differ)", minor=True),
    Key("h", "history", "hist", "h", "the selected node over the iterations: mean with its "
        "15th-85th percentile band", minor=True),
    Key("o", "overview", "all", "o", "all layers at a glance: std bars on one scale, zero and saturated "
        "fractions, gradient norms, update ratios, flags and histograms"),
    Key("x", "shared_axis", None, "x", "in the overview: histograms on one shared axis or each on its own"),
    Key("a", "activations_only", None, "a", "in the overview: every node, or only the nodes without "
        "parameters (the activations)"),
    Key("w", "warnings", None, "w", "the file's lint warnings (what netc check says)"),
    Key("s", "stats", None, "s", "back to the selected node's statistics"),
    Key("1", "pane('detail')", None, "1 2 3 4", "in a small terminal: show the node panel, the source, "
        "the loss or an image node's channels (heatmaps) beside the graph"),
    Key("2", "pane('source')", None, "", ""),
    Key("3", "pane('loss')", None, "", ""),
    Key("4", "pane('channels')", None, "", ""),
    Key("left_square_bracket", "back", "prev", "[", "back to the start of the previous iteration "
        "(replaying it gives exactly the same numbers)"),
    Key("right_square_bracket", "forward", "next", "]", "forward to the start of the next iteration"),
    Key("r", "restart", "restart", "r", "back to the start of the run", minor=True),
    Key("escape", "follow", None, "esc", "select the current node again: the selection follows the run"),
    Key("question_mark", "help", "help", "?", "this help"),
    Key("q,ctrl+c", "quit", "quit", "q", "quit (also ctrl+c)"),
)

MOVE_KEYS = (("↑ ↓  home end", "move the selection in the graph (it then stays on that node)"),)


MINOR_ACTIONS = frozenset(k.action for k in KEYS if k.minor)


def bindings() -> list[Binding]:
    """The app's bindings, in the footer's order."""
    return [Binding(k.key, k.action, k.label or "", show=k.label is not None) for k in KEYS]


def help_rows() -> list[tuple[str, str]]:
    """(key as shown, what it does) for the help screen (keys that share a row are listed once)."""
    return [(k.shown, k.help) for k in KEYS if k.help]
