"""The command line as a user meets it: output, exit codes, help, and no tracebacks."""
from __future__ import annotations

import json
import subprocess

import pytest

from conftest import EXAMPLES
from cli_runner import netc_cli


def netc(*args, cwd=None):
    return netc_cli(*args, cwd=cwd)


def test_help_lists_every_command():
    r = netc("--help")
    assert r.returncode == 0
    for cmd in ("check", "graph"):
        assert cmd in r.stdout


@pytest.mark.parametrize("cmd", ["check", "graph"])
def test_command_help(cmd):
    r = netc(cmd, "--help")
    assert r.returncode == 0 and "FILE" in r.stdout


def test_check_prints_the_summary_table():
    r = netc("check", EXAMPLES / "digits.net")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "node" in out and "output" in out and "params" in out and "line" in out
    assert "hidden1.dense1" in out and "(B, 128)" in out and "8,320" in out
    assert "parameters: 26,634" in out
    assert "digits: 1797 examples" in out
    assert "warning: dense with a bias directly before batchnorm" in out
    assert out.rstrip().endswith("ok, 1 warning")


def test_check_bad_file_exit_2_no_traceback(tmp_path):
    p = tmp_path / "bad.net"
    p.write_text("model m {\n    input 4\n    dense 3 intt=he\n    dropout 1.5\n}\n")
    r = netc("check", p)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"{p}:3:13: error: unknown parameter 'intt' for dense" in r.stderr
    assert f"{p}:4:13: error: dropout: p must be" in r.stderr
    assert r.stderr.rstrip().endswith("2 errors")


def test_check_missing_file_exit_2(tmp_path):
    r = netc("check", tmp_path / "nope.net")
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr


def test_graph_text_tree():
    r = netc("graph", EXAMPLES / "digits.net")
    assert r.returncode == 0
    assert "├── hidden1/" in r.stdout and "│   ├── dense1: dense 128" in r.stdout
    assert r.stdout.splitlines()[-1].startswith("└── dense1: dense 10 init=xavier")


def test_graph_json_is_node_link_data():
    import networkx as nx
    r = netc("graph", EXAMPLES / "residual.net", "--format", "json")
    data = json.loads(r.stdout)
    g = nx.node_link_graph(data, edges="edges")
    assert g.nodes["add1"]["op"] == "add" and g.nodes["add1"]["shape"] == [None, 128]
    assert g.nodes["stem"]["span"]["line"] == 12
    assert data["graph"]["train"]["optimizer"]["name"] == "sgd"


def test_graph_dot_labels_carry_op_and_shape():
    r = netc("graph", EXAMPLES / "blocks.net", "--format", "dot")
    assert r.returncode == 0
    assert r.stdout.startswith('digraph "deep" {')
    assert '"res1.dense1" [label="res1.dense1\\ndense 192\\n(B, 192)"];' in r.stdout
    assert "subgraph cluster_" in r.stdout


@pytest.mark.requires("dot")
@pytest.mark.parametrize("name", ["digits.net", "residual.net", "blocks.net", "init_tanh.net"])
def test_dot_renders_with_graphviz(name, tmp_path):
    r = netc("graph", EXAMPLES / name, "--format", "dot")
    out = subprocess.run(["dot", "-Tsvg"], input=r.stdout, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert "<svg" in out.stdout


def test_unknown_option_is_a_usage_error():
    r = netc("graph", EXAMPLES / "digits.net", "--format", "png")
    assert r.returncode == 2 and "invalid choice" in r.stderr


@pytest.mark.parametrize("name", ["iris.csv", "digits.npz", "train-images-idx3-ubyte", "x.csv.gz"])
def test_a_data_file_given_as_the_spec_says_so(tmp_path, name):
    """`netc check iris.csv`: one message saying it is data and where a spec names it, not twenty
    syntax errors over the CSV's commas."""
    f = tmp_path / name
    f.write_text("sepal,petal,species\n5.1,1.4,setosa\n")
    for command in ("check", "run"):
        r = netc(command, f)
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "is a data file, not a .net spec" in r.stderr and f'source "{name}"' in r.stderr
        assert r.stderr.count("error") == 2  # the one error and its count line
