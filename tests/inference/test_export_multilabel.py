"""Multi-label runs exported: ``probabilities`` (one per label) and ``labels`` (batch, labels) bool, the run's
thresholds applied inside the SavedModel and the ONNX graph, used outside lexiclass (see test_export.py).

n-gram linear models (nbsvm, nbsvm-ensemble, tfidf) are refused by export for every run (test_export.py), so
the families here are bow (n-gram vectors into a Keras network) and positional-transformer (token ids).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from lexiclass.errors import LexiclassError
from lexiclass.inference.export import describe, export_run
from tests.conftest import make_multilabel_texts, probability_atol
from tests.inference.test_export import probe_texts, run_outside

# ~1 min of exports: the slow suite. The default suite exports a multi-label Transformer to ONNX in the
# support-matrix subset and checks the CLI's export summary (tests/cli/test_multilabel_cli.py).
pytestmark = pytest.mark.slow

FAMILIES = {
    "bow": ("bow", {}),
    "positional-transformer": ("positional-transformer", {}),
    "bow-2-labels": ("bow", {"names": ("cat", "dog")}),  # two sigmoids, not binary's one: no [1 - p, p]
}


def texts_for(run) -> list[str]:
    animals, _ = make_multilabel_texts(24, seed=5)
    return probe_texts(run) + animals + ["the movie plot", "cat", "DOG! bird?", "bird " * 300]


@pytest.fixture(scope="module")
def exports(tiny_multilabel_run, tmp_path_factory):
    """{key: {"expected", "labels", "thresholds", "texts", "atol", fmt: {"summary", "result"}}} for every family,
    plus "no-fallback": the bow run with at_least_one off (a text may then get no label)."""
    import lexiclass

    folder = tmp_path_factory.mktemp("multilabel-exports")
    runs = {key: tiny_multilabel_run(model, **settings) for key, (model, settings) in FAMILIES.items()}
    runs["no-fallback"] = folder / "no-fallback-run"
    shutil.copytree(runs["bow"], runs["no-fallback"])
    thresholds_path = runs["no-fallback"] / "thresholds.json"
    thresholds = json.loads(thresholds_path.read_text())
    assert thresholds["at_least_one"] is True  # every generated text has a label
    thresholds_path.write_text(json.dumps({**thresholds, "at_least_one": False, "thresholds": [0.9] * 3}))
    jobs, found = [], {}
    for key, run in runs.items():
        predictor, texts = lexiclass.load(run), texts_for(run)
        found[key] = {"expected": predictor.predict_proba(texts), "labels": predictor.labels, "texts": texts,
                      "thresholds": predictor.thresholds, "predicted": predictor.predict(texts),
                      "atol": probability_atol(predictor)}
        for fmt in ("savedmodel", "onnx"):
            summary = export_run(run, folder / f"{key}-{fmt}", fmt)  # checked: decisions included
            found[key][fmt] = {"summary": summary}
            jobs.append({"format": fmt, "path": summary["out_dir"], "texts": texts, "key": key})
    for job, result in zip(jobs, run_outside(jobs)["results"]):
        found[job["key"]][job["format"]]["result"] = result
    return found


@pytest.mark.parametrize("key", [*FAMILIES, "no-fallback"])
@pytest.mark.parametrize("fmt", ["savedmodel", "onnx"])
def test_exports_give_lexiclass_probabilities_and_label_sets(exports, key, fmt):
    found = exports[key]
    expected, result = found["expected"], found[fmt]["result"]
    width = len(found["labels"])
    got = np.asarray(result["probabilities"])
    assert got.shape == expected.shape == (len(found["texts"]), width)
    assert np.abs(got - expected).max() <= found["atol"], np.abs(got - expected).max()
    chosen = np.asarray(result["labels"], dtype=bool)
    assert chosen.shape == expected.shape
    if found["atol"] <= 1e-5:  # in bfloat16 a probability near a threshold may fall on either side
        want = [set(row["labels"]) for row in found["predicted"]]
        assert [{found["labels"][j] for j in np.flatnonzero(row)} for row in chosen] == want
    counts = chosen.sum(axis=1)
    if found["thresholds"]["at_least_one"]:
        assert (counts >= 1).all() and (counts > 1).any()  # sets of several labels, not an argmax
    else:
        assert (counts == 0).any()  # no fallback: texts under every threshold get no label
    assert np.abs(expected.sum(axis=1) - 1).max() > 0.1  # independent probabilities, not a softmax


@pytest.mark.parametrize("fmt", ["savedmodel", "onnx"])
def test_export_summary_thresholds_file_and_readme(exports, fmt):
    found = exports["bow"]
    summary = found[fmt]["summary"]
    width = len(found["labels"])
    assert summary["multi_label"] is True and summary["at_least_one"] is True
    assert summary["thresholds"] == found["thresholds"]["thresholds"]
    assert summary["outputs"]["probabilities"] == {"dtype": "float32", "shape": [None, width],
                                                   **({"what": "probabilities"} if fmt == "onnx" else {})}
    assert summary["outputs"]["labels"]["dtype"] == "bool" and summary["outputs"]["labels"]["shape"] == [None, width]
    assert "label" not in summary["outputs"] and summary["max_difference"] <= found["atol"]
    assert "thresholds.json" in summary["files"]
    folder = summary["out_dir"]
    written = json.loads(open(f"{folder}/thresholds.json").read())
    assert written == {"labels": found["labels"], "thresholds": summary["thresholds"], "at_least_one": True,
                       "rule": found["thresholds"]["rule"]}
    assert summary["rule"] == found["thresholds"]["rule"] and written["rule"] in ("global", "per-label", "fixed")
    readme = open(f"{folder}/README.txt").read()
    assert '"labels"' in readme and "threshold" in readme and "bird 0." in readme
    assert "labels bool (batch, 3)" in describe(summary) and "labels (multi-label): bird, cat, dog" in describe(summary)


def test_two_label_export_keeps_two_columns(exports):
    """A two-label multi-label network has two sigmoids: the export must not turn it into [1 - p, p] columns."""
    found = exports["bow-2-labels"]
    assert found["expected"].shape[1] == 2
    for fmt in ("savedmodel", "onnx"):
        assert np.asarray(found[fmt]["result"]["probabilities"]).shape == found["expected"].shape


def test_decisions_that_disagree_with_the_thresholds_are_caught(exports, tiny_multilabel_run, tmp_path, monkeypatch):
    """The export's check compares its labels with the run's rule: a broken decision op leaves nothing."""
    import lexiclass.inference.export as export

    monkeypatch.setattr(export, "decisions", lambda probs, thresholds: probs >= 2.0)  # never a label
    with pytest.raises(LexiclassError, match="labels are not those of the run's thresholds"):
        export_run(tiny_multilabel_run("bow"), tmp_path / "out", "savedmodel")
    assert not (tmp_path / "out").exists()
