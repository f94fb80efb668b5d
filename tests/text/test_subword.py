"""``--tokenizer sentencepiece``: sub-word ids learned from training texts, saved with the run, checked on load.

Tiny corpora (a few hundred short texts): every test runs in seconds.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from lexiclass.errors import LexiclassError
from lexiclass.text.subword import MODEL_FILE, SubwordModel, max_model_bytes, standardized
from lexiclass.text.vectorizer import SPEC_FILE, VOCAB_FILE, Vectorizer, words

# Korean attaches particles and endings to stems: "영화는", "영화가", "영화를" share "영화".
STEMS = ["영화", "배우", "연기", "감독", "이야기", "장면", "음악", "결말"]
ENDINGS = ["는", "가", "를", "도", "의", "만", "에서", "까지"]
PRAISE = ["정말", "너무", "최고", "재미있다", "좋았다", "감동이다"]
BLAME = ["별로", "지루했다", "최악", "실망이다", "아깝다", "졸았다"]


def korean_texts(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        cue = PRAISE if label else BLAME
        parts = [str(rng.choice(STEMS)) + str(rng.choice(ENDINGS)) for _ in range(int(rng.integers(2, 6)))]
        parts.insert(int(rng.integers(0, len(parts) + 1)), str(rng.choice(cue)))
        texts.append(" ".join(parts) + ("!" if i % 3 == 0 else "."))
        labels.append(label)
    return texts, labels


KOREAN, _ = korean_texts(300)
ENGLISH = ["The movie was great, great fun!", "A boring movie.", "Great acting; boring plot", "fun fun fun",
           "Watching movies is fun", "the actors acted boringly", "greatest acting of the year"] * 20


@pytest.fixture(scope="module")
def korean_vectorizer():
    return Vectorizer("int", max_tokens=120, tokenizer="sentencepiece").adapt(KOREAN)


def test_korean_words_become_smaller_pieces(korean_vectorizer):
    vec = korean_vectorizer
    text = "배우만도 정말 재미있다"  # "배우만도" (stem + two endings) never occurs in training
    pieces = vec.tokens(text)
    (ids,) = vec.token_ids([text])
    assert len(pieces) == len(ids) > len(words(text))  # the unseen word was cut into pieces
    assert "".join(pieces).replace("\u2581", " ").strip() == standardized(text)  # nothing lost or added
    assert [vec.vocabulary[i] for i in ids] == pieces  # ids index the saved vocabulary
    assert 1 not in ids.tolist()  # ... all of them known
    word_ids = Vectorizer("int", max_tokens=120).adapt(KOREAN).token_ids([text])[0]
    assert word_ids[0] == 1  # whereas the word vocabulary has nothing for it


def test_reserved_ids_padding_never_produced_unknown_is_1(korean_vectorizer):
    vec = korean_vectorizer
    assert vec.vocabulary[:2] == ["", "[UNK]"]
    assert len(vec.vocabulary) <= 120
    ids = vec.token_ids(KOREAN + ["", "!!!"])
    assert all(len(x) == 0 or x.min() >= 1 for x in ids)  # 0 stays free for padding (masks)
    assert len(ids[-1]) == len(ids[-2]) == 0  # nothing left after punctuation is stripped
    (unknown,) = vec.token_ids(["영화 뷁"])  # a syllable never seen in training
    assert 1 in unknown.tolist()
    assert vec.tokens("영화 뷁")[list(unknown).index(1)] == "뷁"  # it keeps its own spelling


def test_same_standardization_as_the_word_path():
    vec = Vectorizer("int", max_tokens=40, tokenizer="sentencepiece").adapt(ENGLISH)
    assert vec.token_ids(["GREAT, fun!"])[0].tolist() == vec.token_ids(["great fun"])[0].tolist()
    assert all(piece == piece.lower() for piece in vec.vocabulary[2:])
    assert not any(ch in piece for piece in vec.vocabulary[2:] for ch in ",;!.[]")


def test_english_pieces_and_word_starts():
    vec = Vectorizer("int", max_tokens=40, tokenizer="sentencepiece").adapt(ENGLISH)
    pieces = vec.tokens("Watching boringly")
    assert pieces[0].startswith("\u2581")
    assert len(pieces) > 2  # two words, more pieces: sub-words, not whole words
    assert "".join(pieces).replace("\u2581", " ").strip() == "watching boringly"


def test_learning_is_deterministic():
    a = SubwordModel.learn(KOREAN, 120)
    b = SubwordModel.learn(list(KOREAN), 120)
    assert a.model_bytes == b.model_bytes
    assert [x.tolist() for x in a.encode(KOREAN[:50])] == [x.tolist() for x in b.encode(KOREAN[:50])]


def test_learns_from_training_texts_only():
    vec = Vectorizer("int", max_tokens=120, tokenizer="sentencepiece").adapt(KOREAN)
    assert not any("뷁" in piece for piece in vec.vocabulary)


def test_small_corpus_gives_fewer_pieces_not_an_error():
    vec = Vectorizer("int", max_tokens=5000, tokenizer="sentencepiece").adapt(["좋은 영화", "나쁜 영화"])
    assert 3 <= len(vec.vocabulary) < 5000


def test_no_words_at_all_is_a_clear_error():
    with pytest.raises(LexiclassError, match="no words"):
        Vectorizer("int", max_tokens=50, tokenizer="sentencepiece").adapt(["!!!", "", "..."])


def test_unknown_tokenizer_is_refused():
    with pytest.raises(LexiclassError, match="tokenizer"):
        Vectorizer("int", tokenizer="bpe")


@pytest.mark.parametrize("mode", ["int", "multi_hot", "tf_idf"])
def test_save_and_load_give_identical_outputs(tmp_path, mode):
    vec = Vectorizer(mode, max_tokens=120, ngrams=2, tokenizer="sentencepiece").adapt(KOREAN)
    vec.save(tmp_path)
    assert json.loads((tmp_path / SPEC_FILE).read_text())["tokenizer"] == "sentencepiece"
    assert (tmp_path / MODEL_FILE).read_bytes() == vec.subword.model_bytes
    again = Vectorizer.load(tmp_path)
    assert again.tokenizer == "sentencepiece" and again.vocabulary == vec.vocabulary
    probe = KOREAN[:20] + ["영화 뷁 음악을", ""]
    if mode == "int":
        assert [x.tolist() for x in again.token_ids(probe)] == [x.tolist() for x in vec.token_ids(probe)]
    else:
        np.testing.assert_array_equal(again.vectors(probe), vec.vectors(probe))
        assert any(" " in token for token in vec.vocabulary)  # n-grams of pieces


def test_word_path_writes_what_it_always_wrote(tmp_path):
    vec = Vectorizer("int", max_tokens=50).adapt(ENGLISH)
    assert vec.tokenizer == "word" and vec.subword is None
    vec.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([VOCAB_FILE, SPEC_FILE])
    assert json.loads((tmp_path / SPEC_FILE).read_text()) == {"output_mode": "int", "max_tokens": 50, "ngrams": None}
    assert vec.tokens("GREAT, fun!") == words("GREAT, fun!") == ["great", "fun"]
    assert Vectorizer.load(tmp_path).tokenizer == "word"


def test_word_and_sentencepiece_differ_only_in_the_tokenizer():
    word = Vectorizer("int", max_tokens=120).adapt(KOREAN)
    piece = Vectorizer("int", max_tokens=120, tokenizer="sentencepiece").adapt(KOREAN)
    (w,), (p,) = word.token_ids(["배우만도 최고"]), piece.token_ids(["배우만도 최고"])
    assert len(w) == 2 and len(p) > 2


# --- damaged files --------------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path, korean_vectorizer):
    korean_vectorizer.save(tmp_path)
    return tmp_path


def _damage_cases():
    return [
        ("truncated", lambda d: (d / MODEL_FILE).write_bytes((d / MODEL_FILE).read_bytes()[:300]), "is damaged"),
        ("empty", lambda d: (d / MODEL_FILE).write_bytes(b""), "is damaged: empty"),
        ("random", lambda d: (d / MODEL_FILE).write_bytes(bytes(range(256)) * 8), "is damaged"),
        ("oversized", lambda d: (d / MODEL_FILE).write_bytes(b"\0" * (max_model_bytes(120) + 1)), "larger than"),
        ("missing", lambda d: (d / MODEL_FILE).unlink(), "is missing"),
        ("folder", lambda d: ((d / MODEL_FILE).unlink(), (d / MODEL_FILE).mkdir()), "cannot read"),
        ("other-vocabulary", lambda d: (d / VOCAB_FILE).write_text(
            "\n".join(["", "[UNK]"] + [f"x{i}" for i in range(10)]) + "\n"), "does not match vocabulary.txt"),
        ("bad-tokenizer", lambda d: (d / SPEC_FILE).write_text(json.dumps(
            {"output_mode": "int", "max_tokens": 120, "ngrams": None, "tokenizer": "bpe"})), "tokenizer 'bpe'"),
    ]


@pytest.mark.parametrize("case", _damage_cases(), ids=[c[0] for c in _damage_cases()])
def test_damaged_model_file_is_one_line_naming_it(saved, case):
    _, damage, fragment = case
    damage(saved)
    with pytest.raises(LexiclassError) as info:
        Vectorizer.load(saved)
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert (MODEL_FILE if "tokenizer" not in fragment else SPEC_FILE) in message


def test_sentencepiece_model_from_another_run_is_refused(saved, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    Vectorizer("int", max_tokens=40, tokenizer="sentencepiece").adapt(ENGLISH).save(other)
    shutil.copy(other / MODEL_FILE, saved / MODEL_FILE)
    with pytest.raises(LexiclassError, match="does not match vocabulary.txt"):
        Vectorizer.load(saved)
