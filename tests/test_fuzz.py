"""No input produces a Python traceback: random text and random token mutations of every example
either compile or raise SpecError with located diagnostics."""
from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings, strategies as st

import netc
from conftest import ALL_EXAMPLES

TOKEN = re.compile(r'"[^"\n]*"|[A-Za-z_][A-Za-z0-9_.]*|\d+\.?\d*(?:[eE][+-]?\d+)?|\n|#[^\n]*|\S')
EXAMPLE_TOKENS = [TOKEN.findall(p.read_text()) for p in ALL_EXAMPLES]
ALPHABET = st.sampled_from(list("{}()=,;#\"'.+-*/\n\t \\@$") + ["model", "data", "train", "block",
                                                                 "repeat", "as", "add", "dense", "input",
                                                                 "1", "0", "-3", "1e9", "x"])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def compiles_or_reports(text: str) -> None:
    try:
        netc.loads(text, name="fuzz.net", check_data=False)
    except netc.SpecError as e:
        assert e.errors, "a SpecError without an error"
        for d in e.errors:
            assert d.message
            if d.span is not None:
                assert d.span.line >= 1 and d.span.column >= 1
        str(e)  # rendering must not fail either


def join(tokens: list[str]) -> str:
    return " ".join(tokens)


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text):
    compiles_or_reports(text)


@FUZZ
@given(st.lists(ALPHABET, max_size=80))
def test_random_token_soup(tokens):
    compiles_or_reports(" ".join(tokens))


@st.composite
def mutated_example(draw):
    tokens = list(draw(st.sampled_from(EXAMPLE_TOKENS)))
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "replace"]))
        if kind == "delete":
            del tokens[i]
        elif kind == "duplicate":
            tokens.insert(i, tokens[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens[i] = draw(ALPHABET)
    return join(tokens)


@FUZZ
@given(mutated_example())
def test_mutated_examples(text):
    compiles_or_reports(text)


def test_examples_survive_tokenization_round_trip():
    # the mutation strategy starts from text that compiles, so mutations are near-misses
    for tokens in EXAMPLE_TOKENS:
        netc.loads(join(tokens), check_data=False)
