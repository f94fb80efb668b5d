"""Run folders written by an earlier lexiclass load and predict what they predicted then.

tests/fixtures/saved_runs/ holds one small run of every family, written by the lexiclass named in each
expected.json (see tests/fixtures/write_saved_runs.py), with the probabilities it gave. A change to how
models are saved, loaded or scored that would break the runs users already have fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lexiclass

RUNS = Path(__file__).resolve().parent / "fixtures" / "saved_runs"
FAMILIES = sorted(p.name for p in RUNS.iterdir() if (p / "expected.json").exists())


def test_every_family_has_a_saved_run():
    from lexiclass.models.registry import MODELS

    # auto saves its winner's model; every other family has a folder of its own
    assert set(FAMILIES) == set(MODELS) - {"auto"}


@pytest.mark.parametrize("family", FAMILIES)
def test_a_saved_run_predicts_what_it_predicted_when_written(family):
    expected = json.loads((RUNS / family / "expected.json").read_text(encoding="utf-8"))
    predictor = lexiclass.load(RUNS / family)
    probabilities = predictor.predict_proba(expected["texts"])
    assert probabilities.shape == (len(expected["texts"]), 2)
    np.testing.assert_allclose(probabilities, expected["probabilities"], atol=1e-6, rtol=0)
