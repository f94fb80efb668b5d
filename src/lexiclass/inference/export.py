"""Export a finished run for use without lexiclass: a TensorFlow SavedModel (raw text in) or ONNX.

- ``savedmodel``: one TensorFlow SavedModel whose ``serving_default`` signature takes a 1-D
  string tensor ``texts`` and returns ``probabilities`` (batch, classes) float32 and
  ``label`` (batch,) string. The run's vectorizer is inside (lower-casing, punctuation
  stripping, whitespace split and vocabulary lookup exactly as ``TextVectorization``), then the
  run's truncation policy (head, tail or head+tail, in TensorFlow ops) and zero padding.
  It loads with plain ``tf.saved_model.load`` (no lexiclass, no custom layer code) and can be
  served by TensorFlow Serving.
- ``onnx``: ``model.onnx``, the network alone (token ids or n-gram vectors in, probabilities
  out), converted with Keras' ``model.export(format="onnx")`` (tf2onnx), plus the run's
  vocabulary and ``preprocess.py``, a NumPy-only recipe that turns raw texts into the
  network's input exactly as lexiclass does. Needs the ``export`` extra (tf2onnx, onnx,
  onnxruntime).

Both write into a temporary folder beside ``out_dir`` and rename it at the end, and check the
export against ``lexiclass.load(run).predict_proba`` on a few probe texts (an empty one and
one longer than the run's sequence length included) before renaming it. n-gram linear models
(nbsvm, nbsvm-ensemble) are refused: see `TEXT_MODEL_REFUSAL`; so are ``--tokenizer
sentencepiece`` runs (`SUBWORD_REFUSAL`). See docs/export.md.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np

from lexiclass.errors import LexiclassError
from lexiclass.precision import PROBABILITY_TOLERANCE, tolerance

FORMATS = ("savedmodel", "onnx")
SIGNATURE = "serving_default"
INPUT_NAME = "texts"
EXPORT_FILE = "export.json"
README_FILE = "README.txt"
LABELS_FILE = "labels.json"
ONNX_FILE = "model.onnx"
PREPROCESS_FILE = "preprocess.py"
# The export computes in float32 whatever the run's precision (the weights are float32 in either);
# its largest difference to lexiclass's own probabilities follows the precision lexiclass computes in.
CHECK_TOLERANCE = PROBABILITY_TOLERANCE
TEXT_MODEL_REFUSAL = (
    "{model} runs cannot be exported: their features (word and character n-grams, weighted and "
    "normalised by scikit-learn and NumPy code) have no TensorFlow or ONNX Runtime equivalent; "
    "serve them with `lexiclass serve` or lexiclass.load(run).predict_proba, or export a Keras run "
    "(bow, bilstm, transformer, ...) instead")

SUBWORD_REFUSAL = (
    "--tokenizer {tokenizer!s:.40} runs cannot be exported yet: their sub-word pieces have no TextVectorization "
    "equivalent; serve them with `lexiclass serve` or lexiclass.load(run).predict_proba")


def export_run(run_dir, out_dir, format: str = "savedmodel", *, overwrite: bool = False,
               check: bool = True) -> dict:
    """Export the finished run in ``run_dir`` to the folder ``out_dir``; return a summary dict.

    Args:
        run_dir: a finished lexiclass run directory of a Keras model (not nbsvm).
        out_dir: the folder to create. It appears only once complete; an existing non-empty
            folder is refused unless ``overwrite`` and it is an earlier export (it holds export.json),
            and then replaced only once the export is done.
        format: ``"savedmodel"`` (raw strings in, TensorFlow) or ``"onnx"`` (token ids or
            n-gram vectors in, ONNX Runtime; needs the ``export`` extra).
        overwrite: replace an earlier export in ``out_dir``; any other non-empty folder is refused.
        check: compare the export with lexiclass's own probabilities on probe texts first
            (`LexiclassError` if any differs by more than `CHECK_TOLERANCE` of the run's precision).

    Returns:
        ``{"format", "out_dir", "model", "input", "outputs", "labels", "files", "checked_texts",
        "max_difference", ...}``: what was written and how to call it.
    """
    if format not in FORMATS:
        raise LexiclassError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    out_dir, run_dir = Path(out_dir), Path(run_dir)
    if out_dir.resolve() == run_dir.resolve() or out_dir.resolve() in run_dir.resolve().parents:
        raise LexiclassError(f"{out_dir} holds the run {run_dir} itself; export into another folder")
    _check_out_dir(out_dir, overwrite)
    _refuse_text_model(run_dir)
    if format == "onnx":
        _require_onnx_packages()
    _require_tensorflow_backend()

    from lexiclass.inference.predictor import Predictor

    predictor = Predictor.from_run_dir(run_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".export", dir=out_dir.parent))
    try:
        writer = _write_savedmodel if format == "savedmodel" else _write_onnx
        summary = writer(predictor, tmp)
        summary.update(format=format, model=predictor.config.model, labels=predictor.labels,
                       run_dir=str(run_dir), lexiclass_version=_lexiclass_version(),
                       run_precision=predictor.config.precision, computes_in="float32")
        _write_json(tmp / EXPORT_FILE, summary)  # preprocess.py reads its settings from it
        if check:
            summary.update(_check_export(predictor, tmp, format))
            _write_json(tmp / EXPORT_FILE, summary)
        summary["files"] = sorted(p.name for p in tmp.iterdir())
        _replace_dir(tmp, out_dir, overwrite)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    summary["out_dir"] = str(out_dir)
    return summary


def describe(summary: dict) -> str:
    """A few lines for a person (the CLI): where the export is, what goes in and out, how closely it was checked."""
    inp = summary["input"]
    outputs = ", ".join(f"{name} {spec['dtype']} {_shape(spec['shape'])}" for name, spec in summary["outputs"].items())
    lines = [f"exported {summary['model']} run {summary['run_dir']} as {summary['format']} to {summary['out_dir']}",
             f"input: {inp['name']} {inp['dtype']} {_shape(inp['shape'])} ({inp['what']})",
             f"outputs: {outputs}; classes: {', '.join(summary['labels'])}"]
    if "max_difference" in summary:
        lines.append(f"checked on {summary['checked_texts']} probe texts: largest difference to lexiclass "
                     f"{summary['max_difference']:.1e} (tolerance {summary['tolerance']:g}: the export computes in "
                     f"float32, this run in {summary['run_precision']})")
    lines.append(f"how to use it: {Path(summary['out_dir']) / README_FILE}")
    return "\n".join(lines)


def _shape(shape) -> str:
    """[None, None] -> "(batch, tokens)", [None, 3] -> "(batch, 3)": open sizes named by what they count."""
    return "(" + ", ".join(str(size) if size is not None else ("batch" if i == 0 else "tokens")
                           for i, size in enumerate(shape)) + ")"


# --- checks before any work ------------------------------------------------------------

def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise LexiclassError(f"{out_dir} is a file; the export needs a folder name")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise LexiclassError(f"{out_dir} already exists and is not empty; choose another folder or overwrite "
                                 "an earlier export (overwrite=True, --overwrite)")
        if not _is_export(out_dir):  # replacing it would delete someone's files
            raise LexiclassError(f"{out_dir} is not an earlier export (it has no {EXPORT_FILE}); --overwrite replaces "
                                 "only exports: choose another folder")


def _is_export(folder: Path) -> bool:
    """Whether ``folder`` holds an earlier export (its export.json): the only folder --overwrite may replace."""
    return (folder / EXPORT_FILE).is_file()


def _refuse_text_model(run_dir: Path) -> None:
    from lexiclass import run_dir as rd
    from lexiclass.config import MODEL_NAMES
    from lexiclass.models.registry import get_model_spec

    rd.require_complete(run_dir)
    config = rd.read_json(run_dir / rd.CONFIG_FILE)
    model = config.get("model")
    if isinstance(model, str) and model in MODEL_NAMES and get_model_spec(model).inputs == "text":
        raise LexiclassError(TEXT_MODEL_REFUSAL.format(model=model))
    if config.get("tokenizer", "word") != "word":
        raise LexiclassError(SUBWORD_REFUSAL.format(tokenizer=config.get("tokenizer")))


def _require_onnx_packages() -> None:
    import importlib.util

    missing = [name for name in ("tf2onnx", "onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise LexiclassError(f"ONNX export needs {', '.join(missing)}: pip install 'lexiclass[export]'")


# --- SavedModel ------------------------------------------------------------------------

def _require_tensorflow_backend() -> None:
    """Both formats are written by TensorFlow (SavedModel directly, ONNX through tf2onnx)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise LexiclassError(f"export runs on the TensorFlow backend, not {keras.backend.backend()}: run it with "
                             "--backend tensorflow (any run folder loads on any backend)")


def _serving_function(predictor, layer, model):
    """A `tf.function`-able ``texts (batch,) string -> {"probabilities", "label"}`` using the run's own objects,
    ``layer``, the run's vectorizer as a Keras ``TextVectorization``, and ``model``, its network in float32."""
    import tensorflow as tf

    from lexiclass.text.pipeline import prediction_lengths

    config = predictor.config
    label_names = tf.constant(predictor.labels)
    binary = len(predictor.labels) == 2

    def probabilities(inputs):
        outputs = tf.cast(model(inputs, training=False), tf.float32)  # (batch, 1) sigmoid or (batch, classes)
        return tf.concat([1.0 - outputs, outputs], axis=1) if binary else outputs

    if predictor.input_kind == "bow":
        def serve(texts):
            probs = probabilities(tf.cast(layer(texts), tf.float32))  # (batch, vocabulary) n-gram vectors
            return {"probabilities": probs, "label": tf.gather(label_names, tf.argmax(probs, axis=1))}
        return serve

    ladder = tf.constant(prediction_lengths(config), dtype=tf.int64)  # padded widths, as lexiclass predicts

    def serve(texts):
        ids = layer(texts)  # ragged (batch, tokens) int64: 0 padding, 1 out-of-vocabulary
        ids = truncate_ragged(ids, config.sequence_length, config.truncation)
        longest = tf.reduce_max(tf.concat([ids.row_lengths(), tf.zeros([1], tf.int64)], axis=0))
        step = tf.minimum(tf.searchsorted(ladder, tf.reshape(longest, [1]), side="left", out_type=tf.int64)[0],
                          tf.size(ladder, out_type=tf.int64) - 1)
        width = tf.gather(ladder, step)
        dense = ids.to_tensor(default_value=0, shape=tf.stack([ids.nrows(), width]))  # (batch, width)
        probs = probabilities(tf.cast(dense, tf.int32))
        return {"probabilities": probs, "label": tf.gather(label_names, tf.argmax(probs, axis=1))}

    return serve


def truncate_ragged(ids, length: int, policy: str):
    """`lexiclass.text.batching.truncate` on every row of a ragged (batch, tokens) tensor, in TensorFlow ops."""
    import tensorflow as tf

    if policy not in ("head", "tail", "head+tail"):
        raise LexiclassError(f"truncation {policy!r} cannot be exported; use head, tail or head+tail")
    head = {"head": length, "tail": 0, "head+tail": length // 4}[policy]  # keep the first `head` and last `length - head`
    lengths = ids.row_lengths()  # (batch,)
    positions = tf.ragged.range(lengths, dtype=lengths.dtype)
    keep = (positions < head) | (positions >= tf.expand_dims(lengths - (length - head), 1))
    return tf.ragged.boolean_mask(ids, keep)


def _write_savedmodel(predictor, folder: Path) -> dict:
    import keras
    import tensorflow as tf

    from lexiclass.models.heads import float32_copy  # imports Keras: deferred with it

    model = float32_copy(predictor.model)  # a bfloat16 run's network, computing in float32 (same weights)
    archive = keras.export.ExportArchive()
    archive.track(model)
    layer = predictor.vectorizer.keras_layer()
    if not layer.built:  # a layer given its vocabulary has not been called yet
        layer(tf.constant(["a"]))
        if not layer.built:
            layer.build(None)
    archive.track(layer)
    archive.add_endpoint(name=SIGNATURE, fn=_serving_function(predictor, layer, model),
                         input_signature=[tf.TensorSpec(shape=(None,), dtype=tf.string, name=INPUT_NAME)])
    _quietly(lambda: archive.write_out(str(folder), verbose=False))
    _write_json(folder / LABELS_FILE, predictor.labels)
    summary = {
        "signature": SIGNATURE,
        "input": {"name": INPUT_NAME, "dtype": "string", "shape": [None], "what": "raw texts"},
        "outputs": {"probabilities": {"dtype": "float32", "shape": [None, len(predictor.labels)]},
                    "label": {"dtype": "string", "shape": [None]}},
        "truncation": predictor.config.truncation if predictor.input_kind == "sequence" else None,
        "sequence_length": predictor.config.sequence_length if predictor.input_kind == "sequence" else None,
    }
    (folder / README_FILE).write_text(_savedmodel_readme(predictor), encoding="utf-8")
    return summary


def _quietly(call):
    """Run ``call`` with TensorFlow's Python logger at ERROR (SavedModel writing warns about lookup tables)."""
    import logging

    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return call()
    finally:
        logger.setLevel(level)


# --- ONNX ------------------------------------------------------------------------------

def _write_onnx(predictor, folder: Path) -> dict:
    import keras
    import onnx
    import tensorflow as tf

    from lexiclass.models.heads import float32_copy  # imports Keras: deferred with it

    model, vectorizer = float32_copy(predictor.model), predictor.vectorizer  # ONNX has no mixed bfloat16 kernels
    if predictor.input_kind == "sequence":
        name, spec = "token_ids", tf.TensorSpec((None, None), tf.int32, name="token_ids")
        inputs = keras.Input(shape=(None,), dtype="int32", name=name)
    else:
        width = len(vectorizer.vocabulary)
        name, spec = "ngram_vector", tf.TensorSpec((None, width), tf.float32, name="ngram_vector")
        inputs = keras.Input(shape=(width,), dtype="float32", name=name)
    outputs = model(inputs)
    if len(predictor.labels) == 2:  # one sigmoid output p -> [1 - p, p], as lexiclass reports it
        outputs = keras.ops.concatenate([1.0 - outputs, outputs], axis=-1)
    wrapper = keras.Model(inputs, outputs)
    path = folder / ONNX_FILE
    try:
        with warnings.catch_warnings():  # Keras' numpy-2 patch of tf2onnx warns about np.object
            warnings.simplefilter("ignore", FutureWarning)
            _quietly(lambda: wrapper.export(str(path), format="onnx", verbose=False, input_signature=[spec]))
    except Exception as exc:
        raise LexiclassError(f"ONNX conversion of this {predictor.config.model} run failed: "
                             f"{_one_line(exc)}") from None
    graph = onnx.load(str(path))
    replaced = _selects_to_where(graph.graph)
    output_name = graph.graph.output[0].name
    onnx.save(graph, str(path))

    shutil.copyfile(predictor.run_dir / "vocabulary.txt", folder / "vocabulary.txt")
    if vectorizer.output_mode == "tf_idf":
        shutil.copyfile(predictor.run_dir / "idf_weights.npy", folder / "idf_weights.npy")
    _write_json(folder / LABELS_FILE, predictor.labels)
    (folder / PREPROCESS_FILE).write_text(PREPROCESS_SOURCE, encoding="utf-8")
    summary = {
        "input": ({"name": name, "dtype": "int32", "shape": [None, None],
                   "what": "token ids, 0 = padding (see preprocess.py)"} if predictor.input_kind == "sequence" else
                  {"name": name, "dtype": "float32", "shape": [None, len(vectorizer.vocabulary)],
                   "what": f"{vectorizer.output_mode} n-gram vectors (see preprocess.py)"}),
        "outputs": {output_name: {"dtype": "float32", "shape": [None, len(predictor.labels)],
                                  "what": "probabilities"}},
        "input_kind": predictor.input_kind,
        "output_mode": vectorizer.output_mode,
        "ngrams": vectorizer.ngrams,
        "truncation": predictor.config.truncation if predictor.input_kind == "sequence" else None,
        "sequence_length": predictor.config.sequence_length if predictor.input_kind == "sequence" else None,
        "opset": max((o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")), default=None),
        "selects_rewritten": replaced,
    }
    (folder / README_FILE).write_text(_onnx_readme(predictor, summary), encoding="utf-8")
    return summary


def _selects_to_where(graph) -> int:
    """Turn tf2onnx's ``Add(Mul(Cast(c), x), Mul(y, Cast(Not(c))))`` back into ``Where(c, x, y)``; return how many.

    tf2onnx writes TensorFlow's Select as that sum of products (faster in old ONNX Runtime
    versions), which is wrong when the branch not taken is infinite: ``0 * -inf = NaN``. The
    masked max pooling of the Transformer runs selects ``-inf`` for padding, so an empty text
    (all padding) would give NaN probabilities. ``Where`` is exact for every value.
    """
    import onnx

    producers = {out: node for node in graph.node for out in node.output}
    count = 0
    for index, node in enumerate(graph.node):
        for attribute in node.attribute:  # Loop / If bodies (e.g. LSTMs)
            if attribute.type == onnx.AttributeProto.GRAPH:
                count += _selects_to_where(attribute.g)
            for sub in attribute.graphs:
                count += _selects_to_where(sub)
        if node.op_type != "Add" or len(node.input) != 2:
            continue
        left, right = producers.get(node.input[0]), producers.get(node.input[1])
        if not (left and right and left.op_type == "Mul" and right.op_type == "Mul"):
            continue
        cast_true, cast_false = producers.get(left.input[0]), producers.get(right.input[1])
        if not (cast_true and cast_false and cast_true.op_type == "Cast" and cast_false.op_type == "Cast"):
            continue
        negation = producers.get(cast_false.input[0])
        if not (negation and negation.op_type == "Not" and negation.input[0] == cast_true.input[0]):
            continue
        where = onnx.helper.make_node("Where", [cast_true.input[0], left.input[1], right.input[0]],
                                      list(node.output), name=node.name)
        graph.node.remove(node)
        graph.node.insert(index, where)  # same place: the graph stays topologically sorted
        count += 1
    return count


# --- checking an export against lexiclass ---------------------------------------------

def probe_texts(predictor) -> list[str]:
    """Texts that exercise the export: empty, unknown words, punctuation and case, one longer than sequence_length."""
    words = [w for w in predictor.vectorizer.vocabulary[2:] if w][:60] or ["a"]
    long_text = " ".join(words[i % len(words)] for i in range(3 * predictor.config.sequence_length + 7))
    return ["", "   ", "zzzqqq unseenword", " ".join(words[:8]).upper() + "!!! (really?)",
            " ".join(reversed(words[:20])), f"{words[0]},{words[-1]}. {words[len(words) // 2]}\t\n{words[1]}",
            long_text, " ".join(words[::3]) + " " + long_text[:200]]


def _check_export(predictor, folder: Path, format: str) -> dict:
    texts = probe_texts(predictor)
    expected = predictor.predict_proba(texts)
    got = _savedmodel_probabilities(folder, texts) if format == "savedmodel" else _onnx_probabilities(folder, texts)
    difference = float(np.abs(np.asarray(got, dtype=np.float64) - expected).max())
    bound = tolerance(CHECK_TOLERANCE, predictor.config.precision)
    if not difference <= bound:  # NaN fails too
        raise LexiclassError(f"the exported {format} model disagrees with lexiclass by {difference:.3g} on probe "
                             f"texts (tolerance {bound:g} for a {predictor.config.precision} run); "
                             "the export was not written")
    return {"checked_texts": len(texts), "max_difference": difference, "tolerance": bound}


def _savedmodel_probabilities(folder: Path, texts: list[str]) -> np.ndarray:
    import tensorflow as tf

    serve = tf.saved_model.load(str(folder)).signatures[SIGNATURE]
    return serve(**{INPUT_NAME: tf.constant(texts, dtype=tf.string)})["probabilities"].numpy()


def _onnx_probabilities(folder: Path, texts: list[str]) -> np.ndarray:
    import importlib.util

    import onnxruntime

    spec = importlib.util.spec_from_file_location("_lexiclass_export_preprocess", folder / PREPROCESS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = module.Preprocessor(folder)(texts)
    session = onnxruntime.InferenceSession(str(folder / ONNX_FILE), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


# --- files -------------------------------------------------------------------------------

def _replace_dir(tmp: Path, out_dir: Path, overwrite: bool) -> None:
    """Rename the finished ``tmp`` to ``out_dir``; an old ``out_dir`` (empty, or with ``overwrite``) goes last."""
    old = None
    if out_dir.exists():
        if any(out_dir.iterdir()) and not (overwrite and _is_export(out_dir)):  # appeared meanwhile
            raise LexiclassError(f"{out_dir} appeared while exporting and is not empty; the export was not written")
        old = out_dir.parent / f".{out_dir.name}.replaced-{os.getpid()}"
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except OSError:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def _one_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(exc).__name__


def _lexiclass_version() -> str:
    import lexiclass

    return lexiclass.__version__


def _savedmodel_readme(predictor) -> str:
    labels = ", ".join(predictor.labels)
    if predictor.input_kind == "sequence":
        inside = (f"lower-casing (ASCII), punctuation stripping, whitespace split, vocabulary lookup, "
                  f"truncation to {predictor.config.sequence_length} tokens ({predictor.config.truncation}), padding")
    else:
        inside = f"lower-casing (ASCII), punctuation stripping, whitespace split, 1..{predictor.vectorizer.ngrams}-" \
                 f"gram {predictor.vectorizer.output_mode} vector"
    return f"""A lexiclass {predictor.config.model} run exported as a TensorFlow SavedModel (lexiclass {_lexiclass_version()}).

Input : signature "{SIGNATURE}", input "{INPUT_NAME}": a 1-D string tensor of raw texts (UTF-8).
Output: "probabilities" (batch, {len(predictor.labels)}) float32, columns = classes in this order: {labels}
        "label" (batch,) string: the most probable class.
Inside: {inside}; then the network. No lexiclass or custom layer code is needed.
Each call is one batch padded to its longest text: send a few dozen texts per call (attention
memory grows with batch x length^2 in Transformer runs).

Python (TensorFlow only):
    import tensorflow as tf
    serve = tf.saved_model.load("THIS_FOLDER").signatures["{SIGNATURE}"]
    out = serve({INPUT_NAME}=tf.constant(["A wonderful film.", "Dull."]))
    out["probabilities"].numpy(), out["label"].numpy()

TensorFlow Serving: copy this folder to MODELS/NAME/1/ (a numbered version folder), then
    docker run -p 8501:8501 -v MODELS/NAME:/models/NAME -e MODEL_NAME=NAME tensorflow/serving
    curl -d '{{"instances": ["A wonderful film."]}}' localhost:8501/v1/models/NAME:predict

export.json says what was exported and how closely it was checked against lexiclass.
"""


def _onnx_readme(predictor, summary: dict) -> str:
    labels = ", ".join(predictor.labels)
    inp = summary["input"]
    output = next(iter(summary["outputs"]))
    return f"""A lexiclass {predictor.config.model} run's network exported to ONNX (lexiclass {_lexiclass_version()}, opset {summary["opset"]}).

model.onnx takes "{inp["name"]}" {inp["dtype"]} {inp["shape"]}: {inp["what"]}
and returns "{output}" float32 (batch, {len(predictor.labels)}): probabilities of the classes, in this order: {labels}
The network alone is in model.onnx: texts must be turned into its input first, by preprocess.py
(NumPy only; it reads vocabulary.txt{", idf_weights.npy" if summary["output_mode"] == "tf_idf" else ""} and export.json from this folder).

    import numpy as np, onnxruntime as ort
    from preprocess import Preprocessor          # this folder on sys.path
    pre = Preprocessor("THIS_FOLDER")
    session = ort.InferenceSession("THIS_FOLDER/model.onnx")
    x = pre(["A wonderful film.", "Dull."])
    probabilities = session.run(None, {{"{inp["name"]}": x}})[0]

The recipe (to write it in another language):
 1. lower-case A-Z only (other letters are kept as they are);
 2. delete the ASCII punctuation characters !"#$%&'()*+,-./:;<=>?@[\\]^_`{{|}}~ ;
 3. split on runs of the ASCII whitespace characters space, \\t, \\n, \\r, \\v, \\f (no other characters);
{_recipe_tail(predictor)}
"""


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
