"""Bad input: every error names line and column, carries a hint where one helps, and all errors of
a file are reported together."""
from __future__ import annotations

import subprocess
import sys

import pytest

import netc
from cli_runner import netc_cli
from conftest import errors_of, one_error

OK_MODEL = "model m {\n    input 4\n    dense 3\n}\n"


def at(d, line, col):
    assert d.span is not None, d.message
    assert (d.span.line, d.span.column) == (line, col), (d.message, d.span)


# --- syntax ----------------------------------------------------------------------------------

def test_unclosed_brace_points_at_the_open_brace():
    d = one_error("model m {\n    input 4\n    dense 3\n")
    assert "not closed" in d.message
    at(d, 1, 9)


def test_unmatched_closing_brace():
    d = one_error(OK_MODEL + "}\n")
    assert "unmatched '}'" in d.message
    at(d, 5, 1)


def test_missing_value_after_equals():
    d = one_error("model m {\n    input 4\n    dense 3 init=\n}\n")
    assert d.message == "missing value after '='"
    assert d.span.line == 3


def test_stray_character():
    d = one_error("model m {\n    input 4 $\n}\n")
    assert "unexpected character '$'" in d.message
    at(d, 2, 13)


def test_single_quotes_get_a_hint():
    d = one_error("data { source 'x.csv' }\n" + OK_MODEL)
    assert "double quotes" in d.hint


def test_several_syntax_errors_reported_together():
    errs = errors_of("model m {\n    input 4 $\n    dense 3 @\n}\n")
    assert [e.span.line for e in errs] == [2, 3]


# --- names and parameters --------------------------------------------------------------------

def test_unknown_statement_did_you_mean():
    d = one_error("model m {\n    input 4\n    dense 3\n    rleu\n}\n")
    at(d, 4, 5)
    assert "unknown model statement 'rleu'" in d.message and "relu" in d.hint


def test_unknown_parameter_did_you_mean():
    d = one_error("model m {\n    input 4\n    dense 3 intt=he\n}\n")
    at(d, 3, 13)
    assert "'init'" in d.hint


def test_unknown_section_did_you_mean():
    d = one_error("modle m {\n    input 4\n}\n")
    assert "unknown section 'modle'" in d.message and "'model'" in d.hint


def test_statement_in_wrong_section():
    d = one_error("model m {\n    input 4\n    loss mse\n}\n")
    assert "belongs in the train section" in d.message


@pytest.mark.parametrize("stmt,fragment", [
    ("dropout 1.5", "dropout: p must be a number >= 0 and < 1, got 1.5"),
    ("dense -5", "dense: units must be an integer >= 1"),
    ("dense 2.5", "units must be an integer"),
    ("dense he", "units must be an integer"),
    ("dense 3 init=lecunn", "init must be one of"),
    ("dense 3 bias=1", "bias must be true or false"),
    ("batchnorm momentum=0", "momentum must be a number > 0"),
    ("dropout keep=0", "keep must be a number > 0"),
])
def test_value_of_wrong_type_or_range(stmt, fragment):
    d = one_error(f"model m {{\n    input 4\n    {stmt}\n}}\n")
    assert fragment in d.message
    assert d.span.line == 3


def test_lr_zero():
    d = one_error(OK_MODEL + "train {\n    optimizer sgd lr=0\n}\n")
    assert "lr must be a number > 0, got 0" in d.message
    at(d, 6, 22)


def test_choice_did_you_mean():
    d = one_error(OK_MODEL + "train { optimizer adamm }\n")
    assert "'adam'" in d.hint


def test_dropout_p_and_keep_conflict():
    d = one_error("model m {\n    input 4\n    dropout 0.5 keep=0.5\n}\n")
    assert "not both" in d.message


def test_positional_after_keyword():
    d = one_error("model m {\n    input 4\n    dense init=he 3\n}\n")
    assert "positional argument after" in d.message


def test_parameter_given_twice():
    d = one_error("model m {\n    input 4\n    dense 3 bias=true bias=false\n}\n")
    assert "given twice" in d.message


# --- sections --------------------------------------------------------------------------------

def test_missing_model():
    d = one_error("data { source digits }\n")
    assert "no model section" in d.message


def test_two_models():
    d = one_error(OK_MODEL + "model n {\n    input 2\n}\n")
    assert "second model" in d.message
    at(d, 5, 1)


def test_missing_input():
    d = one_error("model m {\n    dense 3\n}\n")
    assert "no input statement" in d.message


def test_input_not_first():
    errs = errors_of("model m {\n    dense 3\n    input 4\n}\n")
    assert any("first statement" in e.message for e in errs)


def test_empty_file():
    d = one_error("")
    assert "empty" in d.message
    at(d, 1, 1)


def test_comments_only_file_has_no_model():
    d = one_error("# nothing here\n\n")
    assert "no model section" in d.message


def test_two_data_sections_and_duplicate_statement():
    errs = errors_of(OK_MODEL + "data { source digits }\ndata { source digits }\ntrain { batch 3; batch 4 }\n")
    messages = " | ".join(e.message for e in errs)
    assert "second data section" in messages and "'batch' is given twice" in messages


def test_split_and_validation_conflict():
    d = one_error('data {\n    source digits\n    split 0.5\n    validation "v.npz"\n}\n' + OK_MODEL,
                  check_data=False)
    assert "either split or validation" in d.message


# --- the model's names and references ----------------------------------------------------------

def test_name_used_twice():
    d = one_error("model m {\n    input 4\n    dense 3 as h\n    relu as h\n}\n")
    assert "'h' is already used" in d.message and "line 3" in d.hint
    at(d, 4, 13)


def test_auto_name_clash_with_alias():
    d = one_error("model m {\n    input 4\n    relu as dense1\n    dense 3\n}\n")
    assert "'dense1' is already used" in d.message


def test_add_unknown_node():
    d = one_error("model m {\n    input 4\n    dense 4 as h\n    add hh\n}\n")
    assert "unknown node 'hh'" in d.message and "'h'" in d.hint
    at(d, 4, 9)


def test_add_later_node():
    d = one_error("model m {\n    input 4\n    add h\n    dense 4 as h\n}\n")
    assert "comes later" in d.message and "line 4" in d.hint


def test_concat_unknown_node():
    d = one_error("model m {\n    input 4\n    concat nowhere\n}\n")
    assert "concat refers to unknown node" in d.message


def test_add_width_mismatch():
    d = one_error("model m {\n    input 4\n    dense 8 as h\n    dense 3\n    add h\n}\n")
    assert "equal widths" in d.message and "3" in d.message and "8" in d.message
    at(d, 5, 9)


# --- blocks and repeat --------------------------------------------------------------------------

BLOCK = "block hidden(width, p=0.2) {\n    dense width\n    dropout p\n}\n"


def test_block_missing_argument():
    d = one_error(BLOCK + "model m {\n    input 4\n    hidden\n}\n")
    assert "needs argument 'width'" in d.message
    at(d, 7, 5)


def test_block_unknown_argument():
    d = one_error(BLOCK + "model m {\n    input 4\n    hidden 3 q=0.1\n}\n")
    assert "unknown argument 'q'" in d.message and "p, width" in d.hint


def test_block_too_many_positionals():
    d = one_error(BLOCK + "model m {\n    input 4\n    hidden 3 0.1 7\n}\n")
    assert "takes 2 positional arguments" in d.message


def test_bad_value_through_block_points_at_call_site():
    d = one_error(BLOCK + "model m {\n    input 4\n    hidden -3\n}\n")
    assert "units must be" in d.message
    at(d, 7, 12)


def test_error_inside_block_reported_once_for_several_calls():
    errs = errors_of("block b(w) {\n    dense w intt=3\n}\nmodel m {\n    input 4\n    b 3\n    b 4\n}\n")
    assert len(errs) == 1 and errs[0].span.line == 2


MISSPELT_BLOCK = ("data {{\n    source moons\n}}\nblock hidden(width, pp=0.1) {{\n    dense widht\n    relu\n"
                  "    dropout p\n}}\nmodel m {{\n    input 2\n    {call}\n    {last}\n}}\n"
                  "train {{\n    loss cross_entropy\n}}\n")


def test_misspelt_block_parameter_gets_did_you_mean(tmp_path):
    p = tmp_path / "b.net"
    p.write_text(MISSPELT_BLOCK.format(call="hidden 16", last="dense 2"))
    r = netc_cli("check", p)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"{p}:5:11: error: dense: units must be an integer" in r.stderr
    assert "did you mean 'width'?" in r.stderr and "did you mean 'pp'?" in r.stderr


def test_misspelt_block_parameter_is_reported_with_the_other_errors(tmp_path):
    # the only call has a mistake of its own, so the block's body is never expanded: its
    # misspelt parameters are still found, with the call's and the model's errors
    p = tmp_path / "b.net"
    p.write_text(MISSPELT_BLOCK.format(call="hidden 16 ppp=0.2", last="densse 2"))
    r = netc_cli("check", p)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    for where in (":5:11: error: dense: units", ":7:13: error: dropout: p", ":11:15: error: unknown argument 'ppp'",
                  ":12:5: error: unknown model statement 'densse'"):
        assert f"{p}{where}" in r.stderr, r.stderr
    assert "did you mean 'width'?" in r.stderr and "4 errors" in r.stderr


def test_unexpanded_block_keeps_its_symbols_and_parameters_quiet(tmp_path):
    # an unused block whose names are options (init=he) or its own parameters is not an error
    p = tmp_path / "b.net"
    p.write_text("block hid(width, hee=1) {\n    dense width init=he\n    dense hee\n}\n"
                 "model m {\n    input 2\n    dense 2\n}\n")
    r = netc_cli("check", p)
    assert r.returncode == 0, r.stderr


def test_unknown_kind_is_quoted_as_other_names_are(tmp_path):
    p = tmp_path / "o.net"
    p.write_text(OK_MODEL + "train {\n    loss mse\n    optimizer adamw lr=1e-2\n}\n")
    r = netc_cli("check", p)
    assert r.returncode == 2 and f"{p}:7:15: error: unknown optimizer kind 'adamw'" in r.stderr, r.stderr
    q = tmp_path / "ok.net"
    q.write_text(OK_MODEL + "data {\n    source moons\n}\ntrain {\n    loss mse\n}\n")
    r = netc_cli("run", q, "--set", "optimizer=adamw")
    assert r.returncode == 2 and "netc: error: --set optimizer: unknown kind 'adamw'" in r.stderr, r.stderr


def test_recursion_between_blocks():
    d = one_error("block a() {\n    b\n}\nblock b() {\n    a\n}\nmodel m {\n    input 4\n    a\n}\n")
    assert "recursive block call: a -> b -> a" in d.message


def test_block_calling_itself():
    d = one_error("block a(w) {\n    dense w\n    a w\n}\nmodel m {\n    input 4\n    a 3\n}\n")
    assert "recursive" in d.message


def test_repeat_zero():
    d = one_error("model m {\n    input 4\n    repeat 0 {\n        relu\n    }\n}\n")
    assert "count must be an integer >= 1" in d.message
    at(d, 3, 12)


def test_repeat_without_body():
    d = one_error("model m {\n    input 4\n    repeat 3\n}\n")
    assert "needs a { } body" in d.message


def test_block_named_like_builtin():
    errs = errors_of("block dense(w) {\n    relu\n}\n" + OK_MODEL)
    assert "built-in statement" in errs[0].message


def test_huge_expansion_is_an_error_not_a_hang():
    d = one_error("model m {\n    input 4\n    repeat 10000 {\n        repeat 10000 {\n"
                  "            relu\n        }\n    }\n}\n")
    assert "more than" in d.message


def test_arithmetic_errors():
    d = one_error("block b(w) {\n    dense w / 0\n}\nmodel m {\n    input 4\n    b 3\n}\n")
    assert "division by zero" in d.message
    d = one_error("model m {\n    input 4\n    dense he * 2\n}\n")
    assert "needs numbers" in d.message


# --- all errors at once, the rendering ---------------------------------------------------------

def test_all_errors_reported_in_one_run_sorted_by_position():
    text = ("data { source digitz; split 1.5 }\n"
            "model m {\n    input 64\n    dense -5\n    dropout 1.5\n    rleu\n}\n"
            "train { optimizer adam lr=0; batch 0 }\n")
    errs = errors_of(text)
    assert len(errs) == 7
    positions = [(e.span.line, e.span.column) for e in errs]
    assert positions == sorted(positions)


def test_rendered_error_has_file_line_col_source_and_caret():
    with pytest.raises(netc.SpecError) as info:
        netc.loads("model m {\n    input 4\n    dense 3 intt=he\n}\n", name="my.net")
    text = str(info.value)
    lines = text.splitlines()
    assert lines[0] == "my.net:3:13: error: unknown parameter 'intt' for dense"
    assert lines[1].endswith("|     dense 3 intt=he")
    caret_col = lines[2].index("^")
    assert lines[1][caret_col:caret_col + 4] == "intt"
    assert lines[2].count("~") == 3
    assert lines[3] == "  hint: did you mean 'init'?"


# --- files ------------------------------------------------------------------------------------

def test_not_utf8(tmp_path):
    p = tmp_path / "latin.net"
    p.write_bytes(b"model m {\n    input 4 # caf\xe9\n}\n")
    with pytest.raises(netc.SpecError) as info:
        netc.load(p)
    d = info.value.errors[0]
    assert "not valid UTF-8" in d.message and d.span.line == 2


def test_path_that_does_not_exist(tmp_path):
    with pytest.raises(netc.SpecError) as info:
        netc.load(tmp_path / "nope.net")
    assert "no such file" in str(info.value)
    assert str(info.value).startswith(str(tmp_path / "nope.net"))


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(netc.SpecError) as info:
        netc.load(tmp_path)
    assert "directory" in str(info.value)


def test_missing_data_file_points_at_the_path(tmp_path):
    p = tmp_path / "m.net"
    p.write_text('data {\n    source "missing.npz"\n}\nmodel m {\n    input 4\n    dense 2\n}\n')
    with pytest.raises(netc.SpecError) as info:
        netc.load(p)
    d = info.value.errors[0]
    assert "missing.npz" in d.message
    at(d, 2, 12)


def test_data_width_mismatch_points_at_input():
    d = one_error("data { source digits }\nmodel m {\n    input 3\n    dense 10\n}\n")
    assert "64 features" in d.message and d.span.line == 3


def test_names_starting_with_as_are_names():
    net = netc.loads("block b(assets) {\n    dense assets\n}\n"
                     "model m {\n    input 4\n    dense 4 as as_x\n    b 4 as assets\n    add as_x\n}\n")
    assert net.order == ["input", "as_x", "assets.dense1", "add1"]


def test_as_alone_is_not_a_name():
    d = one_error("model m {\n    input 4\n    dense 4 init=as\n}\n")
    assert d.span.line == 3


@pytest.mark.parametrize("text", [
    "model m { input 2; dense " + "+".join(["1"] * 3000) + " }",
    "model m { input 2; dense " + "-" * 5000 + "1 }",
    "model m {\n input 2\n" + "repeat 1 {\n" * 600 + "relu\n" + "}\n" * 600 + "}\n",
])
def test_deep_nesting_is_a_diagnostic_not_a_crash(text):
    errs = errors_of(text)
    assert errs and all(e.span is not None for e in errs)


def test_long_lines_are_shown_as_a_window_around_the_column():
    with pytest.raises(netc.SpecError) as info:
        netc.loads("model m { input 4; " + "relu; " * 5000 + "dense 3 intt=he }", name="long.net")
    shown = str(info.value).splitlines()[1]
    assert len(shown) < 200 and "intt" in shown


def test_tuple_message():
    d = one_error("model m {\n    input 4\n}\ntrain {\n    optimizer adam betas=(0.9,)\n}\n")
    assert "a tuple of 2 numbers, each >= 0 and < 1" in d.message and "got (0.9,)" in d.message
