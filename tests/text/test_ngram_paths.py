"""The two ways `lexiclass.text.ngrams` scores texts give the same answer.

A few short texts are scored in Python while the compiled loops are not loaded (so one prediction
needs no numba); everything else by the compiled loops. Both must find the same columns, and the
same sums up to float64 rounding, on any text: whitespace runs, HTML breaks, apostrophes, scripts
without case, lone surrogates, NUL.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lexiclass.text import ngrams
from lexiclass.text.ngrams import Ngrams, Vocabulary, text_ngrams

ALPHABET = st.sampled_from(list("ab c'!?\t\n\x00") + ["<br />", "é", "ß", "한", "\ud800", "  ", "İ"])
TEXTS = st.lists(st.lists(ALPHABET, max_size=30).map("".join), min_size=1, max_size=6)
ANALYZERS = [("word", 1, 1), ("word", 1, 3), ("char", 1, 4), ("char", 2, 5)]
CORPUS = ["a b c", "ab ab' c!", "c a b a", "한 ab\tc", "é ß ab?", "<br />a", "b c a b c a"]


def vocabulary_of(grams: Ngrams, texts: list[str]) -> list[str]:
    """Every n-gram of ``texts`` plus two strings no text has, shuffled, so columns are not in text order."""
    word = grams.analyzer == "word"
    strings = {g for piece in ngrams._pieces(texts, grams.analyzer)
               for g in text_ngrams(piece, word, grams.min_n, grams.max_n)}
    return sorted(strings | {"never seen", "zz"}, key=lambda g: hash((g, 7)))


def both_paths(grams: Ngrams, texts: list[str], strings: list[str], weights: np.ndarray, monkeypatch):
    """(Python path's scores, compiled path's scores) for the same texts and vocabulary."""
    with monkeypatch.context() as patch:
        patch.delitem(sys.modules, ngrams._KERNELS, raising=False)  # as in a fresh process
        patch.setattr(ngrams, "PYTHON_CHARS", 10**9)
        patch.setattr(ngrams, "_kernels", lambda: pytest.fail("the Python path loaded the compiled loops"))
        python = grams.score(texts, Vocabulary(strings), weights)
    monkeypatch.setattr(ngrams, "PYTHON_CHARS", -1)
    compiled = grams.score(texts, Vocabulary(strings), weights)
    return python, compiled


@pytest.mark.parametrize("analyzer,min_n,max_n", ANALYZERS)
@settings(max_examples=25, deadline=None)
@given(texts=TEXTS)
def test_python_and_compiled_scores_agree_on_any_text(analyzer, min_n, max_n, texts):
    grams = Ngrams(analyzer, min_n, max_n)
    strings = vocabulary_of(grams, CORPUS + texts[:1])  # the first text's n-grams are known, the others' partly
    weights = np.random.default_rng(len(strings)).normal(size=(len(strings), 3)).astype(np.float32)
    with pytest.MonkeyPatch.context() as monkeypatch:  # hypothesis: a fresh one per example
        python, compiled = both_paths(grams, texts, strings, weights, monkeypatch)
    assert python.shape == compiled.shape == (len(texts), 3)
    np.testing.assert_allclose(python, compiled, rtol=0, atol=1e-12)


@pytest.mark.parametrize("analyzer,min_n,max_n", ANALYZERS)
def test_python_path_finds_exactly_the_compiled_columns(analyzer, min_n, max_n, monkeypatch):
    """One-hot weights make each score a count of columns: a missed or extra n-gram changes it."""
    grams = Ngrams(analyzer, min_n, max_n)
    strings = vocabulary_of(grams, CORPUS)
    weights = np.eye(len(strings), dtype=np.float32)  # score[t, c] = 1 when text t has column c
    python, compiled = both_paths(grams, CORPUS, strings, weights, monkeypatch)
    assert python.max() == 1 and np.array_equal(python, compiled)
    rows = grams.rows(CORPUS, Vocabulary(strings))
    assert np.array_equal(compiled.sum(axis=1), np.diff(rows[1]))  # as many columns as the CSR rows hold


def test_only_short_inputs_take_the_python_path(monkeypatch):
    grams, strings = Ngrams("char", 1, 3), ["a", "ab", "b"]
    weights = np.ones((3, 1), dtype=np.float32)
    monkeypatch.delitem(sys.modules, ngrams._KERNELS, raising=False)
    long_text = "ab" * (ngrams.PYTHON_CHARS // 2 + 1)
    loaded = []
    real = ngrams._kernels
    monkeypatch.setattr(ngrams, "_kernels", lambda: loaded.append(1) or real())
    assert grams.score(["ab"], Vocabulary(strings), weights)[0, 0] == 3 and not loaded
    assert grams.score([long_text], Vocabulary(strings), weights)[0, 0] == 3 and loaded
