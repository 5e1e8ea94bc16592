"""The `netc` command line: one subcommand per job; argument parsing and exit codes only."""
from __future__ import annotations

import argparse
import os
import sys

# netc trains small networks: one BLAS thread is faster for them than several (and on a busy
# 2-core machine several can be ten times slower), and it makes runs' timing steadier. Set before
# NumPy loads; NETC_THREADS (or an explicit OPENBLAS/OMP/MKL setting) overrides it.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, os.environ.get("NETC_THREADS", "1"))


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, except that an epilog's indented lines (the examples) are kept as
    written instead of being joined into one paragraph."""

    def _fill_text(self, text, width, indent):
        import textwrap
        lines = []
        for line in text.splitlines():
            if line.startswith(" ") or not line:
                lines.append(indent + line)
            else:
                lines.append(textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent))
        return "\n".join(lines)


# Each command's examples, shown at the end of its --help. They run as written from the folder that
# holds examples/ (tests/test_help_examples.py runs every one of them, in order, per command).
EXAMPLES = {
    None: ["netc check examples/digits.net",
           "netc run examples/digits.net",
           "netc debug examples/digits.net"],
    "check": ["netc check examples/digits.net",
              "netc check examples/moons.net examples/diabetes.net",
              "netc check examples/digits.net --no-data"],
    "graph": ["netc graph examples/residual.net",
              "netc graph examples/residual.net --format dot | dot -Tsvg > net.svg",
              "netc graph examples/residual.net --format json"],
    "run": ["netc run examples/digits.net --epochs 5 --set optimizer.lr=0.01",
            "netc run examples/digits.net --epochs 3 --eval-train",
            "netc run examples/diabetes.net --quiet",
            "netc run examples/moons.net --epochs 20 --save moons.ckpt",
            "netc run examples/moons.net --resume moons.ckpt --save moons.ckpt --epochs 40",
            "netc run examples/moons.net --json --epochs 5"],
    "compare": ["netc compare examples/bn_before.net examples/bn_after.net --seeds 2 --epochs 3"],
    "sweep": ["netc sweep examples/moons.net --grid optimizer.lr=1e-3,1e-2 --seeds 2 --epochs 10"],
    "ensemble": ["netc ensemble examples/moons.net --seeds 3 --bagging --epochs 10"],
    "landscape": ["netc landscape examples/moons.net --steps 11",
                  "netc landscape examples/moons.net --params 'dense1.W[0,0]' 'dense1.W[1,0]' --steps 11",
                  "netc landscape --logit --target 1"],
    "runs": ["netc run examples/moons.net --epochs 3 --quiet --log",
             "netc runs"],
    "eval": ["netc run examples/digits.net --epochs 5 --save digits.ckpt",
             "netc eval examples/digits.net --weights digits.ckpt",
             "netc eval examples/digits.net --weights digits.ckpt --mc 20 --json"],
    "recalibrate": ["netc run examples/digits.net --epochs 3 --save digits.ckpt",
                    "netc recalibrate examples/digits.net --weights digits.ckpt"],
    "stats": ["netc stats examples/bn_before.net",
              "netc stats examples/digits.net --mode eval --params",
              "netc stats examples/digits.net --batch 256 --json"],
    "gradcheck": ["netc gradcheck examples/digits.net",
                  "netc gradcheck examples/moons.net --full"],
    "export": ["netc export examples/digits.net --to torch -o digits_torch",
               "netc export examples/digits.net --to onnx -o digits.onnx"],
    "debug": ["netc debug examples/digits.net",
              "netc debug examples/digits.net --break 'hidden1.relu1:zero_frac>0.9'",
              "netc debug examples/digits.net --break dense1 --break '*:grad_norm>10'",
              "netc debug examples/init_tanh.net --overview"],
}


def _examples(command: str | None) -> str:
    """The epilog listing a command's examples."""
    return "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[command])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="netc", formatter_class=_Formatter,
        description="Write, train and see inside small neural networks described in .net files.",
        epilog="Run 'netc COMMAND --help' for a command's options. Exit status: 0 success, "
               "1 a run that failed at run time, 2 bad input (the spec, the data, the options).\n\n"
               + _examples(None))
    p.add_argument("--version", action="version", version=f"netc {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add = sub.add_parser

    def command(name: str, **kw):  # every command's help ends with its examples
        return add(name, formatter_class=_Formatter, epilog=_examples(name), **kw)
    sub.add_parser = command

    c = sub.add_parser("check", help="validate .net files and print a summary of each network",
                       description="Parse and validate each FILE, expand blocks and repeats, infer every "
                                   "node's output shape, load the data and check it as netc run would, "
                                   "run the lints, and print one row per node "
                                   "(name, op, output shape, parameters, spec line), the totals and "
                                   "any warnings. Exit 0 if every file is valid (warnings allowed), "
                                   "2 if any is not (each file is checked and reported).")
    c.add_argument("files", nargs="+", metavar="FILE", help="the .net files")
    c.add_argument("--no-data", action="store_true",
                   help="do not load the data (skips the data width check and the data-aware lints)")
    c.set_defaults(handler=cmd_check)

    g = sub.add_parser("graph", help="print the compiled graph (text tree, Graphviz DOT or JSON)",
                       description="Compile FILE and print its graph: an indented text tree "
                                   "(default), Graphviz DOT (render it with Graphviz, as in the "
                                   "examples) or JSON (networkx node-link data).")
    g.add_argument("file", metavar="FILE", help="the .net file")
    g.add_argument("--format", choices=("text", "dot", "json"), default="text",
                   help="output format (default: text)")
    g.add_argument("--fold", action="store_true",
                   help="the evaluation-mode graph with each batchnorm right after a dense or conv "
                        "folded into that layer (as netc export --fold writes it)")
    g.set_defaults(handler=cmd_graph)

    r = sub.add_parser("run", help="train the network on its data, with progress and metrics",
                       description="Train the network FILE describes on the data it names: a live "
                                   "progress bar per epoch, then a row per epoch (train and "
                                   "validation loss and accuracy, seconds) and a summary. Exit 0 "
                                   "when training finishes, 1 if it fails at run time (a non-finite "
                                   "loss), 2 for bad input, 130 when interrupted with Ctrl-C (143 for "
                                   "SIGTERM, 129 for SIGHUP).")
    r.add_argument("file", metavar="FILE", help="the .net file")
    r.add_argument("--epochs", type=_positive_int, metavar="N", help="override the number of epochs")
    _setting_options(r, json_help="machine-readable output: one JSON object per epoch, then a final one")
    r.add_argument("--quiet", action="store_true", help="print only the final summary")
    r.add_argument("--eval-train", action="store_true",
                   help="after each epoch also measure the training split in evaluation mode (dropout "
                        "off, batch norm's running statistics), as netc eval does; the train columns "
                        "are running means in training mode")
    r.add_argument("--save", metavar="CKPT", help="write a checkpoint after every epoch (atomically) "
                   "and on Ctrl-C, SIGTERM or SIGHUP; netc refuses a path holding anything but a netc "
                   "checkpoint, and locks it for the run")
    r.add_argument("--overwrite", action="store_true",
                   help="let --save replace an existing netc checkpoint (of another run)")
    r.add_argument("--resume", metavar="CKPT", help="continue the run saved in CKPT exactly where it stopped")
    r.add_argument("--log", nargs="?", const="", metavar="DIR",
                   help="keep a run record (settings, spec, seed, per-epoch metrics, summary) in DIR; "
                        "without DIR, in runs/NAME-YYYYMMDD-HHMMSS/")
    r.add_argument("--label", help=argparse.SUPPRESS)  # the variant name netc compare gives its runs
    # an ensemble's member: the split of the file's seed, and a bootstrap sample of its training split
    r.add_argument("--data-seed", type=int, help=argparse.SUPPRESS)
    r.add_argument("--bootstrap", type=int, help=argparse.SUPPRESS)
    r.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard event files to DIR: scalars "
                   "every epoch, histograms of activations, gradients and weights (needs netc[tensorboard])")
    r.add_argument("--histogram-every", type=_positive_int, default=5, metavar="N",
                   help="epochs between TensorBoard histograms (default 5; the first epoch always)")
    r.add_argument("--plot", metavar="FIG", help="draw the learning curves (and, for 2-D data, the decision "
                   "regions) to FIG (.png, .svg or .pdf; needs netc[plot])")
    r.add_argument("--engine", choices=("numpy", "torch"), default="numpy",
                   help="numpy: netc's own runtime (the reference; default); torch: the same training on "
                        "PyTorch (needs netc[torch]; data-parallel under torchrun; see docs/torch.md)")
    r.add_argument("--device", choices=("cpu", "cuda"), metavar="{cpu,cuda}",
                   help="where --engine torch computes (default cpu)")
    r.set_defaults(handler=cmd_run)

    cp = sub.add_parser("compare", help="train several .net files over several seeds and compare them",
                        description="Train each FILE over the seeds (several runs in parallel) and print, "
                                    "per metric, the mean and standard deviation over seeds of each "
                                    "file's final and best validation loss and accuracy, epochs to best "
                                    "and time. Given run record folders (netc run --log) instead of "
                                    "files, compare those records without training.")
    cp.add_argument("items", nargs="+", metavar="FILE|RECORD", help=".net files, or run record folders")
    _experiment_options(cp)
    cp.set_defaults(handler=cmd_compare)

    sw = sub.add_parser("sweep", help="train a grid of settings over several seeds, best first",
                        description="Train FILE for every combination of the --grid values, over the "
                                    "seeds, and print the comparison tables with the best setting first.")
    sw.add_argument("file", metavar="FILE", help="the .net file")
    sw.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                    help="a setting and its values, e.g. --grid optimizer.lr=1e-3,1e-2,1e-1 (repeatable; "
                         "any --set key)")
    _experiment_options(sw)
    sw.set_defaults(handler=cmd_sweep)

    en = sub.add_parser("ensemble", help="train K copies over seeds and average their predictions",
                        description="Train FILE once per seed (each member its own initialization, "
                                    "shuffling and dropout masks; all on the split of the file's seed), "
                                    "with --bagging each on a bootstrap sample of the training split, "
                                    "then report each member's validation metrics and those of the "
                                    "ensemble, which averages the members' predicted probabilities "
                                    "(outputs for regression).")
    en.add_argument("file", metavar="FILE", help="the .net file")
    en.add_argument("--bagging", action="store_true", help="train each member on a bootstrap sample")
    _experiment_options(en, plot=False)
    en.set_defaults(handler=cmd_ensemble)

    la = sub.add_parser("landscape", help="the loss around the weights along two directions",
                        description="Evaluate the loss (evaluation mode, data loss without the weight "
                                    "penalty) on a grid around the weights: along two coordinates "
                                    "(--params dense1.W[0,0] dense1.W[1,0]) or two random "
                                    "filter-normalized directions (Li et al., the default), and draw "
                                    "it as a character map (and --plot contours). With --logit, the "
                                    "notes' L2-vs-KL divergence figure of a sigmoid output instead.")
    la.add_argument("file", metavar="FILE", nargs="?", help="the .net file")
    la.add_argument("--weights", metavar="CKPT", help="around saved weights (default: the initial ones)")
    la.add_argument("--params", nargs=2, metavar=("A", "B"), help="two coordinates, e.g. dense1.W[0,0] dense1.W[1,0]")
    la.add_argument("--range", type=_positive_float, metavar="R", help="the grid spans -R..R along each direction (default 1)")
    la.add_argument("--steps", type=_positive_int, default=21, metavar="N", help="grid points per direction (default 21)")
    la.add_argument("--examples", type=_positive_int, default=1024, metavar="N",
                    help="training examples the loss is measured on (default 1024)")
    la.add_argument("--plot", metavar="FIG", help="draw contours to FIG (.png, .svg, .pdf; needs netc[plot])")
    la.add_argument("--logit", action="store_true", help="the L2 and KL divergences of a sigmoid output y = sigmoid(z) "
                    "for a target --target P, against y and against z")
    la.add_argument("--target", type=float, default=1.0, metavar="P", help="the target probability for --logit (default 1)")
    _setting_options(la, json_help="the grid as JSON")
    la.set_defaults(handler=cmd_landscape)

    rs = sub.add_parser("runs", help="list run records",
                        description="List the run records (netc run --log, netc compare, netc sweep) "
                                    "under DIR (default runs/) as a table.")
    rs.add_argument("dir", nargs="?", metavar="DIR", help="a folder of records (default runs/)")
    rs.add_argument("--json", action="store_true", help="one JSON list of records")
    rs.set_defaults(handler=cmd_runs)

    e = sub.add_parser("eval", help="print the metrics of saved weights",
                       description="Load the weights saved by 'netc run --save' and print the loss "
                                   "(and accuracy) on the training and validation data in evaluation mode.")
    e.add_argument("file", metavar="FILE", help="the .net file the weights were trained from")
    e.add_argument("--weights", metavar="CKPT", required=True, help="a checkpoint written by netc run --save")
    e.add_argument("--mc", type=_positive_int, metavar="N", help="also Monte Carlo dropout: average N "
                   "stochastic passes (dropout on, batch norm in evaluation mode) and report the "
                   "accuracy and the predictive spread")
    _setting_options(e, json_help="print the metrics as one JSON object")
    e.set_defaults(handler=cmd_eval)

    rc = sub.add_parser("recalibrate", help="recompute batch norm's running statistics over the training set",
                        description="Load saved weights, replace every batch norm's running mean and "
                                    "variance by population statistics over the whole training split "
                                    "(the mean of the minibatch means and of the minibatch variances "
                                    "times B/(B-1)), and print the validation metrics before and after.")
    rc.add_argument("file", metavar="FILE", help="the .net file the weights were trained from")
    rc.add_argument("--weights", metavar="CKPT", required=True, help="a checkpoint written by netc run --save")
    rc.add_argument("--batch", type=_positive_int, metavar="N", help="minibatch size of the pass (default: the file's batch)")
    rc.add_argument("--save", metavar="FILE", help="write a checkpoint with the recalibrated statistics "
                    "(for netc eval/stats/debug --weights)")
    _setting_options(rc, json_help="the statistics and metrics as one JSON object")
    rc.set_defaults(handler=cmd_recalibrate)

    st = sub.add_parser("stats", help="statistics of every node on one batch (forward and backward)",
                        description="Run one forward and one backward pass on one batch and print a "
                                    "row per node: name, op, shape, mean, var, std, min, max, fraction "
                                    "of exact zeros, and the mean, variance and norm of the loss's "
                                    "gradient with respect to the node's output.")
    st.add_argument("file", metavar="FILE", help="the .net file")
    st.add_argument("--mode", choices=("train", "eval"), default="train",
                    help="training mode (batch statistics, dropout) or evaluation mode (default: train)")
    st.add_argument("--weights", metavar="CKPT", help="use weights saved by netc run --save")
    st.add_argument("--batch", type=_positive_int, metavar="N", help="batch size (default: the file's batch)")
    st.add_argument("--params", action="store_true", help="also a row per learned parameter: norm, mean, std, "
                    "fraction near zero, gradient norm, gradient sign agreement, update-to-weight ratio")
    st.add_argument("--channels", action="store_true", help="for image nodes (B, C, H, W): also a table per "
                    "node with each channel's mean and variance over (B, H, W) and the range over the "
                    "batch's examples of its per-example mean and variance over (H, W)")
    st.add_argument("--plot", metavar="FIG", help="draw one activation histogram per layer, side by side "
                    "on a shared axis, to FIG (.png, .svg or .pdf; needs netc[plot])")
    _setting_options(st, json_help="a JSON list of records, one per node")
    st.set_defaults(handler=cmd_stats)

    gc = sub.add_parser("gradcheck", help="check the analytic gradients against finite differences",
                        description="Compare the analytic gradients of FILE's network with "
                                    "finite differences in float64 on a small batch of its data, in "
                                    "training mode with the dropout masks held fixed: per array, a "
                                    "sample of entries (the largest gradients and random ones) and a "
                                    "random direction, or every entry with --full. Prints the worst "
                                    "relative error per parameter and per node input; exit 1 if any "
                                    "is above the tolerance.")
    gc.add_argument("file", metavar="FILE", help="the .net file")
    gc.add_argument("--batch", type=_positive_int, default=8, metavar="N", help="examples in the batch (default 8)")
    gc.add_argument("--entries", type=_positive_int, default=12, metavar="K",
                    help="entries probed per array: the K/2 largest gradients and K/2 random ones, "
                         "plus a random direction over the whole array (default 12; see "
                         "docs/gradcheck.md)")
    gc.add_argument("--full", action="store_true",
                    help="probe every entry of every array on its own (slow for big layers)")
    gc.add_argument("--tolerance", type=_positive_float, default=1e-6, metavar="T", help="default 1e-6")
    _setting_options(gc, dtype=False)
    gc.set_defaults(handler=cmd_gradcheck)

    x = sub.add_parser("export", help="write the network as PyTorch code (with weights) or as ONNX",
                       description="Export FILE's network with netc's weights (the seed's initial "
                                   "ones, or a checkpoint's with --weights). --to torch writes a folder "
                                   "OUT with model.py (a readable standalone nn.Module), "
                                   "weights.safetensors and README.md; --to onnx writes the "
                                   "evaluation-mode network to the file OUT (opset 17). Exit 2 for bad "
                                   "input, including an op that has no faithful form in the target.")
    x.add_argument("file", metavar="FILE", help="the .net file")
    x.add_argument("--to", choices=("torch", "onnx"), required=True, help="the target format")
    x.add_argument("-o", "--output", metavar="OUT", required=True,
                   help="the folder (torch) or .onnx file (onnx) to write")
    x.add_argument("--weights", metavar="CKPT", help="export the weights of a checkpoint written by netc run --save")
    x.add_argument("--fold", action="store_true",
                   help="fold each evaluation-mode batchnorm right after a dense or conv into that "
                        "layer's weights (for inference: the folded model has no batch norm to train)")
    _setting_options(x)
    x.set_defaults(handler=cmd_export)

    d = sub.add_parser("debug", help="step through training node by node in a terminal debugger",
                       description="Open the step debugger on FILE: the graph's nodes in execution "
                                   "order, the selected node's statistics and histograms, the spec "
                                   "with the current statement highlighted, and the loss. Step one "
                                   "node (n), one iteration (i), or continue to a breakpoint (c); "
                                   "press ? inside for every key. Exit 2 for bad input.")
    d.add_argument("file", metavar="FILE", help="the .net file")
    d.add_argument("--weights", metavar="CKPT", help="start from weights saved by netc run --save")
    d.add_argument("--break", dest="breaks", action="append", default=[], metavar="NODE[:COND]",
                   help="a breakpoint: a node name or glob, optionally with a condition on its "
                        "statistics, e.g. --break dense1, --break 'hidden1.relu1:zero_frac>0.9', "
                        "--break '*:grad_norm>10' (repeatable)")
    d.add_argument("--epochs", type=_positive_int, metavar="N", help="override the number of epochs")
    d.add_argument("--web", action="store_true",
                   help="serve the debugger to a browser (textual-serve, pip install 'netc[web]') "
                        "instead of opening it in the terminal; prints the URL")
    d.add_argument("--port", type=int, default=8000, metavar="N", help="with --web: the port (default 8000)")
    d.add_argument("--host", default="127.0.0.1", metavar="H",
                   help="with --web: the address to listen on, a loopback one (default 127.0.0.1)")
    d.add_argument("--overview", action="store_true",
                   help="open on the all-layers overview (the default for files named init_*.net, the "
                        "initialization experiments)")
    _setting_options(d, dtype=False)
    d.set_defaults(handler=cmd_debug)
    return p


def _setting_options(p, json_help: str | None = None, dtype: bool = True) -> None:
    """The options every command that loads the data shares: --seed, --set, --dtype, --json."""
    p.add_argument("--seed", type=int, metavar="N", help="override the seed (initialization, split, "
                   "shuffling, dropout masks)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a train or data setting without editing the file, e.g. "
                        "--set optimizer.lr=0.01, --set batch=128, --set split=0.9 (repeatable)")
    if dtype:
        p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                       help="array precision (default float32)")
    if json_help:
        p.add_argument("--json", action="store_true", help=json_help)


def _experiment_options(p, plot: bool = True) -> None:
    """The options netc compare and netc sweep share."""
    p.add_argument("--seeds", default="3", metavar="N|S1,S2,...",
                   help="train over seeds 0..N-1 (default 3), or the seeds listed")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a setting in every run (repeatable)")
    p.add_argument("--epochs", type=_positive_int, metavar="N", help="override the number of epochs")
    p.add_argument("--jobs", type=_positive_int, metavar="N", help="runs in parallel (default: the cores)")
    p.add_argument("--log", metavar="DIR", help="where the run records go (default runs/KIND-YYYYMMDD-HHMMSS/)")
    if plot:
        p.add_argument("--plot", metavar="FIG", help="draw the learning curves (mean and band over seeds) to FIG")
    p.add_argument("--json", action="store_true", help="the comparison as one JSON object")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def _version() -> str:
    from . import __version__
    return __version__


def cmd_check(args) -> int:
    """`netc check FILE...`: each file's summary table and warnings; 0 if every file is valid,
    else 2 (every file is still checked, its errors printed where they occur)."""
    from .spec.diagnostics import EXIT_BAD_INPUT, EXIT_OK, NetcError
    status, failed = EXIT_OK, []
    for i, file in enumerate(args.files):
        if i:
            print()
        try:
            _check_one(file, args.no_data)
        except NetcError as e:
            if len(args.files) == 1:
                raise
            sys.stdout.flush()
            print(e.render(), file=sys.stderr, flush=True)
            status = EXIT_BAD_INPUT
            failed.append(file)
    if len(args.files) > 1:
        from .spec.diagnostics import printable
        ok = len(args.files) - len(failed)
        print(f"\nchecked {len(args.files)} files: {ok} ok" +
              (f", {len(failed)} with errors ({', '.join(printable(f) for f in failed)})" if failed else ""))
    return status


def _check_one(file: str, no_data: bool) -> None:
    """Check one file and print its summary; a NetcError if it is not valid."""
    from .compiler import load_path
    from .compiler.render import summary_table
    from .compiler.lower import lower
    from .prepare import memory_estimate
    from .runtime import memory
    from .spec.diagnostics import printable
    net = load_path(file, check_data=not no_data)
    print(summary_table(net))
    # the memory a run needs, under the summary (as torchinfo and Keras show it)
    est = memory_estimate(lower(net), net.train, dataset=net.dataset)
    print(est.summary())
    if net.warnings:
        print()
        print(net.render_warnings())
    try:
        memory.check_fits(est, lower(net))  # netc run would refuse it: so does check
    except memory.MemoryLimitError as e:
        raise e.located(net.source) from None
    n = len(net.warnings)
    print(f"\n{printable(file)}: ok" + (f", {n} warning{'s' if n != 1 else ''}" if n else ""))


def cmd_graph(args) -> int:
    """`netc graph FILE --format text|dot|json`."""
    from .compiler import load_path, render
    net = load_path(args.file, check_data=False)
    if args.fold:
        from .compiler.fold import fold_network
        net, _ = fold_network(net)
    text = {"text": render.text_tree, "dot": render.to_dot, "json": render.to_json}[args.format](net)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_run(args) -> int:
    """`netc run FILE`."""
    from .run import run
    return run(args)


def cmd_eval(args) -> int:
    """`netc eval FILE --weights CKPT`."""
    from .run import evaluate
    return evaluate(args)


def cmd_recalibrate(args) -> int:
    """`netc recalibrate FILE --weights CKPT`."""
    from .posthoc import recalibrate
    return recalibrate(args)


def cmd_stats(args) -> int:
    """`netc stats FILE`."""
    from .inspection import stats
    return stats(args)


def cmd_gradcheck(args) -> int:
    """`netc gradcheck FILE`."""
    from .inspection import gradcheck
    return gradcheck(args)


def cmd_compare(args) -> int:
    """`netc compare`."""
    from .experiments.commands import compare
    return compare(args)


def cmd_sweep(args) -> int:
    """`netc sweep`."""
    from .experiments.commands import sweep
    return sweep(args)


def cmd_ensemble(args) -> int:
    """`netc ensemble`."""
    from .experiments.ensemble import ensemble
    return ensemble(args)


def cmd_landscape(args) -> int:
    """`netc landscape`."""
    from .landscape import landscape
    return landscape(args)


def cmd_runs(args) -> int:
    """`netc runs`."""
    from .experiments.commands import runs
    return runs(args)


def cmd_export(args) -> int:
    """`netc export FILE --to torch|onnx -o OUT`."""
    from .export import export
    return export(args)


def cmd_debug(args) -> int:
    """`netc debug FILE`: the Textual debugger (imported only here: netc run never loads Textual)."""
    from .tui import debug
    if args.web:
        from .tui import serve_web
        return serve_web(args)
    return debug(args.file, args.weights, args.breaks, args.seed, args.epochs, args.set, overview=args.overview)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `netc` script: returns the exit status (the constants of
    netc.spec.diagnostics). Every error netc reports is a NetcError: printed here, once."""
    args = _parser().parse_args(argv)
    # the error classes live with the spec layer, which is light to import (no numpy, no lark)
    from .spec.diagnostics import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, NetcError
    try:
        return args.handler(args)
    except NetcError as e:
        print(e.render(), file=sys.stderr)
        return e.status
    except KeyboardInterrupt as e:  # a second Ctrl-C (or SIGTERM, SIGHUP: netc/signals.py)
        try:
            print("interrupted", file=sys.stderr)
        except OSError:
            pass
        return getattr(e, "status", EXIT_INTERRUPTED)
    except BrokenPipeError:
        return EXIT_OK
    except MemoryError as e:  # what the estimate did not foresee (runtime/memory.py)
        from .runtime.memory import NodeMemoryError
        where = f" in {e.where}" if isinstance(e, NodeMemoryError) else ""
        print(f"netc: error: out of memory{where}\n  hint: use narrower layers or a smaller batch "
              "(netc check FILE shows the memory a run needs)", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
