"""The compiled graph as text: a summary table, an indented tree, Graphviz DOT, or node-link JSON."""
from __future__ import annotations

import json

import networkx as nx

from ..spec.diagnostics import printable
from ..spec.schema import lookup


def op_label(attrs_of_node: dict) -> str:
    """The op as the user would write it: positional values, then non-default parameters.

    e.g. 'dense 128 init=xavier', 'dropout 0.3', 'add h1'.
    """
    op, attrs = attrs_of_node["op"], attrs_of_node["attrs"]
    schema = lookup("model", op)
    parts = [op]
    for p in schema.positional:
        if p.name in attrs and attrs[p.name] is not None:
            parts.append(_fmt(attrs[p.name]))
    for p in schema.keywords:
        if p.name in attrs and attrs[p.name] != p.default and attrs[p.name] is not None:
            parts.append(f"{p.name}={_fmt(attrs[p.name])}")
    return " ".join(parts)


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def shape_text(shape) -> str:
    """'(B, 128)' for a vector's (None, 128), '(B, 16x8x8)' for an image's (None, 16, 8, 8)."""
    per_example = "x".join(str(d) for d in shape[1:])
    return f"({'B' if shape[0] is None else shape[0]}, {per_example})"


def line_text(a: dict) -> str:
    """The spec line a node came from, with the block call it came through: '10 via 18'."""
    text = str(a["span"].line)
    if a["calls"]:
        text += f" via {a['calls'][0].line}"
    return text


def summary_table(network) -> str:
    """One row per node (name, op, output shape, parameters, spec line), the totals, and the data."""
    g = network.graph
    rows = [(n, op_label(g.nodes[n]), shape_text(g.nodes[n]["shape"]), f"{g.nodes[n]['param_count']:,}",
             line_text(g.nodes[n])) for n in network.order]
    head = ("node", "op", "output", "params", "line")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    def fmt(r):
        return "  ".join((r[i].rjust if i == 3 else r[i].ljust)(widths[i]) for i in range(5)).rstrip()
    rule = "─" * len(fmt(tuple("x" * w for w in widths)))
    out = [f'model "{network.name}" ({printable(network.source.name)})', rule, fmt(head), rule]
    out += [fmt(r) for r in rows]
    out.append(rule)
    out.append(f"parameters: {network.param_count:,}" +
               (f"   buffers (not trained): {network.buffer_count:,}" if network.buffer_count else ""))
    if network.data_description:
        out.append(f"data: {network.data_description}")
    if getattr(network, "label_description", None):
        out.append(network.label_description)
    t = network.train
    out.append(f"train: {t.loss}, {t.optimizer.name} lr={t.optimizer.lr:g}, batch {t.batch}, "
               f"{t.epochs} epoch{'s' if t.epochs != 1 else ''}")
    return "\n".join(out)


def text_tree(network) -> str:
    """The graph as an indented tree: block calls are branches, nodes are leaves."""
    g = network.graph
    lines = [f"{network.name}  ({len(network.order)} nodes, {network.param_count:,} parameters)"]
    entries = []  # (depth, label, shape, extra)
    open_groups: list[str] = []
    for n in network.order:
        a = g.nodes[n]
        groups = a["group"].split(".") if a["group"] else []
        common = 0
        while common < min(len(groups), len(open_groups)) and groups[common] == open_groups[common]:
            common += 1
        open_groups = open_groups[:common]
        for depth in range(common, len(groups)):
            open_groups.append(groups[depth])
            call_line = a["calls"][depth].line if depth < len(a["calls"]) else ""
            entries.append((depth, groups[depth] + "/", "", f"line {call_line}"))
        local = n.rsplit(".", 1)[-1] if a["group"] else n
        extra = f"<- {a['ref']}" if a["ref"] else ""
        if a.get("folded"):  # netc graph --fold
            extra = (extra + f" (+ {a['folded']} folded)").strip()
        entries.append((len(groups), f"{local}: {op_label(a)}", shape_text(a["shape"]), extra))
    for i, (depth, label, shape, extra) in enumerate(entries):
        last = not _continues(entries, i, depth)
        prefix = "".join("│   " if _continues(entries, i, d) else "    " for d in range(depth))
        branch = "└── " if last else "├── "
        text = f"{prefix}{branch}{label}"
        lines.append(f"{text:<48} {shape:<12} {extra}".rstrip())
    return "\n".join(lines)


def _continues(entries, i, depth) -> bool:
    """Whether a sibling at `depth` follows entry i (so the vertical line goes on)."""
    for e in entries[i + 1:]:
        if e[0] < depth:
            return False
        if e[0] == depth:
            return True
    return False


def to_dot(network) -> str:
    """Graphviz DOT: a box per node labelled with its name, op and shape; a cluster per block call."""
    g = network.graph
    out = [f"digraph {_q(network.name)} {{", "  rankdir=TB;",
           '  node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica"];',
           '  edge [fontname="Helvetica", fontsize=10];']
    tree: dict = {}
    for n in network.order:
        node = tree
        for part in (g.nodes[n]["group"].split(".") if g.nodes[n]["group"] else []):
            node = node.setdefault(("group", part), {})
        node[("node", n)] = None
    counter = [0]

    def emit(level: dict, indent: str, path: str):
        for (kind, key), sub in level.items():
            if kind == "node":
                a = g.nodes[key]
                label = f"{key}\\n{op_label(a)}\\n{shape_text(a['shape'])}"
                out.append(f"{indent}{_q(key)} [label={_q(label, escape=False)}];")
            else:
                counter[0] += 1
                full = f"{path}{key}"
                out.append(f"{indent}subgraph cluster_{counter[0]} {{")
                out.append(f"{indent}  label={_q(full)}; style=dashed; color=gray50;")
                emit(sub, indent + "  ", full + ".")
                out.append(f"{indent}}}")

    emit(tree, "  ", "")
    for u, v, e in g.edges(data=True):
        if e["port"] == 0:
            out.append(f"  {_q(u)} -> {_q(v)};")
        else:
            out.append(f"  {_q(u)} -> {_q(v)} [style=dashed, label={_q(g.nodes[v]['op'])}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _q(text: str, escape: bool = True) -> str:
    if escape:
        text = text.replace("\\", "\\\\")
    return '"' + text.replace('"', '\\"') + '"'


def to_json(network) -> str:
    """networkx node-link data, with spans, shapes and parameter shapes as plain JSON values."""
    g = nx.DiGraph(**{k: v for k, v in network.graph.graph.items()})
    for n, a in network.graph.nodes(data=True):
        g.add_node(n, op=a["op"], attrs=a["attrs"], shape=list(a["shape"]),
                   params={k: list(v) for k, v in a["params"].items()},
                   buffers={k: list(v) for k, v in a["buffers"].items()},
                   param_count=a["param_count"], span=a["span"].to_dict(),
                   calls=[c.to_dict() for c in a["calls"]], group=a["group"], index=a["index"], ref=a["ref"])
    for u, v, e in network.graph.edges(data=True):
        g.add_edge(u, v, **e)
    data = nx.node_link_data(g, edges="edges")
    data["graph"]["data"] = network.data.to_dict() if network.data else None
    data["graph"]["train"] = network.train.to_dict()
    return json.dumps(data, indent=2, default=_jsonable)


def _jsonable(v):
    if isinstance(v, tuple):
        return list(v)
    raise TypeError(type(v))
