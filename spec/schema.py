"""The statement schema: every statement of the language, its parameters, types, defaults and docs.

One table that validation, error hints, the CLI's `--set` and the language reference all read.
A statement whose first positional argument picks a variant (`optimizer adam`, `source digits`)
lists its variants, each with the parameters it takes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REQUIRED = object()
MAX_WIDTH = 1_000_000  # a sanity bound, so a typo cannot ask for a terabyte of weights


@dataclass(frozen=True)
class P:
    """One parameter: its type ('int', 'float', 'bool', 'choice', 'choice_int' (a choice or an
    integer), 'string', 'floats', 'node'),
    default (REQUIRED if none), range, options, and a one-line doc."""

    name: str
    type: str
    default: Any = REQUIRED
    doc: str = ""
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    max_open: bool = False
    choices: tuple[str, ...] = ()
    length: int | None = None  # for 'floats' tuples

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        """The expected value in words: 'an integer >= 1', 'one of he, xavier'."""
        if self.type == "choice":
            return "one of " + ", ".join(self.choices)
        if self.type == "choice_int":
            return "one of " + ", ".join(self.choices) + f", or an integer >= {_num(self.min)}"
        what = {"int": "an integer", "float": "a number", "bool": "true or false",
                "string": "a string in double quotes", "word": "a name or a string", "node": "the name of an earlier node",
                "floats": f"a tuple of {self.length} numbers, like (0.9, 0.999)"}[self.type]
        if self.type == "floats":
            what = f"a tuple of {self.length} numbers"
        lo = None if self.min is None else (f"> {_num(self.min)}" if self.min_open else f">= {_num(self.min)}")
        hi = None if self.max is None else (f"< {_num(self.max)}" if self.max_open else f"<= {_num(self.max)}")
        bounds = " and ".join(b for b in (lo, hi) if b)
        if self.type == "floats":
            return f"{what}, each {bounds}, like (0.9, 0.999)" if bounds else what
        return f"{what} {bounds}" if bounds else what


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class Variant:
    """The parameters a statement takes after a variant name (`adam` of `optimizer adam`)."""

    positional: tuple[P, ...] = ()
    keywords: tuple[P, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class Stmt:
    """A statement: its section, positional and keyword parameters, or variants picked by the first
    positional option (and the variant a train section without the statement gets, if any);
    `multiple` for statements that may appear more than once in their section."""

    keyword: str
    section: str  # 'model', 'data' or 'train'
    doc: str
    positional: tuple[P, ...] = ()
    keywords: tuple[P, ...] = ()
    variants: dict[str, Variant] | None = None
    multiple: bool = False
    aliases: tuple[str, ...] = field(default=())
    default_variant: str | None = None
    # a positional parameter whose values make distinct statements, each given at most once:
    # `standardize` and `standardize target` (settings keys standardize and standardize_target)
    distinct_by: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "positional", tuple(self.positional))
        object.__setattr__(self, "keywords", tuple(self.keywords))


def _width(name: str, doc: str) -> P:
    return P(name, "int", doc=doc, min=1, max=MAX_WIDTH)


INITS = ("he", "xavier", "lecun", "normal", "uniform", "zeros", "constant", "orthogonal")
# The schemes that give every weight of a layer the same value: the layer's units start as copies
# of each other (the symmetry lesson; lint symmetric-init).
SYMMETRIC_INITS = ("zeros", "constant")
_INIT = P("init", "choice", "he", "weight initialization", choices=INITS)
_STD = P("std", "float", 0.01, "standard deviation for init=normal", min=0, min_open=True)
_BIAS = P("bias", "bool", True, "add a learned bias")
_VALUE = P("value", "float", 0.0, "every weight's value for init=constant")
_GAIN = P("gain", "float", 1.0, "scale of init=orthogonal (W W^T = gain^2 I)", min=0, min_open=True)
_EPS = P("eps", "float", 1e-5, "added to the variance inside the square root", min=0, min_open=True)
_AFFINE = P("affine", "bool", True, "learn a scale gamma and shift beta per unit")
_PROB = dict(min=0, max=1, max_open=True)
_DROP = ([P("p", "float", None, "probability of DROPPING a unit (default 0.5)", min=0, max=1, max_open=True)],
         [P("keep", "float", None, "probability of keeping a unit (instead of P)", min=0, max=1,
            min_open=True),
          P("mode", "choice", "inverted", "where the 1/(1-P) scaling happens",
            choices=("inverted", "vanilla"))])
_SIZE = dict(min=1, max=1024)
_LR = dict(min=0, min_open=True)


def _model(keyword, doc, positional=(), keywords=()):
    return Stmt(keyword, "model", doc, tuple(positional), tuple(keywords), multiple=True)


MODEL = [
    _model("input", "the input's shape: `input D` (a vector of D features) or `input C H W` "
           "(images of C channels, H x W); the model's first statement",
           [_width("features", "number of input features (for images: channels C)"),
            P("height", "int", None, "image height H (images only)", min=1, max=MAX_WIDTH),
            P("width", "int", None, "image width W (images only)", min=1, max=MAX_WIDTH)]),
    _model("dense", "affine layer y = x W + b, W of shape (in, N)",
           [_width("units", "output width N")],
           [_INIT, _STD, _VALUE, _GAIN, _BIAS,
            P("dropconnect", "float", 0.0, "probability of DROPPING each weight in training (DropConnect)",
              min=0, max=1, max_open=True)]),
    _model("maxout", "k affine maps of width N, element-wise max",
           [_width("units", "output width N")],
           [P("k", "int", 2, "number of affine pieces", min=1, max=64), _INIT, _STD, _VALUE, _GAIN, _BIAS]),
    _model("relu", "max(0, x)"),
    _model("sigmoid", "1 / (1 + exp(-x))"),
    _model("tanh", "hyperbolic tangent"),
    _model("hardtanh", "x clipped to [min_val, max_val]",
           keywords=[P("min_val", "float", -1.0, "lower end of the linear region"),
                     P("max_val", "float", 1.0, "upper end of the linear region (above min_val)")]),
    _model("softsign", "x / (1 + |x|)"),
    _model("selu", "scaled ELU with the self-normalizing constants"),
    _model("mish", "x * tanh(softplus(x))"),
    _model("leaky_relu", "x for x > 0, slope * x otherwise",
           keywords=[P("slope", "float", 0.01, "slope for negative inputs")]),
    _model("elu", "x for x > 0, alpha * (exp(x) - 1) otherwise",
           keywords=[P("alpha", "float", 1.0, "saturation value for negative inputs", min=0)]),
    _model("gelu", "x * Phi(x)",
           keywords=[P("approx", "choice", "tanh", "tanh approximation or the exact erf form",
                       choices=("tanh", "none"))]),
    _model("swish", "x * sigmoid(x) (alias: silu)"),
    _model("softplus", "(1/beta) log(1 + exp(beta x))",
           keywords=[P("beta", "float", 1.0, "sharpness", min=0, min_open=True)]),
    _model("prelu", "leaky ReLU with a learned slope per unit",
           keywords=[P("init", "float", 0.25, "initial slope")]),
    _model("batchnorm", "batch normalization over the batch (training) or running statistics (evaluation); "
           "per channel over the batch and H, W on images",
           keywords=[P("momentum", "float", 0.1, "weight of the new batch in the running statistics",
                       min=0, max=1, min_open=True), _EPS, _AFFINE,
                     P("stats", "choice", "ema", "running statistics: exponential or cumulative average",
                       choices=("ema", "average"))]),
    _model("layernorm", "normalizes each example over its features (images: over C, H, W, gamma and "
           "beta per channel)", keywords=[_EPS, _AFFINE]),
    _model("dropout", "zero units at random in training (element-wise, on vectors and images)", *_DROP),
    _model("dropout2d", "zero whole channels of an image at random in training (PyTorch's Dropout2d)",
           *_DROP),
    _model("gaussian_noise", "additive Gaussian noise in training (the identity in evaluation), on any "
           "shape (alias: noise)", [P("std", "float", doc="standard deviation of the noise", min=0)]),
    _model("activity", "a penalty on the output of the node before it, added to the training loss "
           "(the identity on the stream)",
           keywords=[P("l1", "float", 0.0, "L1 strength: l1 * sum|x| / batch", min=0),
                     P("l2", "float", 0.0, "L2 strength: (l2 / 2) * sum x^2 / batch", min=0)]),
    _model("conv", "2-D convolution (PyTorch's Conv2d, cross-correlation), W of shape (N, C, size, size)",
           [_width("channels", "output channels N")],
           [P("size", "int", 3, "kernel height and width", **_SIZE),
            P("stride", "int", 1, "step between windows", **_SIZE),
            P("pad", "choice_int", "same", "zero padding: same (output ceil(H/stride)), valid (none), "
              "or that many pixels on every side", min=0, max=1024, choices=("same", "valid")),
            _INIT, _STD, _VALUE, _GAIN, _BIAS]),
    _model("maxpool", "max over size x size windows (PyTorch's max_pool2d: no padding, floor)",
           [P("size", "int", doc="window height and width", **_SIZE)],
           [P("stride", "int", None, "step between windows (default: size)", **_SIZE)]),
    _model("avgpool", "mean over size x size windows (PyTorch's avg_pool2d: no padding, floor)",
           [P("size", "int", doc="window height and width", **_SIZE)],
           [P("stride", "int", None, "step between windows (default: size)", **_SIZE)]),
    _model("globalpool", "each channel's mean (or max) over H, W: (C, H, W) to (C,)",
           keywords=[P("kind", "choice", "avg", "avg or max", choices=("avg", "max"))]),
    _model("flatten", "(C, H, W) to (C*H*W,), row-major"),
    _model("instancenorm", "normalizes each example's channels over H, W (same in training and evaluation)",
           keywords=[_EPS, _AFFINE]),
    _model("groupnorm", "normalizes each example over groups of C/G channels and H, W",
           [P("groups", "int", doc="number of groups G; must divide the channels", min=1, max=MAX_WIDTH)],
           [_EPS, _AFFINE]),
    _model("softmax", "explicit output probabilities (for inference files)"),
    _model("add", "adds the stream and an earlier node's output (residual)",
           [P("node", "node", doc="the earlier node (or block call) to add")]),
    _model("concat", "concatenates the stream and an earlier node's output",
           [P("node", "node", doc="the earlier node (or block call) to concatenate")]),
    _model("repeat", "the statements of its { } body N times in a row",
           [P("count", "int", doc="how many times", min=1, max=10_000)]),
]
ALIASES = {"silu": "swish", "noise": "gaussian_noise"}
DROPOUT_DEFAULT_P = 0.5

_N = P("n", "int", 200, "number of examples in all (before the split)", min=2, max=10_000_000)
_NOISE = lambda d: P("noise", "float", d, "noise level", min=0)  # noqa: E731
_CLASSES = P("classes", "int", 3, "number of classes", min=2, max=100)

DATA = [
    Stmt("source", "data", "where examples come from", variants={
        "digits": Variant(doc="the bundled 8x8 digits (1797 examples, 64 features, 10 classes)"),
        "breast_cancer": Variant(doc="the bundled Wisconsin breast cancer set (569 x 30, binary)"),
        "diabetes": Variant(doc="the bundled diabetes set (442 x 10, raw-scale regression)"),
        "path": Variant(keywords=(
            P("label", "word", "last", "csv: the label column: first, last or a column name"),
            P("header", "choice", "auto", "csv: whether the first row is a header",
              choices=("auto", "true", "false")),
        ), doc='a file: "f.npz" (arrays x and y) or "f.csv" / "f.csv.gz"'),
        "idx": Variant(keywords=(P("images", "string", doc="IDX images file (gzipped or not)"),
                                 P("labels", "string", doc="IDX labels file (gzipped or not)")),
                       doc="MNIST-format IDX files"),
        "moons": Variant(keywords=(_N, _NOISE(0.1)), doc="two interleaved half circles"),
        "spirals": Variant(keywords=(P("n", "int", 300, _N.doc, min=2, max=10_000_000), _NOISE(0.1),
                                     _CLASSES), doc="interleaved spirals"),
        "blobs": Variant(keywords=(P("n", "int", 300, _N.doc, min=2, max=10_000_000), _NOISE(1.0),
                                   _CLASSES), doc="Gaussian clusters"),
        "xor": Variant(keywords=(_N, _NOISE(0.1)), doc="the four-cluster XOR problem"),
        "gaussian": Variant(keywords=(
            P("n", "int", 256, _N.doc, min=2, max=10_000_000),
            P("features", "int", 64, "input width", min=1, max=MAX_WIDTH),
            P("classes", "int", None, "random labels in [0, classes); default: the output width",
              min=2, max=MAX_WIDTH)),
            doc="standard normal inputs, for activation-statistics experiments"),
    }),
    Stmt("split", "data", "train fraction; the rest is validation",
         [P("fraction", "float", 0.8, "train fraction", min=0, max=1, min_open=True)]),
    Stmt("validation", "data", "a separate validation file instead of a split",
         [P("path", "string", doc='"f.npz" or "f.csv"')]),
    Stmt("standardize", "data", "zero mean, unit variance inputs (training-split statistics); "
         "`standardize target`: the same for a regression target (both may be given)",
         [P("what", "choice", "inputs", "inputs, or target (a regression target; predictions and "
            "the reported mse are turned back into its units)", choices=("inputs", "target"))],
         distinct_by="what"),
    Stmt("minmax", "data", "inputs scaled to [0, 1] (training-split statistics)"),
    Stmt("shuffle", "data", "shuffle before splitting and every epoch",
         [P("enabled", "bool", True, "true or false")]),
    Stmt("augment", "data", "random changes to each training batch (images; noise also on vectors), "
         "drawn anew every epoch from the run's seed; never on validation or netc eval", keywords=[
             P("shift", "int", 0, "translate each image by up to N pixels in each direction, zero fill",
               min=0, max=1024),
             P("flip", "choice", "none", "mirror each image left-right with probability 1/2",
               choices=("none", "horizontal")),
             P("cutout", "int", 0, "zero one N x N square at a random place of each image (DeVries "
               "and Taylor)", min=0, max=1024),
             P("noise", "float", 0.0, "add Gaussian noise of this standard deviation to every input value",
               min=0)]),
    Stmt("labels", "data", "how the class labels are numbered in the data",
         [P("base", "choice", "zero_based", "zero_based (0..K-1) or one_based (1..K, shifted to 0..K-1)",
            choices=("zero_based", "one_based"))]),
]
# The augment keys that move or hide pixels: they need images (`input C H W`); noise does not.
IMAGE_AUGMENTS = ("shift", "flip", "cutout")

LOSSES = ("cross_entropy", "mse", "bce", "hinge")
CLASSIFICATION_LOSSES = ("cross_entropy", "bce", "hinge")
# The losses whose targets mix (mixup): class labels as probability rows for cross_entropy, 0/1 as a
# probability for bce, real targets as they are for mse. hinge's margin needs one true class.
MIXUP_LOSSES = ("cross_entropy", "bce", "mse")

TRAIN = [
    Stmt("loss", "train", "the loss", [P("kind", "choice", "cross_entropy", "the loss", choices=LOSSES)]),
    Stmt("optimizer", "train", "the update rule", default_variant="adam", variants={
        "sgd": Variant(keywords=(P("lr", "float", 0.01, "learning rate", **_LR),
                                 P("momentum", "float", 0.0, "momentum", min=0, max=1, max_open=True),
                                 P("nesterov", "bool", False, "Nesterov momentum"))),
        "rmsprop": Variant(keywords=(P("lr", "float", 0.01, "learning rate", **_LR),
                                     P("alpha", "float", 0.99, "smoothing constant", min=0, max=1,
                                       max_open=True),
                                     P("eps", "float", 1e-8, "added to the denominator", min=0,
                                       min_open=True))),
        "adam": Variant(keywords=(P("lr", "float", 1e-3, "learning rate", **_LR),
                                  P("betas", "floats", (0.9, 0.999), "moment decay rates", length=2,
                                    min=0, max=1, max_open=True),
                                  P("eps", "float", 1e-8, "added to the denominator", min=0,
                                    min_open=True))),
    }),
    Stmt("schedule", "train", "learning-rate schedule, applied per epoch", variants={
        "step": Variant(keywords=(P("every", "int", doc="epochs between decays", min=1),
                                  P("gamma", "float", 0.1, "decay factor", min=0, min_open=True))),
        "exponential": Variant(keywords=(P("gamma", "float", doc="decay factor per epoch", min=0,
                                           min_open=True),)),
        "cosine": Variant(keywords=(P("min_lr", "float", 0.0, "the final learning rate", min=0),)),
    }),
    Stmt("batch", "train", "minibatch size", [P("size", "int", 32, "examples per batch", min=1)]),
    Stmt("epochs", "train", "passes over the training split",
         [P("count", "int", 10, "number of epochs", min=1, max=1_000_000)]),
    Stmt("regularize", "train", "weight penalty, on weights only (not biases nor norm parameters)",
         variants={
             "l2": Variant(positional=(P("strength", "float", doc="penalty strength", min=0),)),
             "l1": Variant(positional=(P("strength", "float", doc="penalty strength", min=0),)),
             "elastic": Variant(keywords=(P("l1", "float", doc="L1 strength", min=0),
                                          P("l2", "float", doc="L2 strength", min=0))),
         }),
    Stmt("clip", "train", "gradient clipping", variants={
        "value": Variant(positional=(P("limit", "float", doc="clip each entry to [-V, V]", min=0,
                                       min_open=True),)),
        "norm": Variant(positional=(P("limit", "float", doc="rescale the global norm to at most V",
                                      min=0, min_open=True),)),
    }),
    Stmt("constrain", "train", "a constraint on the weights, applied after each update",
         keywords=[P("maxnorm", "float", doc="the largest L2 norm of a unit's incoming weights", min=0,
                     min_open=True)]),
    Stmt("early_stop", "train", "stop when the metric stops improving; restores the best weights",
         keywords=[P("patience", "int", 5, "epochs without improvement", min=1),
                   P("metric", "choice", "val_loss", "what to watch", choices=("val_loss", "val_accuracy")),
                   P("min_delta", "float", 0.0, "smallest change that counts as improvement", min=0)]),
    Stmt("mixup", "train", "mix each training batch with a shuffled copy of itself, inputs and targets, "
         "weight drawn from Beta(A, A) (Zhang et al.)",
         [P("alpha", "float", doc="the Beta distribution's parameter A (0.2 is typical)", min=0,
            min_open=True, max=1000)]),
    Stmt("seed", "train", "seeds initialization, shuffling and dropout masks",
         [P("value", "int", 0, "the seed", min=0, max=2**32 - 1)]),
]

SECTIONS = {
    "model": "the network, as a stream of layers (exactly one)",
    "data": "where examples come from and how they are prepared (at most one)",
    "train": "loss, optimizer and the training loop's settings (at most one)",
    "block": "a reusable group of model statements with parameters (any number)",
}

STATEMENTS: dict[str, dict[str, Stmt]] = {
    "model": {s.keyword: s for s in MODEL},
    "data": {s.keyword: s for s in DATA},
    "train": {s.keyword: s for s in TRAIN},
}


def lookup(section: str, keyword: str) -> Stmt | None:
    """The schema entry of `keyword` in `section` ('model', 'data' or 'train'), aliases resolved."""
    return STATEMENTS[section].get(ALIASES.get(keyword, keyword))


# Model statements that shape the stream instead of adding a node: every other model statement is
# an op, with a kernel of the same name in the runtime's registry.
STRUCTURE = ("repeat",)


def model_ops() -> tuple[str, ...]:
    """The keywords of the model statements that are ops (each has a kernel), in schema order."""
    return tuple(s.keyword for s in MODEL if s.keyword not in STRUCTURE)


def op_defaults(op: str) -> dict[str, Any]:
    """The default of every optional parameter of model op `op` ({} for a name without an entry),
    as the compiler fills them in: kernels read their defaults from here, never restate them."""
    stmt = STATEMENTS["model"].get(op)
    if stmt is None:
        return {}
    return {p.name: p.default for p in (*stmt.positional, *stmt.keywords) if not p.required}
