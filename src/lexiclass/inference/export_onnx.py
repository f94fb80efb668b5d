"""The ONNX export: ``model.onnx`` (the run's network alone, converted by tf2onnx through Keras'
``model.export(format="onnx")``), with the run's vocabulary, ``preprocess.py`` and README.txt beside it.
Needs the ``export`` extra (tf2onnx, onnx, onnxruntime); `lexiclass.inference.export` calls it.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import warnings
from pathlib import Path

import numpy as np

from lexiclass import run_dir as rd
from lexiclass.errors import LexiclassError
from lexiclass.inference.export_folder import (DECISIONS, INT8_TOLERANCE, PREPROCESS_FILE, PREPROCESS_SOURCE,
                                               README_FILE, onnx_readme, quietly, write_labels)
from lexiclass.models.onnx_export import ONNX_FILE

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

    # The run's vectorizer files (preprocess.py reads vocabulary.txt and idf_weights.npy) and its config.json:
    # with them lexiclass itself predicts from the folder (`lexiclass.load(export)`, under ONNX Runtime).
    vectorizer.save(folder)
    for file in (rd.CONFIG_FILE, rd.METRICS_FILE):  # metrics.json: the run's test scores, beside the export's own
        if (predictor.run_dir / file).is_file():
            shutil.copyfile(predictor.run_dir / file, folder / file)
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


# ONNX Runtime's dynamic quantization, with 7-bit weights (``reduce_range``): CPUs without VNNI multiply uint8
# activations by int8 weights in 16-bit sums that can saturate with 8-bit weights; 7 bits cannot. The export is
# meant to run on any CPU, so it takes the safe form (measured: the same accuracy on 1,000 IMDB test reviews).
INT8_SETTINGS = {"weight_type": "QInt8", "reduce_range": True, "per_channel": False}
INTEGER_OPS = ("MatMulInteger", "DynamicQuantizeMatMul", "ConvInteger", "QLinearMatMul")


def quantize_int8(folder: Path) -> dict:
    """Replace ``folder``'s model.onnx with its int8 form: ONNX Runtime's dynamic quantization of the matrix products
    (``MatMul``, ``Gemm``: int8 weights stored, activations quantized per call); embeddings, layer norms,
    softmax and masks stay float32. Returns what was done, for export.json."""
    import onnx
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = folder / ONNX_FILE
    float_path = folder / f".float32-{ONNX_FILE}"
    path.replace(float_path)
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the quantizer advises pre-processing on the root logger at every call
    try:
        # Constant folding turns the attention's output weights (a Reshape of a variable) into a constant, and
        # Gemms become MatMuls: the dynamic quantizer takes only MatMuls with a constant weight. ONNX Runtime's
        # basic level keeps to standard ONNX operators (its pre-processing helper writes files in the working folder).
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(path)
        onnxruntime.InferenceSession(str(float_path), options, providers=["CPUExecutionProvider"])
        graph = onnx.load(str(path))
        _gemms_to_matmuls(graph.graph)
        onnx.save(graph, str(path))
        quantize_dynamic(path, path, weight_type=getattr(QuantType, INT8_SETTINGS["weight_type"]),
                         reduce_range=INT8_SETTINGS["reduce_range"], per_channel=INT8_SETTINGS["per_channel"],
                         op_types_to_quantize=["MatMul"])
    except Exception as exc:
        raise LexiclassError(f"int8 quantization of the ONNX model failed: {_one_line(exc)}") from None
    finally:
        logging.disable(previous)
        float32_bytes = float_path.stat().st_size
        float_path.unlink()
    integer_ops = [n.op_type for n in onnx.load(str(path)).graph.node if n.op_type in INTEGER_OPS]
    if not integer_ops:  # a network without matrix products to quantize: say so, never pretend
        raise LexiclassError("int8 quantization found no matrix product to quantize in this network")
    with open(folder / README_FILE, "a", encoding="utf-8") as readme:
        readme.write(f"\nmodel.onnx is quantized: its {len(integer_ops)} matrix products take int8 weights and compute "
                     f"on int8 activations\n(ONNX Runtime dynamic quantization); its probabilities are within {INT8_TOLERANCE} "
                     "of the run's (export.json).\n")
    return {"quantized": {"to": "int8", "method": "onnxruntime dynamic quantization", **INT8_SETTINGS,
                          "quantized_nodes": len(integer_ops), "float32_bytes": float32_bytes,
                          "bytes": path.stat().st_size}}


def _gemms_to_matmuls(graph) -> int:
    """Rewrite each ``Gemm(A, B, C)`` with a constant ``B`` (tf2onnx writes Dense layers and the attention's
    projections so) as ``MatMul(A, B')`` then ``Add(C)``; B' is B, transposed when ``transB``. Returns how many."""
    from onnx import helper, numpy_helper

    constants = {tensor.name: tensor for tensor in graph.initializer}
    count = 0
    for node in list(graph.node):
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        has_bias = len(node.input) > 2 and bool(node.input[2])  # beta scales the bias: it matters only with one
        if (node.op_type != "Gemm" or node.input[1] not in constants or attributes.get("transA", 0)
                or attributes.get("alpha", 1.0) != 1.0 or (has_bias and attributes.get("beta", 1.0) != 1.0)):
            continue
        weight = numpy_helper.to_array(constants[node.input[1]])
        name = f"{node.name}_weight"
        graph.initializer.append(numpy_helper.from_array(weight.T.copy() if attributes.get("transB", 0) else weight,
                                                         name))
        product = f"{node.name}_product" if has_bias else node.output[0]
        replacement = [helper.make_node("MatMul", [node.input[0], name], [product], name=f"{node.name}_matmul")]
        if has_bias:
            replacement.append(helper.make_node("Add", [product, node.input[2]], [node.output[0]],
                                                name=f"{node.name}_bias"))
        position = list(graph.node).index(node)
        graph.node.remove(node)
        for offset, new in enumerate(replacement):
            graph.node.insert(position + offset, new)  # same place: the graph stays topologically sorted
        count += 1
    used = _names_used(graph)
    unused = [tensor for tensor in graph.initializer if tensor.name not in used]  # the Gemms' own weights
    for tensor in unused:
        graph.initializer.remove(tensor)
    return count


def _names_used(graph) -> set[str]:
    """Every tensor name a node of ``graph`` or of its subgraphs (Loop and If bodies, e.g. LSTMs) reads."""
    import onnx

    used = set()
    for node in graph.node:
        used.update(node.input)
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                used |= _names_used(attribute.g)
            for sub in attribute.graphs:
                used |= _names_used(sub)
    return used


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
