"""From run records to comparison rows: each variant's metrics over its seeds, as numbers
(mean, std, min, max, the values) that the tables, the JSON output and the figures all read."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .records import Record

# (key, title, kind): kind 'acc' is a fraction shown as a percentage; 'higher' says which way is better
METRICS = (
    ("final_val_loss", "final validation loss", "loss"),
    ("best_val_loss", "best validation loss", "loss"),
    ("final_val_accuracy", "final validation accuracy", "acc"),
    ("best_val_accuracy", "best validation accuracy", "acc"),
    ("epochs_to_best", "epochs to best", "count"),
    ("seconds", "time (s)", "time"),
)


def run_metrics(rec: Record) -> dict[str, float | None]:
    """One run's comparison metrics. Without validation data the training loss and accuracy stand
    in for the validation ones (the table's title says so)."""
    rows = list(rec.epochs)
    val = any(e.get("val_loss") is not None for e in rows)
    loss_key, acc_key = ("val_loss", "val_accuracy") if val else ("train_loss", "train_accuracy")
    losses = [e.get(loss_key) for e in rows]
    accs = [e.get(acc_key) for e in rows]
    finite_losses = [v for v in losses if v is not None]
    finite_accs = [v for v in accs if v is not None]
    best = rec.best_epoch()
    wall = rec.summary.get("wall_seconds")
    return {
        "final_val_loss": losses[-1] if losses else None,
        "best_val_loss": min(finite_losses) if finite_losses else None,
        "final_val_accuracy": accs[-1] if accs else None,
        "best_val_accuracy": max(finite_accs) if finite_accs else None,
        "epochs_to_best": float(best) if best is not None else None,
        "seconds": float(wall) if wall else float(sum(e.get("seconds") or 0 for e in rows)),
    }


@dataclass(frozen=True)
class Stat:
    """A metric over a variant's runs: mean, sample standard deviation (0 for one run), range."""

    mean: float
    std: float
    min: float
    max: float
    values: tuple[float, ...]

    @staticmethod
    def of(values: list[float]) -> "Stat | None":
        """The statistics of the finite values, or None when there are none."""
        v = [x for x in values if x is not None and math.isfinite(x)]
        if not v:
            return None
        mean = sum(v) / len(v)
        std = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else 0.0
        return Stat(mean, std, min(v), max(v), tuple(v))


@dataclass(frozen=True)
class Variant:
    """One line of a comparison: a label, its runs, which of them failed or were interrupted, and
    the statistics of each metric over the runs that completed."""

    label: str
    records: tuple[Record, ...]
    metrics: dict = field(default_factory=dict)  # key -> Stat | None

    @property
    def seeds(self) -> list:
        """The seeds of the runs, in run order."""
        return [r.meta.get("seed") for r in self.records]

    def with_status(self, status: str) -> list[Record]:
        """The runs that ended with `status`."""
        return [r for r in self.records if r.status == status]


def group(records: list[Record]) -> list[Variant]:
    """Records grouped by variant label (first-seen order), with each metric's statistics over the
    runs that completed (failed and interrupted runs are counted, not averaged)."""
    by: dict[str, list[Record]] = {}
    for r in records:
        by.setdefault(r.label, []).append(r)
    out = []
    for label, recs in by.items():
        recs = sorted(recs, key=lambda r: (r.meta.get("seed") is None, r.meta.get("seed")))
        done = [run_metrics(r) for r in recs if r.status == "completed"]
        metrics = {key: Stat.of([m[key] for m in done]) for key, _, _ in METRICS}
        out.append(Variant(label, tuple(recs), metrics))
    return out


def is_classification(variants: list[Variant]) -> bool:
    """True when some run reported an accuracy."""
    return any(v.metrics.get("best_val_accuracy") for v in variants)


def has_validation(variants: list[Variant]) -> bool:
    """True when the runs had validation data (else the tables show training metrics)."""
    return any(e.get("val_loss") is not None for v in variants for r in v.records for e in r.epochs)


def ranked(variants: list[Variant]) -> list[Variant]:
    """Best first: by mean best validation accuracy (classification) or mean best validation loss;
    variants whose runs all failed last."""
    key = "best_val_accuracy" if is_classification(variants) else "best_val_loss"
    sign = -1 if key == "best_val_accuracy" else 1

    def score(v: Variant):
        s = v.metrics.get(key)
        return (s is None, sign * s.mean if s else 0.0)
    return sorted(variants, key=score)


def to_json(variants: list[Variant]) -> dict:
    """The comparison as JSON-ready data (see docs/experiments.md for the keys)."""
    rows = []
    for v in variants:
        rows.append({
            "label": v.label,
            "runs": len(v.records),
            "seeds": v.seeds,
            "completed": len(v.with_status("completed")),
            "failed": [{"seed": r.meta.get("seed"), "message": r.summary.get("message"), "record": str(r.path)}
                       for r in v.with_status("failed")],
            "interrupted": [r.meta.get("seed") for r in v.records if r.status in ("interrupted", "running")],
            "metrics": {k: (None if s is None else {"mean": s.mean, "std": s.std, "min": s.min, "max": s.max,
                                                    "values": list(s.values)})
                        for k, s in v.metrics.items()},
            "records": [str(r.path) for r in v.records],
        })
    return {"variants": rows, "classification": is_classification(variants),
            "validation": has_validation(variants)}
