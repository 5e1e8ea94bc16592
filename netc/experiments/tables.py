"""Plain-text tables of comparisons and of run records (what `netc compare`, `netc sweep` and
`netc runs` print)."""
from __future__ import annotations

from .aggregate import METRICS, Variant, has_validation, is_classification
from .records import Record


def _fmt(kind: str, v: float | None) -> str:
    if v is None:
        return "-"
    if kind == "acc":
        return f"{100 * v:.2f}%"
    if kind == "count":
        return f"{v:.1f}" if v != int(v) else str(int(v))
    if kind == "time":
        return f"{v:.1f}"
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e5:  # four significant digits, no exponent
        from math import floor, log10
        return f"{v:.{max(0, 3 - floor(log10(abs(v))))}f}"
    return f"{v:.3e}"


def grid(header: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> str:
    """Columns padded to their widest cell, two spaces apart; columns in `right` right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def comparison(variants: list[Variant]) -> str:
    """A table per metric (variant, mean ± std, min, max, runs), then a line per failed run. The
    std of a single run is n/a (one value has no spread)."""
    classification = is_classification(variants)
    validation = has_validation(variants)
    out = []
    for key, title, kind in METRICS:
        if kind == "acc" and not classification:
            continue
        if not validation:
            title = title.replace("validation", "training")
        rows = []
        for v in variants:
            s = v.metrics.get(key)
            done = len(v.with_status("completed"))
            runs = f"{done}/{len(v.records)}"
            if s is None:
                rows.append([v.label, "-", "-", "-", runs])
            else:
                # one run has no spread: "± 0" would claim the seeds agree exactly
                spread = _fmt(kind, s.std) if len(s.values) > 1 else "n/a"
                rows.append([v.label, f"{_fmt(kind, s.mean)} ± {spread}", _fmt(kind, s.min),
                             _fmt(kind, s.max), runs])
        out.append(title + "\n" + grid(["  variant", "mean ± std", "min", "max", "runs"],
                                      [["  " + r[0], *r[1:]] for r in rows], right={1, 2, 3, 4}))
    notes = []
    for v in variants:
        for r in v.with_status("failed"):
            msg = (r.summary.get("message") or "failed").splitlines()[0]
            notes.append(f"  {v.label}, seed {r.meta.get('seed')}: diverged or failed: {msg} ({r.path})")
        for r in v.records:
            if r.status in ("interrupted", "running"):
                notes.append(f"  {v.label}, seed {r.meta.get('seed')}: interrupted after "
                             f"{len(r.epochs)} epoch{'s' if len(r.epochs) != 1 else ''} (not averaged)")
    if notes:
        out.append("runs not averaged\n" + "\n".join(notes))
    return "\n\n".join(out)


def records_table(records: list[Record]) -> str:
    """`netc runs`: one row per record (folder, model, seed, engine, status, epochs, best, time)."""
    rows = []
    for r in records:
        rows_ = list(r.epochs)
        best = r.best_epoch()
        best_row = next((e for e in rows_ if e.get("epoch") == best), None)
        if best_row is None:
            metric = "-"
        elif best_row.get("val_accuracy") is not None:
            metric = f"val acc {100 * best_row['val_accuracy']:.2f}%"
        elif best_row.get("val_loss") is not None:
            metric = f"val loss {_fmt('loss', best_row['val_loss'])}"
        else:
            metric = f"train loss {_fmt('loss', best_row.get('train_loss'))}"
        wall = r.summary.get("wall_seconds")
        rows.append([str(r.path), r.label, str(r.meta.get("seed", "-")), str(r.meta.get("engine", "-")),
                     r.status, str(len(rows_)), f"{best} ({metric})" if best is not None else "-",
                     f"{wall:.1f}" if wall else "-", str(r.meta.get("started", "-"))])
    return grid(["record", "variant", "seed", "engine", "status", "epochs", "best epoch", "seconds", "started"],
                rows, right={2, 5, 7})
