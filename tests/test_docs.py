"""The language reference (docs/language.md) against the code it documents.

- The generated tables equal what docs/gen_reference.py renders from the schema now (a schema
  change without `python docs/gen_reference.py` fails here).
- Every statement, variant, alias, section, lint code and `--set` key is documented in the prose.
- Every ```net block is a complete file that compiles; fragments are fenced as ```text.
- Each lint's example file triggers the lint it is documented under.
"""
from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import re

import pytest

import netc
from conftest import EXAMPLES, ROOT
from netc.compiler import lints
from netc.spec import overrides, schema
from netc.spec.settings import Choice, TrainSettings

DOC = ROOT / "docs" / "language.md"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_reference", ROOT / "docs" / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
TEXT = DOC.read_text(encoding="utf-8")
NET_BLOCKS = re.findall(r"^```net[ \t]*\n(.*?)^```[ \t]*$", TEXT, re.M | re.S)


def _prose(text: str) -> str:
    """The page without its generated regions: what a person wrote."""
    for region in gen.REGIONS:
        text = re.sub(re.escape(f"<!-- BEGIN GENERATED: {region} -->") + r".*?"
                      + re.escape(f"<!-- END GENERATED: {region} -->"), "", text, flags=re.S)
    return text


PROSE = _prose(TEXT)


def _in_code_span(word: str, text: str) -> bool:
    """Whether `word` appears as a whole word inside some `code span` of `text`."""
    return re.search(r"`[^`\n]*(?<![\w.])" + re.escape(word) + r"(?![\w])[^`\n]*`", text) is not None


# --- generated regions ---------------------------------------------------------------------------

@pytest.mark.parametrize("region", gen.REGIONS)
def test_generated_region_is_up_to_date(region):
    current = gen.regions_of(TEXT)[region]
    assert current == gen.render(region), (
        f"the '{region}' table of docs/language.md is out of date: run python docs/gen_reference.py")


def test_regenerating_changes_nothing():
    assert gen.update(TEXT) == TEXT
    assert gen.main(["--check"]) == 0


def test_a_schema_change_makes_the_doc_stale(monkeypatch):
    dense = schema.STATEMENTS["model"]["dense"]
    monkeypatch.setitem(schema.STATEMENTS["model"], "dense", dataclasses.replace(dense, doc="changed"))
    assert gen.stale_regions(TEXT) == ["model"]


def test_tables_list_every_parameter():
    tables = "\n".join(gen.regions_of(TEXT).values())
    for section, stmts in schema.STATEMENTS.items():
        for stmt in stmts.values():
            forms = [stmt] if stmt.variants is None else list(stmt.variants.values())
            for form in forms:
                for p in form.positional:
                    assert f"`{p.name.upper()}`" in tables, (section, stmt.keyword, p.name)
                for p in form.keywords:
                    assert f"`{p.name}=`" in tables, (section, stmt.keyword, p.name)


# --- everything is documented --------------------------------------------------------------------

def _statement_words():
    for section, stmts in schema.STATEMENTS.items():
        for keyword, stmt in stmts.items():
            yield section, keyword
            for variant in stmt.variants or ():
                if variant != "path":
                    yield section, variant
    for alias in schema.ALIASES:
        yield "model", alias


@pytest.mark.parametrize("section,word", sorted(set(_statement_words())))
def test_every_statement_keyword_is_in_the_prose(section, word):
    assert _in_code_span(word, PROSE), f"{section} statement or kind '{word}' is not described in the prose"


@pytest.mark.parametrize("section", sorted(schema.SECTIONS))
def test_every_section_is_documented(section):
    assert _in_code_span(section, PROSE)


def _lint_codes() -> dict[str, set[str]]:
    """Lint function name -> the codes it can raise, read from compiler/lints.py."""
    codes = {}
    for fn in lints.LINTS:
        found = set(re.findall(r"_warn\(\s*\"([a-z0-9-]+)\"", inspect.getsource(fn)))
        assert found, f"no lint code found in {fn.__name__}: has the _warn call changed?"
        codes[fn.__name__] = found
    return codes


LINT_CODES = sorted(set().union(*_lint_codes().values()))


def _lint_section(code: str) -> str:
    match = re.search(r"^### `" + re.escape(code) + r"`\n(.*?)(?=^## |^### |\Z)", TEXT, re.M | re.S)
    assert match, f"lint '{code}' has no '### `{code}`' section in docs/language.md"
    return match.group(1)


@pytest.mark.parametrize("code", LINT_CODES)
def test_every_lint_code_is_documented(code):
    assert code in TEXT
    section = _lint_section(code)
    assert "examples/lints/" in section, f"lint '{code}': name its example file"


@pytest.mark.parametrize("code", LINT_CODES)
def test_lint_examples_raise_their_code(code):
    paths = re.findall(r"examples/lints/[\w.-]+\.net", _lint_section(code))
    assert paths
    for path in paths:
        net = netc.load(ROOT / path)
        assert code in [w.code for w in net.warnings], f"{path} does not raise {code}"


def test_every_lint_example_file_is_documented():
    for path in sorted((EXAMPLES / "lints").glob("*.net")):
        assert f"examples/lints/{path.name}" in TEXT, path.name


def _set_keys() -> set[str]:
    train = TrainSettings(schedule=Choice("step", {"every": 1, "gamma": 0.1}))
    return set(overrides.valid_keys(train))


@pytest.mark.parametrize("key", sorted(_set_keys()))
def test_every_set_key_is_documented(key):
    section = TEXT[TEXT.index("## Overriding settings"):TEXT.index("## Lints")]
    head, _, sub = key.partition(".")
    # Parameters of the optimizer and schedule are covered by `optimizer.lr`, ... rows.
    if head in ("optimizer", "schedule") and sub:
        assert f"`{head}." in section, key
    else:
        assert f"`{key}`" in section, key


# --- examples in the page -----------------------------------------------------------------------

def test_the_page_has_complete_examples():
    assert len(NET_BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(NET_BLOCKS)))
def test_net_blocks_compile(index):
    text = NET_BLOCKS[index]
    try:
        netc.loads(text, name=f"docs/language.md block {index + 1}", check_data=False)
    except netc.SpecError as e:
        pytest.fail(f"a ```net block of docs/language.md does not compile (fence fragments as ```text):\n{e}")


def test_overview_is_the_digits_example():
    assert NET_BLOCKS[0] == (EXAMPLES / "digits.net").read_text(encoding="utf-8")


# --- a few claims of the prose, checked ---------------------------------------------------------

def _order(text: str) -> list[str]:
    return netc.loads(text, check_data=False).order


def test_binary_minus_wins():
    net = netc.loads("model m { input 4; dense 10 -2 }", check_data=False)
    assert net.graph.nodes["dense1"]["shape"] == (None, 8)
    with pytest.raises(netc.SpecError):
        netc.loads("model m { input 4; dense 10 (-2) }", check_data=False)
    net = netc.loads("model m { input 4; leaky_relu slope=-0.1 }", check_data=False)
    assert net.graph.nodes["leaky_relu1"]["attrs"]["slope"] == -0.1


def test_counters_count_named_statements_and_repeat_keeps_the_scope():
    assert _order("model m { input 4; dense 4 as h; dense 4; repeat 2 { relu; silu } }") == \
        ["input", "h", "dense2", "relu1", "swish1", "relu2", "swish2"]


def test_documented_defaults():
    net = netc.loads("model m { input 4; dropout; dropout keep=0.75; gelu }", check_data=False)
    g = net.graph
    assert g.nodes["dropout1"]["attrs"]["p"] == 0.5
    assert g.nodes["dropout2"]["attrs"]["p"] == pytest.approx(0.25)
    assert g.nodes["gelu1"]["attrs"]["approx"] == "tanh"
    assert net.train == TrainSettings()
    assert TrainSettings().optimizer == Choice("adam", {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8})
    assert (TrainSettings().batch, TrainSettings().epochs, TrainSettings().seed) == (32, 10, 0)
