"""`SubwordModel`: a SentencePiece unigram vocabulary learned from the training texts (``--tokenizer sentencepiece``).

Whitespace words suit English; languages that attach grammar to words (Korean, Turkish,
Finnish...) make each whitespace token rare, so a word vocabulary is mostly
out-of-vocabulary ids. A sub-word vocabulary splits such words into frequent pieces
("▁영화" + "는"), so every text maps to known ids.

What happens to a text, in order:

1. the word path's standardization (`lexiclass.text.tokens.words`: A-Z lower-cased,
   ASCII punctuation deleted, split on ASCII whitespace), words joined by one space. So a
   text is cleaned the same way whichever ``--tokenizer`` a run uses, switching tokenizer
   changes only how words are cut, and the pieces never contain characters that the word
   path deletes. SentencePiece's own normalization is switched off (``identity``) for the
   same reason: the text it sees is exactly the standardized words, nothing else rewritten;
2. SentencePiece cuts each word into pieces (``▁`` marks a piece that starts a word);
3. ids: 0 is padding (never produced by encoding, so masks work as with words), 1 is the
   out-of-vocabulary piece (characters the training texts did not cover), then the learned
   pieces. The run's vocabulary.txt lists them in id order, with "" and "[UNK]" for 0 and 1
   as the word vocabulary does.

The model is learned in memory from the training texts only (unigram language model,
vocabulary size = ``max_tokens`` at most, fewer on a small corpus), with one thread and a
fixed random seed: the same texts give the same model bytes. It is saved as the run's
``sentencepiece.model`` (the serialized SentencePiece model) and checked on load: a
missing, damaged, truncated or oversized file, or one that does not match vocabulary.txt,
stops with one line naming the file.
"""

from __future__ import annotations

import io
import logging
import os
import re
from pathlib import Path

import numpy as np

from lexiclass.atomic import write_bytes
from lexiclass.errors import LexiclassError, first_line
from lexiclass.text.tokens import words

log = logging.getLogger(__name__)
MODEL_FILE = "sentencepiece.model"
SEED = 1337
TRAIN_CHUNK_WORDS = 256  # long texts are learned from in chunks of whole words (SentencePiece skips long lines)
CHARACTER_COVERAGE = 0.9995  # share of characters kept as pieces; the rarest others become "[UNK]" (id 1)


def max_model_bytes(max_tokens: int) -> int:
    """Largest model file accepted for a vocabulary of ``max_tokens``: a piece takes at most ~80 bytes."""
    return 1_000_000 + 128 * max_tokens


def standardized(text: str) -> str:
    """The text SentencePiece sees: the word path's words joined by one space."""
    return " ".join(words(text))


def _chunks(texts):
    """Standardized training texts, long ones cut into runs of whole words; empty texts left out."""
    for text in texts:
        tokens = words(text)
        for start in range(0, len(tokens), TRAIN_CHUNK_WORDS):
            yield " ".join(tokens[start:start + TRAIN_CHUNK_WORDS])


class SubwordModel:
    """A trained SentencePiece model: `learn` it, `encode` texts to ids, `save`/`load` its bytes."""

    def __init__(self, model_bytes: bytes, processor):
        self.model_bytes = model_bytes
        self._sp = processor

    # --- learning --------------------------------------------------------------------
    @classmethod
    def learn(cls, texts, max_tokens: int) -> "SubwordModel":
        """Learn at most ``max_tokens`` pieces (padding and "[UNK]" included) from ``texts`` (training texts only)."""
        import sentencepiece as spm  # deferred on purpose: only sentencepiece runs need it (~0.2 s to import)

        texts = list(texts)
        chunks = list(_chunks(texts))
        if not chunks:
            raise LexiclassError("the training texts have no words: a sub-word vocabulary cannot be learned")
        # SentencePiece reports no progress while it learns; say what it is doing and on how much.
        log.info("learning a sub-word vocabulary of up to %d pieces from %d texts (SentencePiece; "
                 "no progress shown while it runs)", max_tokens, len(texts))
        spm.set_random_generator_seed(SEED)
        buffer = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(chunks), model_writer=buffer, model_type="unigram", vocab_size=max_tokens,
                hard_vocab_limit=False,  # a small corpus gives fewer pieces instead of an error
                pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, unk_surface="[UNK]",
                normalization_rule_name="identity", character_coverage=CHARACTER_COVERAGE,
                max_sentence_length=1 << 16, num_threads=1, minloglevel=2)
        except RuntimeError as exc:
            message = first_line(exc)
            needed = re.search(r"smaller than required_chars\. \d+ vs (\d+)", message)
            if needed:
                raise LexiclassError(f"max_tokens = {max_tokens:,} is too small for a sub-word vocabulary of these "
                                     f"texts: their characters alone need {int(needed.group(1)):,} ids; raise "
                                     "--max-tokens") from None
            raise LexiclassError(f"cannot learn a SentencePiece vocabulary of {max_tokens:,} pieces: "
                                 f"{message[:200]}") from None
        data = buffer.getvalue()
        return cls(data, _processor(data, "the learned SentencePiece model"))

    # --- use -------------------------------------------------------------------------
    def pieces(self) -> list[str]:
        """Every piece in id order; ids 0 and 1 are "" (padding) and "[UNK]", as in a word vocabulary."""
        sp = self._sp
        return ["", "[UNK]"] + [sp.id_to_piece(i) for i in range(2, sp.get_piece_size())]

    def encode(self, texts: list[str]) -> list[np.ndarray]:
        """Variable-length int32 piece ids per text (after `standardized`); 1 for an uncovered character."""
        encoded = self._sp.encode([standardized(t) for t in texts], out_type=int)
        return [np.asarray(ids, dtype=np.int32) for ids in encoded]

    def encode_pieces(self, text: str) -> list[str]:
        """The pieces of one text, aligned with `encode`'s ids (an uncovered character keeps its own spelling)."""
        return list(self._sp.encode(standardized(text), out_type=str))

    # --- persistence -----------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> None:
        write_bytes(Path(directory) / MODEL_FILE, self.model_bytes)

    @classmethod
    def load(cls, directory: str | os.PathLike, vocabulary: list[str] | None, max_tokens: int) -> "SubwordModel":
        """Read and check ``directory/sentencepiece.model``; its pieces must equal ``vocabulary`` when given
        (an ``int`` run's vocabulary.txt) and number at most ``max_tokens``."""
        path = Path(directory) / MODEL_FILE
        limit = max_model_bytes(max_tokens)
        try:
            with open(path, "rb") as f:
                data = f.read(limit + 1)  # never more than the limit, whatever the file's size
        except FileNotFoundError:
            raise LexiclassError(f"{path} is missing: is {path.parent} a lexiclass run directory?") from None
        except OSError as exc:
            raise LexiclassError(f"cannot read {path}: {exc.strerror or exc}") from None
        if len(data) > limit:
            raise LexiclassError(f"{path} is damaged: larger than {limit:,} bytes, the most a model of "
                                 f"{max_tokens:,} pieces takes")
        model = cls(data, _processor(data, str(path)))
        pieces = model.pieces()
        if model._sp.pad_id() != 0 or model._sp.unk_id() != 1 or len(pieces) < 3:
            raise LexiclassError(f"{path} is damaged: not a lexiclass SentencePiece model (padding id 0, "
                                 "unknown id 1, at least one piece)")
        if len(pieces) > max_tokens:
            raise LexiclassError(f"{path} is damaged: {len(pieces):,} pieces, more than max_tokens = {max_tokens:,}")
        if vocabulary is not None and pieces != vocabulary:
            raise LexiclassError(f"{path} does not match vocabulary.txt ({len(pieces):,} pieces, "
                                 f"{len(vocabulary):,} tokens): one of them is damaged or from another run")
        return model


def _processor(data: bytes, where: str):
    """A SentencePieceProcessor over ``data``; a file that does not parse is a one-line `LexiclassError`."""
    import sentencepiece as spm  # deferred on purpose, as in `SubwordModel.learn`

    if not data:
        raise LexiclassError(f"{where} is damaged: empty")
    processor = spm.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(data)
    except (RuntimeError, OSError, ValueError) as exc:
        detail = first_line(exc, 120)
        raise LexiclassError(f"{where} is damaged: not a SentencePiece model ({detail})") from None
    if processor.get_piece_size() == 0:
        raise LexiclassError(f"{where} is damaged: a SentencePiece model without pieces")
    return processor
