"""The word path's tokens: the words of a text as Keras' ``TextVectorization`` standardizes and splits it,
and runs of tokens joined into n-grams.

Used by `lexiclass.text.vectorizer` (word ids and n-gram vectors), by `lexiclass.text.subword` (the text
SentencePiece learns from is these words joined by one space) and by the document-vector models' targets.
"""

from __future__ import annotations

import re

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_STANDARDIZE = str.maketrans({**{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)},
                              **{c: None for c in PUNCTUATION}})
_SPACE = re.compile("[ \t\n\r\x0b\x0c]+")


def words(text: str) -> list[str]:
    """The words of ``text`` as the vectorizer sees them: lower-cased A-Z, punctuation deleted, split on spaces."""
    return [w for w in _SPACE.split(text.translate(_STANDARDIZE)) if w]


def ngrams(tokens: list[str], n: int) -> list[str]:
    """Every run of 1..``n`` consecutive ``tokens``, joined by one space (unigrams first)."""
    out = list(tokens)
    for width in range(2, n + 1):
        out.extend(" ".join(tokens[i:i + width]) for i in range(len(tokens) - width + 1))
    return out
