"""``lexiclass export --format onnx --int8``: ONNX Runtime's dynamic int8 quantization of the exported network.

Runs at the machine's own precision (bfloat16 where the CPU has it): the int8 check must hold on the
default path, where lexiclass's own probabilities carry bfloat16's rounding too. One case pins the other
precision, so that both are exported on every machine.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import lexiclass
from lexiclass.cli import main
from lexiclass.errors import LexiclassError
from lexiclass.inference.export import export_run, probe_texts
from lexiclass.inference.export_folder import INT8_TOLERANCE
from lexiclass.inference.export_onnx import INTEGER_OPS, onnx_outputs
from tests.conftest import other_precision

# Matrix products with a weight: Q, K, V and output projections, the two feed-forward layers, the classifier.
WEIGHT_PRODUCTS = {"positional-transformer": 7, "bow": 2}


def float_weight_products(graph) -> list[str]:
    """MatMul / Gemm nodes whose second input is a stored weight: what int8 quantization should have replaced."""
    weights = {tensor.name for tensor in graph.initializer}
    return [node.name for node in graph.node if node.op_type in ("MatMul", "Gemm") and node.input[1] in weights]


@pytest.mark.parametrize("model, precision", [("positional-transformer", "auto"), ("bow", "auto"),
                                              ("positional-transformer", "other")])
def test_int8_export_quantizes_every_weight_product_within_its_tolerance(tiny_run, tmp_path, model, precision,
                                                                         capsys, monkeypatch):
    run = tiny_run(model) if precision == "auto" else tiny_run(model, precision=other_precision())
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # ONNX Runtime's quantization helpers can leave files in the working folder
    code = main(["export", str(run), "--format", "onnx", "--int8", "--out", str(tmp_path / "int8")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert list((tmp_path / "cwd").iterdir()) == []  # nothing written where not asked
    progress_lines = [line for line in out.err.splitlines() if line.startswith("exporting")]
    assert progress_lines and "4/4" in progress_lines[-1] and "done" in progress_lines[-1], out.err  # 4 steps
    assert "7 matrix products quantized" in out.out if model == "positional-transformer" else "int8:" in out.out
    summary = json.loads((tmp_path / "int8" / "export.json").read_text())
    graph = onnx.load(str(tmp_path / "int8" / "model.onnx")).graph
    assert float_weight_products(graph) == []  # attention's QK^T and AV stay float: they have no weight
    integer = [node for node in graph.node if node.op_type in INTEGER_OPS]
    assert len(integer) == summary["quantized"]["quantized_nodes"] == WEIGHT_PRODUCTS[model]
    stored = {tensor.name: tensor.data_type for tensor in graph.initializer}
    assert {stored[node.input[1]] for node in integer} == {onnx.TensorProto.INT8}  # the weights are kept as int8
    assert summary["tolerance"] == max(INT8_TOLERANCE, summary["tolerance"]) and summary["max_difference"] <= INT8_TOLERANCE

    float32 = export_run(run, tmp_path / "float32", "onnx", check=False)
    texts = probe_texts(lexiclass.load(run))
    exact = onnx_outputs(tmp_path / "float32", texts)["probabilities"]
    quantized = onnx_outputs(tmp_path / "int8", texts)["probabilities"]
    assert quantized.shape == exact.shape == (len(texts), 2)
    assert 0 < np.abs(quantized - exact).max() <= INT8_TOLERANCE  # it did change the arithmetic, within bounds
    assert float_weight_products(onnx.load(str(tmp_path / "float32" / "model.onnx")).graph)  # the float32 one keeps them
    assert "quantized" not in float32 and "quantized" in (tmp_path / "int8" / "README.txt").read_text()


def test_int8_is_refused_for_a_savedmodel_before_any_work(tiny_run, tmp_path):
    with pytest.raises(LexiclassError, match="^--int8 quantizes the ONNX network .* needs --format onnx, not savedmodel$"):
        export_run(tiny_run("bow"), tmp_path / "out", "savedmodel", int8=True)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("trans_b, bias", [(1, False), (0, True), (1, True)])
def test_gemms_become_matmuls_that_compute_the_same(trans_b, bias):
    """The rewrite the quantizer needs: Gemm(A, B[, C]) with a stored B is MatMul(A, B') [+ C], the same numbers."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from lexiclass.inference.export_onnx import _gemms_to_matmuls

    rng = np.random.default_rng(0)
    weight = rng.normal(size=(5, 3) if trans_b else (3, 5)).astype(np.float32)
    inputs = ["a", "w"] + (["c"] if bias else [])
    constants = [numpy_helper.from_array(weight, "w")] + ([numpy_helper.from_array(
        rng.normal(size=5).astype(np.float32), "c")] if bias else [])
    graph = helper.make_graph([helper.make_node("Gemm", inputs, ["y"], name="dense", transB=trans_b)], "g",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [None, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 5])], constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    a = rng.normal(size=(4, 3)).astype(np.float32)
    before = ort.InferenceSession(model.SerializeToString()).run(None, {"a": a})[0]
    assert _gemms_to_matmuls(model.graph) == 1
    assert [node.op_type for node in model.graph.node] == ["MatMul"] + (["Add"] if bias else [])
    assert "w" not in {tensor.name for tensor in model.graph.initializer}  # the Gemm's own weight is dropped
    after = ort.InferenceSession(model.SerializeToString()).run(None, {"a": a})[0]
    np.testing.assert_allclose(after, before, rtol=1e-6, atol=1e-6)
