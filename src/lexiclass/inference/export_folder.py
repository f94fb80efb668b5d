"""What an exported folder holds besides the model: its file and signature names, README.txt (how to call
the export) and, for ONNX, preprocess.py (the NumPy recipe from raw text to the network's input).
`lexiclass.inference.export` writes the folder; these are the words and files it puts in it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import lexiclass

SIGNATURE = "serving_default"
INPUT_NAME = "texts"
README_FILE = "README.txt"
LABELS_FILE = "labels.json"
PREPROCESS_FILE = "preprocess.py"
THRESHOLDS_FILE = "thresholds.json"
# An int8 export's probabilities move by up to ~0.008 from float32's (1,000 IMDB test reviews, the main job's
# positional Transformer; 25 of the 25,000 test reviews change class): its check allows 0.05.
INT8_TOLERANCE = 5e-2
DECISIONS = ("the labels each text carries: probability >= the label's threshold (thresholds.json), "
             "and the most probable label always when at_least_one")


def write_labels(folder: Path, predictor) -> None:
    """labels.json (the column order) and, for a multi-label run, thresholds.json: each label's threshold
    (``thresholds``, in labels.json's order) and ``at_least_one`` (the most probable label is always chosen)."""
    write_json(folder / LABELS_FILE, predictor.labels)
    if predictor.multi_label:
        write_json(folder / THRESHOLDS_FILE, {"labels": predictor.labels, **decision_rule(predictor)})


def decision_rule(predictor) -> dict:
    """What a user needs to decide a multi-label run's labels from its probabilities (export.json has it too),
    and ``rule``: how training chose the thresholds (an export's /metadata shows it as its run's does)."""
    thresholds = predictor.thresholds
    return {"thresholds": [float(t) for t in thresholds["thresholds"]],
            "at_least_one": bool(thresholds.get("at_least_one", False)), "rule": thresholds.get("rule")}


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def quietly(call):
    """Run ``call`` with TensorFlow's Python logger at ERROR (SavedModel writing warns about lookup tables)."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return call()
    finally:
        logger.setLevel(level)


def lexiclass_version() -> str:
    return lexiclass.__version__


# --- README.txt --------------------------------------------------------------------------

def savedmodel_readme(predictor) -> str:
    labels = ", ".join(predictor.labels)
    if predictor.input_kind == "sequence":
        inside = (f"lower-casing (ASCII), punctuation stripping, whitespace split, vocabulary lookup, "
                  f"truncation to {predictor.config.sequence_length} tokens ({predictor.config.truncation}), padding")
    else:
        inside = f"lower-casing (ASCII), punctuation stripping, whitespace split, 1..{predictor.vectorizer.ngrams}-" \
                 f"gram {predictor.vectorizer.output_mode} vector"
    if predictor.multi_label:
        output = f"""Output: "probabilities" (batch, {len(predictor.labels)}) float32, one independent probability per label
        (multi-label: rows do not sum to 1), columns = labels in this order: {labels}
{_wrap(f'"labels" (batch, {len(predictor.labels)}) bool: ' + _decision_words(predictor), "        ")}"""
        use = 'out["probabilities"].numpy(), out["labels"].numpy()'
    else:
        output = f"""Output: "probabilities" (batch, {len(predictor.labels)}) float32, columns = classes in this order: {labels}
        "label" (batch,) string: the most probable class."""
        use = 'out["probabilities"].numpy(), out["label"].numpy()'
    return f"""A lexiclass {predictor.config.model} run exported as a TensorFlow SavedModel (lexiclass {lexiclass_version()}).

Input : signature "{SIGNATURE}", input "{INPUT_NAME}": a 1-D string tensor of raw texts (UTF-8).
{output}
Inside: {inside}; then the network. No lexiclass or custom layer code is needed.
Each call is one batch padded to its longest text: send a few dozen texts per call (attention
memory grows with batch x length^2 in Transformer runs).

Python (TensorFlow only):
    import tensorflow as tf
    serve = tf.saved_model.load("THIS_FOLDER").signatures["{SIGNATURE}"]
    out = serve({INPUT_NAME}=tf.constant(["A wonderful film.", "Dull."]))
    {use}

TensorFlow Serving: copy this folder to MODELS/NAME/1/ (a numbered version folder), then
    docker run -p 8501:8501 -v MODELS/NAME:/models/NAME -e MODEL_NAME=NAME tensorflow/serving
    curl -d '{{"instances": ["A wonderful film."]}}' localhost:8501/v1/models/NAME:predict

export.json says what was exported and how closely it was checked against lexiclass.
"""


def onnx_readme(predictor, summary: dict) -> str:
    labels = ", ".join(predictor.labels)
    inp = summary["input"]
    output = next(iter(summary["outputs"]))
    returns = f'"{output}" float32 (batch, {len(predictor.labels)}): probabilities of the classes, in this order: {labels}'
    run = "probabilities = session.run(None, {" + f'"{inp["name"]}": x' + "})[0]"
    if predictor.multi_label:
        returns = (f'"probabilities" float32 (batch, {len(predictor.labels)}): one independent probability per label '
                   f'(multi-label:\nrows do not sum to 1), in this order: {labels}\n'
                   + _wrap(f'and "labels" bool (batch, {len(predictor.labels)}): {_decision_words(predictor)}', ""))
        run = "probabilities, labels = session.run(None, {" + f'"{inp["name"]}": x' + "})"
    return f"""A lexiclass {predictor.config.model} run's network exported to ONNX (lexiclass {lexiclass_version()}, opset {summary["opset"]}).

model.onnx takes "{inp["name"]}" {inp["dtype"]} {inp["shape"]}: {inp["what"]}
and returns {returns}
The network alone is in model.onnx: texts must be turned into its input first, by preprocess.py
(NumPy only; it reads vocabulary.txt{", idf_weights.npy" if summary["output_mode"] == "tf_idf" else ""} and export.json from this folder).

    import numpy as np, onnxruntime as ort
    from preprocess import Preprocessor          # this folder on sys.path
    pre = Preprocessor("THIS_FOLDER")
    session = ort.InferenceSession("THIS_FOLDER/model.onnx")
    x = pre(["A wonderful film.", "Dull."])
    {run}

The recipe (to write it in another language):
 1. lower-case A-Z only (other letters are kept as they are);
 2. delete the ASCII punctuation characters !"#$%&'()*+,-./:;<=>?@[\\]^_`{{|}}~ ;
 3. split on runs of the ASCII whitespace characters space, \\t, \\n, \\r, \\v, \\f (no other characters);
{_recipe_tail(predictor)}
"""


def _wrap(text: str, indent: str) -> str:
    import textwrap

    return textwrap.fill(text, width=100, initial_indent=indent, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


def _decision_words(predictor) -> str:
    """How a multi-label export decides its labels, in words with the numbers."""
    rule = decision_rule(predictor)
    thresholds = "listed in thresholds.json"
    if len(predictor.labels) <= 20:
        thresholds = ", ".join(f"{name} {t:g}" for name, t in zip(predictor.labels, rule["thresholds"])) + \
            "; thresholds.json"
    always = ("; the most probable label is chosen even when none reaches its threshold (every training text "
              "had a label)" if rule["at_least_one"] else "; a text may get no label")
    return (f"True where the label's probability >= its threshold ({thresholds}){always}. "
            "Thresholds are compared in float32.")


def _recipe_tail(predictor) -> str:
    if predictor.input_kind == "sequence":
        length, policy = predictor.config.sequence_length, predictor.config.truncation
        return f""" 4. id of each word = its line number (from 0) in vocabulary.txt; words not there get 1 ([UNK]);
 5. keep at most {length} ids: truncation "{policy}" (head: the first {length}; tail: the last {length};
    head+tail: the first {length // 4} and the last {length - length // 4});
 6. pad every text with 0 after its ids to the batch's longest (at least 1), giving (batch, length) int32.
    Padding is masked inside the network, so any length up to {length} gives the same probabilities."""
    n, mode = predictor.vectorizer.ngrams, predictor.vectorizer.output_mode
    value = ("1.0 at the index of every n-gram present" if mode == "multi_hot" else
             "count of the n-gram in the text times idf_weights.npy[index]")
    return f""" 4. n-grams: every run of 1..{n} consecutive words, joined by one space;
 5. index of each n-gram = its line number (from 0) in vocabulary.txt; n-grams not there get 0 ([UNK]);
 6. vector (len(vocabulary.txt),) float32: {value}; a text with no words is all zeros."""



# --- preprocess.py -----------------------------------------------------------------------

PREPROCESS_SOURCE = '''"""Raw texts -> this model's ONNX input, exactly as lexiclass (Keras TextVectorization) does; NumPy only.

    from preprocess import Preprocessor
    pre = Preprocessor("path/to/export")
    x = pre(["A wonderful film.", "Dull."])  # token ids (batch, length) int32, or n-gram vectors (batch, V) float32

See README.txt for the recipe in words.
"""

import json
import re
from pathlib import Path

import numpy as np

# TensorFlow's lower-casing is ASCII-only; the stripped punctuation is ASCII's.
_TABLE = {**{c: c + 32 for c in range(ord("A"), ord("Z") + 1)},
          **{ord(c): None for c in "!\\"#$%&'()*+,-./:;<=>?@[\\\\]^_`{|}~"}}
_SPACE = re.compile("[ \\t\\n\\r\\x0b\\x0c]+")  # tf.strings.split splits on ASCII whitespace only


def words(text):
    """The words of ``text``: lower-cased (A-Z), punctuation deleted, split on ASCII whitespace."""
    return [w for w in _SPACE.split(text.translate(_TABLE)) if w]


def truncate(ids, length, policy):
    if len(ids) <= length:
        return ids
    head = {"head": length, "tail": 0, "head+tail": length // 4}[policy]
    return ids[:head] + ids[len(ids) - (length - head):]


class Preprocessor:
    def __init__(self, folder="."):
        folder = Path(folder)
        self.settings = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        text = (folder / "vocabulary.txt").read_text(encoding="utf-8")
        self.vocabulary = text.split("\\n")[:-1]
        self.index = {token: i for i, token in enumerate(self.vocabulary)}
        self.idf = np.load(folder / "idf_weights.npy") if self.settings["output_mode"] == "tf_idf" else None

    def token_ids(self, texts):
        """(batch, length) int32: 0 = padding, 1 = unknown word; length = the longest text's (at least 1)."""
        rows = [truncate([self.index.get(w, 1) for w in words(t)], self.settings["sequence_length"],
                         self.settings["truncation"]) for t in texts]
        x = np.zeros((len(rows), max([1] + [len(r) for r in rows])), dtype=np.int32)
        for i, row in enumerate(rows):
            x[i, :len(row)] = row
        return x

    def ngram_vectors(self, texts):
        """(batch, len(vocabulary)) float32: multi-hot, or counts times IDF weights (tf_idf)."""
        x = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float32)
        for i, text in enumerate(texts):
            tokens = words(text)
            for n in range(1, self.settings["ngrams"] + 1):
                for start in range(len(tokens) - n + 1):
                    j = self.index.get(" ".join(tokens[start:start + n]), 0)
                    x[i, j] = 1.0 if self.idf is None else x[i, j] + 1.0
        return x if self.idf is None else (x * self.idf).astype(np.float32)

    def __call__(self, texts):
        texts = [texts] if isinstance(texts, str) else list(texts)
        if self.settings["input_kind"] == "sequence":
            return self.token_ids(texts)
        return self.ngram_vectors(texts)
'''
