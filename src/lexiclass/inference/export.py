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
- multi-label runs: both return ``probabilities`` (batch, labels), one independent probability
  per label, and ``labels`` (batch, labels) bool instead of ``label``: the run's decisions
  (`lexiclass.models.thresholds.decide`: each label's threshold, and the most probable label
  when ``at_least_one``) in TensorFlow / ONNX operators; thresholds.json beside the model holds them.

Both write into a temporary folder beside ``out_dir`` and rename it at the end, and check the
export against ``lexiclass.load(run).predict_proba`` on a few probe texts (an empty one and
one longer than the run's sequence length included) before renaming it. n-gram linear models
(nbsvm, nbsvm-ensemble) are refused: see `TEXT_MODEL_REFUSAL`; so are ``--tokenizer
sentencepiece`` runs (`SUBWORD_REFUSAL`). See docs/export.md.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from lexiclass.errors import LexiclassError
from lexiclass.inference.export_folder import (DECISIONS, INT8_TOLERANCE, INPUT_NAME, README_FILE, SIGNATURE,
                                               decision_rule, lexiclass_version, quietly, savedmodel_readme,
                                               write_json, write_labels)
from lexiclass.inference.export_onnx import onnx_outputs, quantize_int8, require_onnx_packages, write_onnx
from lexiclass.precision import PROBABILITY_TOLERANCE, tolerance
from lexiclass.progress import progress
from lexiclass.run_dir import EXPORT_FILE

# TensorFlow and Keras are imported inside the functions that use them: seconds to import.

FORMATS = ("savedmodel", "onnx")
# The export computes in float32 whatever the run's precision (the weights are float32 in either);
# its largest difference to lexiclass's own probabilities follows the precision lexiclass computes in.
CHECK_TOLERANCE = PROBABILITY_TOLERANCE
INT8_NEEDS_ONNX = "--int8 quantizes the ONNX network (ONNX Runtime); it needs --format onnx, not {format}"
TEXT_MODEL_REFUSAL = (
    "{model} runs cannot be exported: their features (word and character n-grams, weighted and "
    "normalised by scikit-learn and NumPy code) have no TensorFlow or ONNX Runtime equivalent; "
    "serve them with `lexiclass serve` or lexiclass.load(run).predict_proba, or export a Keras run "
    "(bow, bilstm, transformer, ...) instead")

SUBWORD_REFUSAL = (
    "--tokenizer {tokenizer!s:.40} runs cannot be exported yet: their sub-word pieces have no TextVectorization "
    "equivalent; serve them with `lexiclass serve` or lexiclass.load(run).predict_proba")


def export_run(run_dir, out_dir, format: str = "savedmodel", *, overwrite: bool = False,
               check: bool = True, int8: bool = False) -> dict:
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
            (`LexiclassError` if any differs by more than `CHECK_TOLERANCE` of the run's precision, or
            `INT8_TOLERANCE` for an int8 export).
        int8: (ONNX only) quantize the network's matrix products to int8 (`quantize_int8`): a smaller
            file, faster on CPUs with VNNI or AMX-INT8, probabilities within `INT8_TOLERANCE`.

    Returns:
        ``{"format", "out_dir", "model", "input", "outputs", "labels", "files", "checked_texts",
        "max_difference", ...}``: what was written and how to call it.
    """
    if format not in FORMATS:
        raise LexiclassError(f"unknown export format {format!r}; choose one of {', '.join(FORMATS)}")
    if int8 and format != "onnx":
        raise LexiclassError(INT8_NEEDS_ONNX.format(format=format))
    out_dir, run_dir = Path(out_dir), Path(run_dir)
    if out_dir.resolve() == run_dir.resolve() or out_dir.resolve() in run_dir.resolve().parents:
        raise LexiclassError(f"{out_dir} holds the run {run_dir} itself; export into another folder")
    _check_out_dir(out_dir, overwrite)
    _refuse_text_model(run_dir)
    if format == "onnx":
        require_onnx_packages()
    _require_tensorflow_backend()

    from lexiclass.inference.predictor import Predictor

    # Each step takes seconds (TensorFlow's import with the run, tracing and converting, quantizing, checking)
    steps, tmp = progress(total=2 + int8 + check, desc="exporting", unit="step"), None
    try:
        steps.set_postfix_str("loading the run")
        predictor = Predictor.from_run_dir(run_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".export", dir=out_dir.parent))
        _next_step(steps, f"writing {format}")
        writer = _write_savedmodel if format == "savedmodel" else write_onnx
        summary = writer(predictor, tmp)
        summary.update(format=format, model=predictor.config.model, labels=predictor.labels,
                       run_dir=str(run_dir), lexiclass_version=lexiclass_version(),
                       run_precision=predictor.config.precision, computes_in="float32",
                       multi_label=predictor.multi_label)
        if int8:
            _next_step(steps, "quantizing to int8")
            summary.update(quantize_int8(tmp), computes_in="int8 matrix products, float32 elsewhere")
        if predictor.multi_label:
            summary.update(decision_rule(predictor))
        write_json(tmp / EXPORT_FILE, summary)  # preprocess.py reads its settings from it
        if check:
            _next_step(steps, "checking against the run")
            summary.update(_check_export(predictor, tmp, format, int8))
            write_json(tmp / EXPORT_FILE, summary)
        summary["files"] = sorted(p.name for p in tmp.iterdir())
        _replace_dir(tmp, out_dir, overwrite)
        _next_step(steps, "done")
    finally:
        steps.close()
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    summary["out_dir"] = str(out_dir)
    return summary


def _next_step(steps, name: str) -> None:
    steps.set_postfix_str(name, refresh=False)  # shown with the count (a log gets a line every few seconds)
    steps.update(1)


def describe(summary: dict) -> str:
    """A few lines for a person (the CLI): where the export is, what goes in and out, how closely it was checked."""
    inp = summary["input"]
    outputs = ", ".join(f"{name} {spec['dtype']} {_shape(spec['shape'])}" for name, spec in summary["outputs"].items())
    lines = [f"exported {summary['model']} run {summary['run_dir']} as {summary['format']} to {summary['out_dir']}",
             f"input: {inp['name']} {inp['dtype']} {_shape(inp['shape'])} ({inp['what']})",
             f"outputs: {outputs}; {'labels (multi-label)' if summary.get('multi_label') else 'classes'}: "
             f"{', '.join(summary['labels'])}"]
    if "max_difference" in summary:
        lines.append(f"checked on {summary['checked_texts']} probe texts: largest difference to lexiclass "
                     f"{summary['max_difference']:.1e} (tolerance {summary['tolerance']:g}: the export computes in "
                     f"{summary['computes_in']}, this run in {summary['run_precision']})")
    if "quantized" in summary:
        q = summary["quantized"]
        lines.append(f"int8: {q['quantized_nodes']} matrix products quantized; model.onnx {q['bytes'] / 1e6:.1f} MB "
                     f"(float32: {q['float32_bytes'] / 1e6:.1f} MB)")
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
    if isinstance(model, str) and model in MODEL_NAMES and not get_model_spec(model).needs_keras:
        raise LexiclassError(TEXT_MODEL_REFUSAL.format(model=model))
    if config.get("tokenizer", "word") != "word":
        raise LexiclassError(SUBWORD_REFUSAL.format(tokenizer=config.get("tokenizer")))


# --- SavedModel ------------------------------------------------------------------------

def _require_tensorflow_backend() -> None:
    """Both formats are written by TensorFlow (SavedModel directly, ONNX through tf2onnx)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        raise LexiclassError(f"export runs on the TensorFlow backend, not {keras.backend.backend()}: run it with "
                             "--backend tensorflow (any run folder loads on any backend)")


def _serving_function(predictor, layer, model):
    """A `tf.function`-able ``texts (batch,) string -> {"probabilities", "label"}`` using the run's own objects,
    ``layer``, the run's vectorizer as a Keras ``TextVectorization``, and ``model``, its network in float32.
    Multi-label runs return ``{"probabilities", "labels"}``: `decisions` instead of the argmax."""
    import tensorflow as tf

    from lexiclass.text.pipeline import prediction_lengths

    config = predictor.config
    label_names = tf.constant(predictor.labels)
    binary = len(predictor.labels) == 2 and not predictor.multi_label  # multi-label: one sigmoid per label

    def outputs(inputs):
        probs = tf.cast(model(inputs, training=False), tf.float32)  # (batch, 1) sigmoid or (batch, classes)
        probs = tf.concat([1.0 - probs, probs], axis=1) if binary else probs
        if predictor.multi_label:
            return {"probabilities": probs, "labels": decisions(probs, predictor.thresholds)}
        return {"probabilities": probs, "label": tf.gather(label_names, tf.argmax(probs, axis=1))}

    if predictor.input_kind == "bow":
        def serve(texts):
            return outputs(tf.cast(layer(texts), tf.float32))  # (batch, vocabulary) n-gram vectors
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
        return outputs(tf.cast(dense, tf.int32))

    return serve


def decisions(probs, thresholds: dict):
    """`lexiclass.models.thresholds.decide` in TensorFlow ops: (batch, L) bool, True where a label's probability
    reaches its threshold (float32) or, with ``at_least_one``, where it is the row's most probable label."""
    import tensorflow as tf

    chosen = probs >= tf.constant(np.asarray(thresholds["thresholds"], dtype=np.float32))[None, :]
    if thresholds.get("at_least_one"):
        ids = tf.range(tf.shape(probs, out_type=tf.int64)[1], dtype=tf.int64)
        chosen = chosen | tf.equal(ids[None, :], tf.argmax(probs, axis=1)[:, None])
    return chosen


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
    quietly(lambda: archive.write_out(str(folder), verbose=False))
    write_labels(folder, predictor)
    width = len(predictor.labels)
    decided = ({"labels": {"dtype": "bool", "shape": [None, width], "what": DECISIONS}} if predictor.multi_label
               else {"label": {"dtype": "string", "shape": [None]}})
    summary = {
        "signature": SIGNATURE,
        "input": {"name": INPUT_NAME, "dtype": "string", "shape": [None], "what": "raw texts"},
        "outputs": {"probabilities": {"dtype": "float32", "shape": [None, width]}, **decided},
        "truncation": predictor.config.truncation if predictor.input_kind == "sequence" else None,
        "sequence_length": predictor.config.sequence_length if predictor.input_kind == "sequence" else None,
    }
    (folder / README_FILE).write_text(savedmodel_readme(predictor), encoding="utf-8")
    return summary


# --- checking an export against lexiclass ---------------------------------------------

def probe_texts(predictor) -> list[str]:
    """Texts that exercise the export: empty, unknown words, punctuation and case, one longer than sequence_length."""
    words = [w for w in predictor.vectorizer.vocabulary[2:] if w][:60] or ["a"]
    long_text = " ".join(words[i % len(words)] for i in range(3 * predictor.config.sequence_length + 7))
    return ["", "   ", "zzzqqq unseenword", " ".join(words[:8]).upper() + "!!! (really?)",
            " ".join(reversed(words[:20])), f"{words[0]},{words[-1]}. {words[len(words) // 2]}\t\n{words[1]}",
            long_text, " ".join(words[::3]) + " " + long_text[:200]]


def _check_export(predictor, folder: Path, format: str, int8: bool = False) -> dict:
    texts = probe_texts(predictor)
    expected = predictor.predict_proba(texts)
    outputs = _savedmodel_outputs(folder, texts) if format == "savedmodel" else onnx_outputs(folder, texts)
    got = np.asarray(outputs["probabilities"], dtype=np.float64)
    difference = float(np.abs(got - expected).max())
    bound = tolerance(CHECK_TOLERANCE, predictor.config.precision)
    if int8:
        bound = max(bound, INT8_TOLERANCE)
    if not difference <= bound:  # NaN fails too
        kind = "an int8 export" if int8 else f"a {predictor.config.precision} run"
        raise LexiclassError(f"the exported {format} model disagrees with lexiclass by {difference:.3g} on probe "
                             f"texts (tolerance {bound:g} for {kind}); the export was not written")
    if predictor.multi_label:
        _check_decisions(predictor.thresholds, outputs, format)
    return {"checked_texts": len(texts), "max_difference": difference, "tolerance": bound}


def _check_decisions(thresholds: dict, outputs: dict, format: str) -> None:
    """The export's ``labels`` are lexiclass's `decide` on the export's own probabilities (float32 thresholds, as in
    the export): exactly, since both compare the same numbers; the probabilities were checked against lexiclass's."""
    from lexiclass.models.thresholds import decide

    probs = np.asarray(outputs["probabilities"], dtype=np.float32)
    rule = {**thresholds, "thresholds": np.asarray(thresholds["thresholds"], dtype=np.float32)}
    if not np.array_equal(np.asarray(outputs["labels"], dtype=bool), decide(probs, rule)):
        raise LexiclassError(f"the exported {format} model's labels are not those of the run's thresholds on probe "
                             "texts; the export was not written")


def _savedmodel_outputs(folder: Path, texts: list[str]) -> dict:
    import tensorflow as tf

    serve = tf.saved_model.load(str(folder)).signatures[SIGNATURE]
    return {name: value.numpy() for name, value in serve(**{INPUT_NAME: tf.constant(texts, dtype=tf.string)}).items()}


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
