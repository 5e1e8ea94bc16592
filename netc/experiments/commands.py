"""`netc compare`, `netc sweep` and `netc runs`: plan the runs, check everything before training,
run them (runner.py), read their records back and print tables, JSON and figures."""
from __future__ import annotations

import datetime as _dt
import itertools
import json
import sys
from pathlib import Path

from ..spec.diagnostics import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, NetcError
from . import aggregate, records, tables, textplot
from .extras import ObserverError
from .runner import Job, Progress, default_jobs, run_all


def _error(message: str, hint: str | None = None):
    """A command-line error (`netc: error: ...`, exit 2)."""
    raise NetcError(message, hint=hint)


def parse_seeds(text: str) -> list[int]:
    """`--seeds 5` is seeds 0..4; `--seeds 3,7,11` lists them. Raises ValueError if neither."""
    if "," in text:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    else:
        n = int(text)
        if n < 1:
            raise ValueError("the number of seeds must be at least 1")
        seeds = list(range(n))
    if len(set(seeds)) != len(seeds):
        raise ValueError("a seed is listed twice")
    return seeds


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    """`--grid key=v1,v2` items as (key, values); commas inside parentheses do not split
    (`--grid optimizer.betas=(0.9,0.99),(0.8,0.9)`). Raises ValueError on a malformed item."""
    out = []
    for item in items:
        key, eq, rest = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"--grid {item}: expected KEY=VALUE,VALUE,...")
        values, depth, cur = [], 0, ""
        for ch in rest:
            depth += (ch == "(") - (ch == ")")
            if ch == "," and depth == 0:
                values.append(cur.strip())
                cur = ""
            else:
                cur += ch
        values.append(cur.strip())
        if any(not v for v in values):
            raise ValueError(f"--grid {item}: an empty value")
        out.append((key.strip(), values))
    keys = [k for k, _ in out]
    if len(set(keys)) != len(keys):
        raise ValueError("a --grid key is given twice")
    return out


def _validate(variants: list[tuple[str, str, tuple[str, ...]]], epochs: int | None,
              grid_keys: frozenset[str] = frozenset()) -> dict[str, int] | None:
    """Compile every variant, apply its settings and load its data before any training: every
    error of every file is printed, once (an unknown --grid key fails every value alike); returns
    each label's epoch count, or None if any failed. A setting in `grid_keys` came from --grid,
    so its error names --grid, not the --set that carries it to the run."""
    from ..prepare import prepare
    from ..spec.overrides import OverrideError
    totals, ok, seen, printed = {}, True, set(), set()
    for label, file, sets in variants:
        try:
            _, train, _, _ = prepare(file, list(sets), epochs, None, warnings=file not in seen)
            seen.add(file)
            totals[label] = train.epochs
        except NetcError as e:
            if isinstance(e, OverrideError) and e.key in grid_keys and e.message.startswith("--set"):
                e = OverrideError("--grid" + e.message[len("--set"):], e.hint, e.key)
            text = e.render()
            if text not in printed:
                printed.add(text)
                print(text, file=sys.stderr)
            ok = False
    return totals if ok else None


def _out_root(log: str | None, kind: str) -> Path:
    root = Path(log) if log else Path(records.DEFAULT_ROOT) / f"{kind}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
    if root.exists() and any(root.iterdir()):
        raise ObserverError(f"--log {root}: the folder is not empty", "name a new folder")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ObserverError(f"--log {root}: cannot create it ({e.strerror or e})") from None
    import os
    if not os.access(root, os.W_OK):
        raise ObserverError(f"--log {root}: cannot write there (permission denied)")
    return root


def _labels(files: list[str]) -> list[str]:
    names = [Path(f).name for f in files]
    if len(set(names)) == len(names):
        return names
    return [str(Path(f)) for f in files]


def _run_and_report(variants, seeds, args, kind: str, rank: bool, grid_keys: frozenset[str] = frozenset()) -> int:
    if getattr(args, "plot", None):
        from .plots import check_path
        check_path(args.plot)
    totals = _validate(variants, args.epochs, grid_keys)
    if totals is None:
        return EXIT_BAD_INPUT
    root = _out_root(args.log, kind)
    jobs = []
    for k, (label, file, sets) in enumerate(variants):
        for seed in seeds:
            rec = root / f"{k + 1:02d}-{records._safe(label)}" / f"seed{seed}"
            jobs.append(Job(label, file, tuple(sets), seed, rec, epochs=totals[label]))
    parallel = args.jobs or default_jobs()
    if not args.json:
        print(f"{kind}: {len(variants)} variant{'s' if len(variants) != 1 else ''} x {len(seeds)} seed"
              f"{'s' if len(seeds) != 1 else ''} = {len(jobs)} runs, {min(parallel, len(jobs))} at a time; "
              f"records in {root}", file=sys.stderr)
    finished = run_all(jobs, args.epochs, parallel, Progress(jobs, quiet=args.json))
    recs = []
    for j in jobs:
        if (j.record / "meta.json").is_file():
            r = records.read(j.record)
            if not finished and r.status == "running":
                r = records.Record(r.path, r.meta, r.settings, r.epochs, {"status": "interrupted"})
            recs.append(r)
        elif j.status == "failed":  # it stopped before writing its record: say why
            print(f"netc: {j.label}, seed {j.seed}: {j.stderr.strip() or 'failed'}", file=sys.stderr)
    return _report(recs, args, rank, interrupted=not finished)


def _report(recs: list[records.Record], args, rank: bool, interrupted: bool = False) -> int:
    variants = aggregate.group(recs)
    if rank:
        variants = aggregate.ranked(variants)
    if interrupted:
        print("\ninterrupted: the table shows the runs that finished", file=sys.stderr)
    if args.json:
        print(json.dumps(records.plain({**aggregate.to_json(variants), "interrupted": interrupted})))
    else:
        print(tables.comparison(variants))
        key = "val_accuracy" if aggregate.is_classification(variants) else "val_loss"
        if not aggregate.has_validation(variants):
            key = key.replace("val_", "train_")
        series = {}
        for v in variants:
            done = [r for r in v.records if r.epochs]
            if done:
                from .plots import _band
                series[v.label] = [None if x != x else float(x) for x in _band([r.curve(key) for r in done])[1]]
        if series:
            print()
            print(textplot.curves(series, f"{key.replace('_', ' ')} per epoch (mean over seeds)"))
    if getattr(args, "plot", None) and variants:
        from .plots import learning_curves
        learning_curves(variants, args.plot)
        if not args.json:
            print(f"\nfigure: {args.plot}")
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK


def compare(args) -> int:
    """`netc compare A.net B.net ... --seeds N` trains and compares; `netc compare DIR DIR ...`
    compares existing run records without training."""
    paths = args.items
    dirs = [p for p in paths if Path(p).is_dir()]
    if dirs and len(dirs) != len(paths):
        _error("netc compare takes .net files (to train) or run record folders (to compare), not both")
    if dirs:
        recs = records.find(dirs)
        if not recs:
            _error(f"no run records in {', '.join(dirs)}", "netc run FILE --log DIR writes one")
        data = {r.meta.get("data") for r in recs}
        if len(data) > 1:
            print(f"netc: warning: the records use different data sets ({', '.join(sorted(map(str, data)))}): "
                  f"their metrics are not comparable", file=sys.stderr)
        if getattr(args, "plot", None):
            from .plots import check_path
            check_path(args.plot)
        return _report(recs, args, rank=False)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as e:
        _error(f"--seeds {args.seeds}: {e}", "e.g. --seeds 5 (seeds 0..4) or --seeds 0,3,7")
    variants = [(label, f, tuple(args.set)) for label, f in zip(_labels(paths), paths)]
    return _run_and_report(variants, seeds, args, "compare", rank=False)


def sweep(args) -> int:
    """`netc sweep FILE --grid KEY=V1,V2 ... --seeds N`: every combination, best first."""
    try:
        seeds = parse_seeds(args.seeds)
        grid = parse_grid(args.grid)
    except ValueError as e:
        _error(str(e), "e.g. --grid optimizer.lr=1e-3,1e-2 --grid batch=32,128 --seeds 3")
    if not grid:
        _error("netc sweep needs at least one --grid KEY=V1,V2,...", "e.g. --grid optimizer.lr=1e-3,1e-2")
    variants = []
    for combo in itertools.product(*[[(k, v) for v in vals] for k, vals in grid]):
        sets = tuple(args.set) + tuple(f"{k}={v}" for k, v in combo)
        variants.append((" ".join(f"{k}={v}" for k, v in combo), args.file, sets))
    return _run_and_report(variants, seeds, args, "sweep", rank=True, grid_keys=frozenset(k for k, _ in grid))


def runs(args) -> int:
    """`netc runs [DIR]`: the run records under DIR (default runs/) as a table."""
    root = args.dir or records.DEFAULT_ROOT
    if not Path(root).exists():
        _error(f"{root}: no such folder", "netc run FILE --log writes records under runs/")
    recs = records.find([root])
    if args.json:
        print(json.dumps([records.plain({"record": str(r.path), "label": r.label, "meta": r.meta,
                                         "summary": r.summary, "epochs": len(r.epochs)}) for r in recs]))
        return EXIT_OK
    if not recs:
        print(f"no run records under {root}")
        return EXIT_OK
    print(tables.records_table(recs))
    return EXIT_OK
