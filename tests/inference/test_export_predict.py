"""An ONNX export folder predicting inside lexiclass (`lexiclass.models.onnx_export`): `lexiclass.load`, the
CLI's predict / evaluate / explain and the server take it, under ONNX Runtime, without TensorFlow.

Runs are trained at the machine's own precision (bfloat16 where the CPU has it): an export of the default path
must predict within the export check's tolerance of the run it came from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import lexiclass
from lexiclass.cli import main
from lexiclass.errors import LexiclassError
from lexiclass.inference.export import export_run, probe_texts
from lexiclass.inference.export_folder import INT8_TOLERANCE
from lexiclass.inference.export_onnx import onnx_outputs
from lexiclass.models.onnx_export import PREDICTS_ONLY, OnnxTextClassifier
from lexiclass.models.thresholds import decide
from tests.conftest import make_dataset, other_precision, write_csv

TEXTS = ["a good great film, loved it", "bad awful boring and a waste", "", "zzz unseen words only"]


@pytest.fixture(scope="module")
def exports(tiny_run, tmp_path_factory):
    """``exports(model, int8=False)`` -> (run folder, its ONNX export folder), made once per module."""
    made = {}

    def make(model: str, int8: bool = False, precision: str = "auto"):
        if (model, int8, precision) not in made:
            if model == "bow-tfidf-3":  # TF-IDF vectors (idf_weights.npy) into a 3-class softmax
                run = tiny_run("bow", classes=("neg", "pos", "mixed"), bow_mode="tf_idf")
            else:
                run = tiny_run(model) if precision == "auto" else tiny_run(model, precision=other_precision())
            out = tmp_path_factory.mktemp("export") / f"{model}-{'int8' if int8 else 'float32'}"
            export_run(run, out, "onnx", int8=int8)
            made[model, int8, precision] = run, out
        return made[model, int8, precision]

    return make


@pytest.mark.parametrize("model, int8, precision", [
    ("positional-transformer", False, "auto"), ("positional-transformer", True, "auto"), ("bow", False, "auto"),
    ("bilstm", True, "auto"), ("bow-tfidf-3", False, "auto"),
    ("positional-transformer", False, "other"),  # pinned: the precision this CPU does not default to, so both run
])
def test_an_export_predicts_as_its_run_and_as_its_recipe(exports, model, int8, precision):
    run, folder = exports(model, int8, precision)
    exported, own = lexiclass.load(folder), lexiclass.load(run)
    assert exported.exported and not own.exported and isinstance(exported.classifier, OnnxTextClassifier)
    texts = probe_texts(own) + TEXTS
    got = exported.predict_proba(texts)  # (n, classes), through lexiclass's length buckets
    assert got.shape == (len(texts), len(own.labels)) and np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    bound = json.loads((folder / "export.json").read_text())["tolerance"]
    assert np.abs(got - own.predict_proba(texts)).max() <= bound  # the run's own model, within the export check
    # The same network as the folder's NumPy recipe runs, with other batches and padding: equal within float32's
    # rounding; an int8 export's dynamic quantization scales activations per batch, so there within its bound.
    recipe = np.asarray(onnx_outputs(folder, texts)["probabilities"], dtype=np.float64)
    assert np.abs(got - recipe).max() <= (INT8_TOLERANCE if int8 else 1e-5)
    assert exported.predict(TEXTS[0])["label"] in own.labels and exported.labels == own.labels
    if int8:
        assert bound == INT8_TOLERANCE


def test_a_multi_label_export_decides_each_label_by_the_run_thresholds(tiny_multilabel_run, tmp_path):
    run = tiny_multilabel_run("positional-transformer")
    export_run(run, tmp_path / "ml", "onnx")
    exported, own = lexiclass.load(tmp_path / "ml"), lexiclass.load(run)
    assert exported.thresholds["thresholds"] == own.thresholds["thresholds"]
    assert exported.thresholds["at_least_one"] == own.thresholds["at_least_one"]
    assert exported.thresholds["rule"] == own.thresholds["rule"] is not None  # /metadata's threshold_rule
    texts = ["a bird and a cat", "the dog", "nothing at all"]
    probs = exported.predict_proba(texts)  # (3, labels): independent sigmoids
    assert exported.multi_label and probs.shape == (3, 3)
    assert exported.classifier.predict(texts).shape == (3, 3)  # the classifier's own 0/1 matrix, as a run's
    chosen = decide(probs, exported.thresholds)
    assert np.array_equal(chosen, np.asarray(onnx_outputs(tmp_path / "ml", texts)["labels"], dtype=bool))
    for row, answer in zip(chosen, exported.predict(texts)):
        assert sorted(answer["labels"]) == sorted(np.asarray(exported.labels)[row].tolist())


def test_predict_on_an_export_needs_no_tensorflow(exports):
    """TensorFlow takes seconds to import; an export predicts under ONNX Runtime alone."""
    _, folder = exports("positional-transformer", True)
    code = ("import sys; from lexiclass.cli import main; "
            "code = main(['predict', sys.argv[1], 'a great film']); "
            "print(code, *(name in sys.modules for name in ('tensorflow', 'keras', 'onnxruntime')))")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=300)
    lines = done.stdout.splitlines()
    assert lines[-1] == "0 False False True", done.stderr[-2000:]
    assert json.loads(lines[0])["label"] in ("neg", "pos")


def test_evaluate_an_export_beside_its_run_stored_accuracy(exports, capsys, tmp_path, monkeypatch):
    from lexiclass.inference.evaluate import evaluate

    run, folder = exports("bow", True)
    capsys.readouterr()  # the fixture's training and export output, if it ran now
    assert main(["evaluate", str(folder), "--dataset", str(write_csv(tmp_path, n=120))]) == 0
    out = capsys.readouterr().out
    assert "test accuracy:" in out and "stored: none" in out  # another dataset: nothing stored to compare with
    # Its own test split (the tiny runs' data is generated, not a file): the run's stored accuracy comes along.
    monkeypatch.setattr("lexiclass.inference.evaluate.load_dataset", lambda config, **kw: make_dataset())
    metrics = evaluate(folder)
    assert metrics["stored_accuracy"] == json.loads((run / "metrics.json").read_text())["accuracy"]
    assert abs(metrics["accuracy"] - evaluate(run)["accuracy"]) <= 0.05  # int8: a few texts near 0.5 may flip


def test_explain_an_export_measures_importance_and_says_why_attention_is_skipped(exports, capsys):
    from lexiclass.inference.explain import attention_scores

    run, folder = exports("positional-transformer", False)
    capsys.readouterr()  # the fixture's training and export output, if it ran now
    assert main(["explain", str(folder), "a good great film but boring"]) == 0
    out = capsys.readouterr().out
    assert "token importance" in out and "supports:" in out
    assert "attention: skipped (an ONNX export keeps no attention layers to read" in out and str(run) in out
    with pytest.raises(LexiclassError, match="ONNX export keeps no attention layers"):
        attention_scores(lexiclass.load(folder), "a good film")


def test_serve_an_export_predicts_and_explains_without_attention(exports):
    from fastapi.testclient import TestClient

    from lexiclass.inference.serve import create_app

    run, folder = exports("positional-transformer", True)
    with TestClient(create_app(folder)) as client:
        answer = client.post("/predict", json={"texts": TEXTS[:2]}).json()["predictions"]
        explained = client.post("/explain", json={"text": "a good great film"})
        metadata = client.get("/metadata").json()
    expected = lexiclass.load(folder).predict(TEXTS[:2])
    assert [a["label"] for a in answer] == [e["label"] for e in expected]
    assert explained.status_code == 200 and explained.json()["attention"] is None
    skipped = explained.json()["attention_skipped"]  # the page shows it; no server path (cf. /metadata)
    assert skipped.startswith("an ONNX export keeps no attention layers") and str(run) not in skipped
    assert len(explained.json()["importance"]) == len(explained.json()["tokens"]) == 4
    assert metadata["run"]["format"] == "onnx" and metadata["run"]["quantized"]["to"] == "int8"  # the page's header
    assert metadata["model"] == "positional-transformer" and metadata["test_metrics"]["accuracy"] == json.loads(
        (run / "metrics.json").read_text())["accuracy"]


def test_commands_that_need_the_run_folder_name_it(exports, tmp_path, capsys):
    run, folder = exports("bow", False)
    capsys.readouterr()  # the fixture's training and export output, if it ran now
    assert main(["export", str(folder), "--format", "onnx", "--out", str(tmp_path / "again")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{folder} is an export of the run {run}, not a run folder" in err
    with pytest.raises(LexiclassError, match=PREDICTS_ONLY):
        lexiclass.load(folder).classifier.fit(["a"], [0])


def test_a_run_folder_holding_an_export_json_is_still_a_run(tiny_run, tmp_path, capsys):
    """Only a folder with export.json and no run.json is an export: a run folder with a stray export.json
    (an export written into it by hand) still predicts as the run."""
    run = tmp_path / "run"
    shutil.copytree(tiny_run("bow"), run)
    (run / "export.json").write_text(json.dumps({"format": "onnx"}))
    predictor = lexiclass.load(run)
    assert not predictor.exported and predictor.predict("a good film")["label"] in ("neg", "pos")


@pytest.mark.parametrize("damage, fragment", [
    ("onnx", "model.onnx: ONNX Runtime cannot load it"),
    ("old", "made by an earlier lexiclass"),
    ("savedmodel", "is a savedmodel export: lexiclass predicts with run folders and ONNX exports"),
    ("labels", "gives 2 probabilities but labels.json names 3 labels"),
])
def test_a_damaged_or_other_export_gets_one_line_naming_it(exports, tmp_path, capsys, damage, fragment):
    _, folder = exports("bow", False)
    capsys.readouterr()  # the fixture's training and export output, if it ran now
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    if damage == "onnx":
        (copy / "model.onnx").write_bytes(b"not a model")
    elif damage == "old":
        (copy / "vectorizer.json").unlink()
    elif damage == "savedmodel":
        info = json.loads((copy / "export.json").read_text())
        (copy / "export.json").write_text(json.dumps({**info, "format": "savedmodel"}))
    else:
        (copy / "labels.json").write_text(json.dumps(["a", "b", "c"]))
    assert main(["predict", str(copy), "a good film"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err and str(copy) in err


def test_an_export_without_onnx_runtime_installed_says_what_to_install(exports, monkeypatch, capsys):
    _, folder = exports("bow", False)
    capsys.readouterr()  # the fixture's training and export output, if it ran now
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the [export] extra were not installed
    assert main(["predict", str(folder), "a good film"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs ONNX Runtime: pip install 'lexiclass[export]'" in err
