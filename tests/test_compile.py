"""The compiled graph: names, shapes, parameter counts, spans, settings, and the examples."""
from __future__ import annotations

import networkx as nx
import pytest

import netc
from netc.spec.settings import Choice, Clip, DataSettings, EarlyStop, Regularize
from conftest import ALL_EXAMPLES, EXAMPLES, IMAGE_ONLY
from netc.spec.schema import MODEL, lookup, model_ops
from netc.runtime.ops import KERNELS


def test_digits_graph_as_in_the_language_page():
    net = netc.load(EXAMPLES / "digits.net")
    g = net.graph
    assert isinstance(g, nx.DiGraph)
    assert net.order == ["input", "hidden1.dense1", "hidden1.batchnorm1", "hidden1.relu1",
                         "hidden1.dropout1", "hidden2.dense1", "hidden2.batchnorm1", "hidden2.relu1",
                         "hidden2.dropout1", "dense1"]
    assert [g.nodes[n]["shape"] for n in net.order] == [(None, 64)] + [(None, 128)] * 8 + [(None, 10)]
    assert g.nodes["hidden1.dense1"]["params"] == {"W": (64, 128), "b": (128,)}
    assert g.nodes["hidden2.dense1"]["param_count"] == 128 * 128 + 128
    assert g.nodes["hidden2.dropout1"]["attrs"]["p"] == 0.3
    assert g.nodes["hidden1.dropout1"]["attrs"]["p"] == 0.2
    assert g.nodes["dense1"]["attrs"]["init"] == "xavier"
    assert g.nodes["hidden1.batchnorm1"]["buffers"] == {"running_mean": (128,), "running_var": (128,),
                                                        "num_batches": ()}
    assert net.param_count == (64 * 128 + 128) + 2 * 128 + (128 * 128 + 128) + 2 * 128 + (128 * 10 + 10)
    # spans: the block's statement, and the call it came through
    dense = g.nodes["hidden2.dense1"]
    assert dense["span"].line == 9 and [c.line for c in dense["calls"]] == [18]
    assert g.nodes["dense1"]["span"].line == 19
    assert net.data == DataSettings(source=Choice("digits"), split=0.8, validation=None,
                                    standardize=True, minmax=False, shuffle=True, augment=None)
    assert net.train.optimizer == Choice("adam", {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8})
    assert net.train.regularize == Regularize(kind="l2", l1=0.0, l2=1e-4)
    assert net.train.clip == Clip(kind="norm", limit=5.0)
    assert net.train.early_stop == EarlyStop(patience=5, metric="val_loss", min_delta=0.0)
    assert (net.train.batch, net.train.epochs, net.train.seed) == (64, 30, 0)
    assert [w.code for w in net.warnings] == ["bias-before-batchnorm"]


def test_loads_matches_load():
    text = (EXAMPLES / "digits.net").read_text()
    a, b = netc.load(EXAMPLES / "digits.net"), netc.loads(text)
    assert a.order == b.order and a.train == b.train
    assert b.source.name == "<string>"


def test_residual_and_concat_edges():
    net = netc.load(EXAMPLES / "residual.net")
    g = net.graph
    assert g.nodes["add1"]["ref"] == "stem" and g.edges["stem", "add1"]["port"] == 1
    assert g.nodes["concat1"]["shape"] == (None, 64 + 128)
    assert net.train.optimizer == Choice("sgd", {"lr": 0.02, "momentum": 0.9, "nesterov": True})
    assert net.train.clip == Clip(kind="norm", limit=5.0)
    assert net.train.schedule == Choice("step", {"every": 10, "gamma": 0.5})


def test_blocks_repeat_and_named_calls():
    net = netc.load(EXAMPLES / "blocks.net")
    names = net.order
    assert names[:4] == ["input", "stem.dense1", "stem.batchnorm1", "stem.swish1"]
    for i in (1, 2, 3):
        assert f"res{i}.norm" in names and f"res{i}.add1" in names
        assert net.graph.nodes[f"res{i}.add1"]["ref"] == f"res{i}.norm"
        assert net.graph.nodes[f"res{i}.dense1"]["shape"] == (None, 192)
    assert "last.add1" in names
    assert net.graph.nodes["add1"]["ref"] == "stem.swish1"  # a named call stands for its last node
    assert net.graph.nodes["last.dropout1"]["attrs"]["p"] == 0.2
    assert net.train.regularize == Regularize(kind="elastic", l1=1e-6, l2=1e-4)
    assert net.train.early_stop.metric == "val_accuracy"


def test_init_tanh_example():
    net = netc.load(EXAMPLES / "init_tanh.net")
    dense = [n for n in net.order if net.graph.nodes[n]["op"] == "dense"]
    tanh = [n for n in net.order if net.graph.nodes[n]["op"] == "tanh"]
    assert len(dense) == 6 and len(tanh) == 6
    for n in dense:
        a = net.graph.nodes[n]
        assert a["attrs"]["init"] == "xavier" and a["attrs"]["bias"] is False
        assert a["params"] == {"W": (4096, 4096)}
    assert net.data.source == Choice("gaussian", {"n": 16, "features": 4096, "classes": None})
    assert net.warnings == []


@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_example_compiles(path):
    net = netc.load(path)
    assert net.order and net.param_count >= 0


LINT_FILES = {
    "double_softmax.net": "double-softmax",
    "bias_before_batchnorm.net": "bias-before-batchnorm",
    "dropout_before_batchnorm.net": "dropout-before-batchnorm",
    "init_activation.net": "init-activation",
    "class_count.net": "class-count",
    "bce_width.net": "class-count",
    "feature_scale.net": "feature-scale",
    "sigmoid_before_bce.net": "sigmoid-before-bce",
    "activation_on_logits.net": "activation-on-logits",
    "dropout_placement.net": "dropout-placement",
    "batchnorm_momentum.net": "batchnorm-momentum",
    "learning_rate.net": "learning-rate",
    "symmetric_init.net": "symmetric-init",
    "conv_bias_before_batchnorm.net": "bias-before-batchnorm",
    "batchnorm_batch.net": "batchnorm-batch",
    "target_scale.net": "target-scale",
}


@pytest.mark.parametrize("name,code", LINT_FILES.items())
def test_each_lint_file_triggers_exactly_its_warning(name, code):
    net = netc.load(EXAMPLES / "lints" / name)
    assert [w.code for w in net.warnings] == [code]
    # the warning sits on the line the file marks with "# warning"
    line = net.source.line_text(net.warnings[0].span.line)
    assert "# warning" in line


def test_every_lint_has_an_example_file():
    from netc.compiler.lints import LINTS
    codes = {c for c in LINT_FILES.values()}
    assert len(codes) == len(LINTS)


def test_clean_examples_have_no_warnings():
    for name in ("residual.net", "blocks.net", "init_tanh.net"):
        assert netc.load(EXAMPLES / name).warnings == [], name


def test_no_example_outside_lints_raises_a_new_lint():
    new = {"sigmoid-before-bce", "activation-on-logits", "dropout-placement", "batchnorm-momentum",
           "learning-rate", "batchnorm-batch", "target-scale"}
    for path in ALL_EXAMPLES:
        if path.parent.name != "lints":
            assert not new & {w.code for w in netc.load(path).warnings}, path


def test_sigmoid_before_bce_replaces_the_init_advice():
    # init=he (the default) feeding the final sigmoid used to get "use init=xavier": wrong advice
    text = "model m {\n    input 4\n    dense 1\n    sigmoid\n}\ntrain { loss bce }\n"
    assert [w.code for w in netc.loads(text).warnings] == ["sigmoid-before-bce"]
    # with mse the sigmoid is a legitimate output squashing: no lint of the logits kind
    assert [w.code for w in netc.loads(text.replace("bce", "mse")).warnings] == ["init-activation"]


@pytest.mark.parametrize("mid,codes", [("dropout 0.5", ["dropout-placement"]), ("dropout keep=0.3", ["dropout-placement"]),
                                       ("dropout 0.2", []), ("dropout keep=0.9", [])])
def test_dropout_on_the_input_warns_from_rate_one_half(mid, codes):
    text = f"model m {{\n    input 4\n    {mid}\n    dense 8\n    relu\n    dense 3\n}}\n"
    assert [w.code for w in netc.loads(text).warnings] == codes


@pytest.mark.parametrize("opt,codes", [("adam lr=0.1", ["learning-rate"]), ("adam lr=0.05", []),
                                       ("sgd lr=10", ["learning-rate"]), ("sgd lr=1", []),
                                       ("rmsprop lr=0.3", ["learning-rate"])])
def test_learning_rate_lint_per_optimizer(opt, codes):
    text = f"model m {{\n    input 4\n    dense 3\n}}\ntrain {{ optimizer {opt} }}\n"
    assert [w.code for w in netc.loads(text).warnings] == codes


@pytest.mark.parametrize("m,codes", [("0.9", ["batchnorm-momentum"]), ("0.99", ["batchnorm-momentum"]),
                                     ("0.1", []), ("0.5", [])])
def test_batchnorm_momentum_lint(m, codes):
    text = f"model m {{\n    input 4\n    dense 8 bias=false\n    batchnorm momentum={m}\n    relu\n    dense 3\n}}\n"
    assert [w.code for w in netc.loads(text).warnings] == codes


@pytest.mark.parametrize("model,batch,codes", [
    ("input 16; dense 8 bias=false; batchnorm; relu; dense 3", 2, ["batchnorm-batch"]),
    ("input 16; dense 8 bias=false; batchnorm; relu; dense 3", 1, ["batchnorm-batch"]),
    ("input 16; dense 8 bias=false; batchnorm; relu; dense 3", 3, []),
    # on images each channel's statistics also run over H, W: 1 x 4 x 4 = 16 values
    ("input 1 4 4; conv 2 bias=false; batchnorm; relu; flatten; dense 3", 1, []),
    ("input 1 4 4; conv 2 bias=false; batchnorm; relu; flatten; dense 3", 2, []),
    # a 1x1 image has no H, W to add: as vectors
    ("input 4 1 1; conv 2 size=1 bias=false; batchnorm; relu; flatten; dense 3", 2, ["batchnorm-batch"]),
    # layernorm normalizes each example on its own: any batch
    ("input 16; dense 8; layernorm; relu; dense 3", 1, []),
])
def test_batchnorm_batch_lint_tells_images_from_vectors(model, batch, codes):
    text = f"model m {{ {model} }}\ntrain {{ batch {batch} }}\n"
    assert [w.code for w in netc.loads(text).warnings] == codes


def test_bias_before_batchnorm_covers_conv():
    text = "model m {{ input 1 4 4; conv 2{}; batchnorm; relu; flatten; dense 3 }}"
    warnings = netc.loads(text.format("")).warnings
    assert [w.code for w in warnings] == ["bias-before-batchnorm"] and "conv with a bias" in warnings[0].message
    assert netc.loads(text.format(" bias=false")).warnings == []
    # instancenorm, groupnorm and layernorm keep no batch statistics: no lint
    assert netc.loads(text.format("").replace("batchnorm", "groupnorm 1")).warnings == []


def test_activation_on_logits_for_hinge_not_for_mse():
    text = "model m {\n    input 4\n    dense 3\n    relu\n}\ntrain { loss hinge }\n"
    assert [w.code for w in netc.loads(text).warnings] == ["activation-on-logits"]
    assert netc.loads(text.replace("hinge", "mse")).warnings == []


def test_feature_scale_silenced_by_standardize():
    text = (EXAMPLES / "lints" / "feature_scale.net").read_text().replace(
        "source diabetes", "source diabetes\n    standardize")
    assert netc.loads(text).warnings == []


def test_init_lint_sees_through_dropout_but_not_batchnorm():
    base = "model m {{\n    input 4\n    dense 8 init=he\n    {mid}\n    tanh\n}}\n"
    assert [w.code for w in netc.loads(base.format(mid="dropout 0.1")).warnings] == ["init-activation"]
    assert netc.loads(base.format(mid="layernorm")).warnings == []


def test_every_model_statement_has_a_kernel_and_back():
    statements = {s.keyword for s in MODEL} - {"repeat"}
    assert statements == set(KERNELS)


def _with_defaults(op: str) -> str:
    """The op's statement with only its required arguments (a width of 6, or the node `a`)."""
    required = [p for p in lookup("model", op).positional if p.required]
    return " ".join([op] + ["a" if p.type == "node" else "6" for p in required])


def test_every_op_compiles_with_its_defaults():
    variants = ["maxout 6 k=3", "leaky_relu slope=0.1", "gelu approx=none", "silu", "softplus beta=2",
                "batchnorm stats=average", "layernorm affine=false", "dropout keep=0.75",
                "dropout 0.1 mode=vanilla"]
    # every op of the schema with its defaults (the merges last: concat widens the stream)
    ops = sorted((op for op in model_ops() if op != "input" and op not in IMAGE_ONLY),
                 key=lambda op: KERNELS[op].arity)
    body = "\n".join(["input 6", "dense 6 as a", *variants, *map(_with_defaults, ops)])
    net = netc.loads(f"model all {{\n{body}\n}}\n")
    images = "\n".join(["input 2 8 8", "conv 4 as c", "conv 4 size=2 stride=2 pad=valid bias=false",
                         "maxpool 2 stride=1", "avgpool 2", "instancenorm", "groupnorm 2", "dropout2d 0.1"])
    image_net = netc.loads(f"model all {{\n{images}\nflatten\n}}\n")
    pooled = netc.loads(f"model all {{\n{images}\nglobalpool kind=max\n}}\n")
    ops = {g.nodes[n]["op"] for g in (net.graph, image_net.graph, pooled.graph) for n in g.graph["order"]}
    assert ops == set(KERNELS)
    assert image_net.graph.nodes["conv2"]["params"] == {"W": (4, 4, 2, 2)}
    assert net.graph.nodes["maxout1"]["params"] == {"W": (3, 6, 6), "b": (3, 6)}
    assert net.graph.nodes["prelu1"]["params"] == {"slope": (6,)}
    assert net.graph.nodes["layernorm1"]["params"] == {}
    assert net.graph.nodes["dropout1"]["attrs"]["p"] == pytest.approx(0.25)
    assert net.graph.nodes["swish2"]["op"] == "swish"  # silu is an alias
    assert net.graph.nodes["concat1"]["shape"] == (None, 12)


def test_values_lexical_forms():
    net = netc.loads("block b(w, s=2) {\n    dense (w + 2) * s - 4 / 2\n}\n"
                     "model m { input 3; b 4; dense 5; leaky_relu slope=-0.2 }\n"
                     "train { optimizer adam betas=(0.8, 0.9); seed 7 }\n")
    assert net.graph.nodes["b1.dense1"]["shape"] == (None, 10)
    assert net.graph.nodes["leaky_relu1"]["attrs"]["slope"] == -0.2
    assert net.train.optimizer.betas == (0.8, 0.9)
    assert net.train.seed == 7


def test_default_train_settings_without_a_train_section():
    net = netc.loads("model m { input 3; dense 2 }")
    assert net.train.loss == "cross_entropy" and net.train.batch == 32 and net.train.epochs == 10
    assert net.data is None


def test_csv_source_settings(tmp_path):
    (tmp_path / "d.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    p = tmp_path / "m.net"
    # batch 2: netc check runs the data checks of a run, and the default batch (32) is larger
    # than these 3 training examples
    p.write_text('data { source "d.csv" label=y header=true }\nmodel m { input 2; dense 2 }\ntrain { batch 2 }\n')
    net = netc.load(p)
    assert net.data.source == Choice("csv", {"path": "d.csv", "label": "y", "header": True})


def test_learning_rate_lint_spares_adam_on_a_regression():
    text = "model m {\n    input 4\n    dense 1\n}\ntrain { loss mse; optimizer adam lr=0.5 }\n"
    assert netc.loads(text).warnings == []
    assert [w.code for w in netc.loads(text.replace("adam lr=0.5", "sgd lr=20")).warnings] == ["learning-rate"]
