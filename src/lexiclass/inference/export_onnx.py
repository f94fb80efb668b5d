"""The ONNX export: ``model.onnx`` (the run's network alone, converted by tf2onnx through Keras'
``model.export(format="onnx")``), with the run's vocabulary, ``preprocess.py`` and README.txt beside it.
Needs the ``export`` extra (tf2onnx, onnx, onnxruntime); `lexiclass.inference.export` calls it.
"""

from __future__ import annotations

import importlib.util
import shutil
import warnings
from pathlib import Path

import numpy as np

from lexiclass.errors import LexiclassError
from lexiclass.inference.export_folder import (DECISIONS, ONNX_FILE, PREPROCESS_FILE, PREPROCESS_SOURCE, README_FILE,
                                               onnx_readme, quietly, write_labels)

# Keras, TensorFlow and the ONNX packages are imported inside the functions: seconds to import; ONNX is an extra.


def require_onnx_packages() -> None:
    """Refuse at once, before any work, when a package of the ``export`` extra is missing."""
    missing = [name for name in ("tf2onnx", "onnx", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise LexiclassError(f"ONNX export needs {', '.join(missing)}: pip install 'lexiclass[export]'")


def write_onnx(predictor, folder: Path) -> dict:
    """Write model.onnx and its vocabulary, preprocess.py and README.txt into ``folder``; return what they are."""
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
    if len(predictor.labels) == 2 and not predictor.multi_label:  # one sigmoid p -> [1 - p, p], as lexiclass has it
        outputs = keras.ops.concatenate([1.0 - outputs, outputs], axis=-1)
    wrapper = keras.Model(inputs, outputs)
    path = folder / ONNX_FILE
    try:
        with warnings.catch_warnings():  # Keras' numpy-2 patch of tf2onnx warns about np.object
            warnings.simplefilter("ignore", FutureWarning)
            quietly(lambda: wrapper.export(str(path), format="onnx", verbose=False, input_signature=[spec]))
    except Exception as exc:
        raise LexiclassError(f"ONNX conversion of this {predictor.config.model} run failed: "
                             f"{_one_line(exc)}") from None
    graph = onnx.load(str(path))
    replaced = _selects_to_where(graph.graph)
    output_name = graph.graph.output[0].name
    width = len(predictor.labels)
    outputs = {output_name: {"dtype": "float32", "shape": [None, width], "what": "probabilities"}}
    if predictor.multi_label:
        add_decisions(graph.graph, predictor.thresholds)
        outputs = {"probabilities": {"dtype": "float32", "shape": [None, width], "what": "probabilities"},
                   "labels": {"dtype": "bool", "shape": [None, width], "what": DECISIONS}}
    onnx.save(graph, str(path))

    shutil.copyfile(predictor.run_dir / "vocabulary.txt", folder / "vocabulary.txt")
    if vectorizer.output_mode == "tf_idf":
        shutil.copyfile(predictor.run_dir / "idf_weights.npy", folder / "idf_weights.npy")
    write_labels(folder, predictor)
    (folder / PREPROCESS_FILE).write_text(PREPROCESS_SOURCE, encoding="utf-8")
    summary = {
        "input": ({"name": name, "dtype": "int32", "shape": [None, None],
                   "what": "token ids, 0 = padding (see preprocess.py)"} if predictor.input_kind == "sequence" else
                  {"name": name, "dtype": "float32", "shape": [None, len(vectorizer.vocabulary)],
                   "what": f"{vectorizer.output_mode} n-gram vectors (see preprocess.py)"}),
        "outputs": outputs,
        "input_kind": predictor.input_kind,
        "output_mode": vectorizer.output_mode,
        "ngrams": vectorizer.ngrams,
        "truncation": predictor.config.truncation if predictor.input_kind == "sequence" else None,
        "sequence_length": predictor.config.sequence_length if predictor.input_kind == "sequence" else None,
        "opset": max((o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")), default=None),
        "selects_rewritten": replaced,
    }
    (folder / README_FILE).write_text(onnx_readme(predictor, summary), encoding="utf-8")
    return summary


def add_decisions(graph, thresholds: dict) -> None:
    """Make the graph's outputs ``probabilities`` (the network's) and ``labels``: `lexiclass.models.thresholds.decide`
    in ONNX operators, (batch, L) bool = probability >= its threshold (float32), or (``at_least_one``) the
    row's most probable label (``ArgMax``: the first of equal maxima, as NumPy's argmax)."""
    from onnx import TensorProto, helper, numpy_helper

    values = np.asarray(thresholds["thresholds"], dtype=np.float32)[None, :]
    width = values.shape[1]
    graph.initializer.append(numpy_helper.from_array(values, "lexiclass_thresholds"))
    nodes = [helper.make_node("Identity", [graph.output[0].name], ["probabilities"]),
             helper.make_node("GreaterOrEqual", ["probabilities", "lexiclass_thresholds"],
                              ["lexiclass_over" if thresholds.get("at_least_one") else "labels"])]
    if thresholds.get("at_least_one"):
        graph.initializer.append(numpy_helper.from_array(np.arange(width, dtype=np.int64)[None, :], "lexiclass_ids"))
        nodes += [helper.make_node("ArgMax", ["probabilities"], ["lexiclass_best"], axis=1, keepdims=1),
                  helper.make_node("Equal", ["lexiclass_best", "lexiclass_ids"], ["lexiclass_is_best"]),
                  helper.make_node("Or", ["lexiclass_over", "lexiclass_is_best"], ["labels"])]
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, width]),
                         helper.make_tensor_value_info("labels", TensorProto.BOOL, [None, width])])


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


def onnx_outputs(folder: Path, texts: list[str]) -> dict:
    """The export's outputs for ``texts`` by name, through its own preprocess.py and ONNX Runtime;
    ``probabilities`` is always there (the first output of a single-label export)."""
    import onnxruntime

    spec = importlib.util.spec_from_file_location("_lexiclass_export_preprocess", folder / PREPROCESS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x = module.Preprocessor(folder)(texts)
    session = onnxruntime.InferenceSession(str(folder / ONNX_FILE), providers=["CPUExecutionProvider"])
    found = session.run(None, {session.get_inputs()[0].name: x})
    return {"probabilities": found[0], **{out.name: value for out, value in zip(session.get_outputs(), found)}}


def _one_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(exc).__name__
