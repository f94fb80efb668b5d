"""Train and use lexiclass runs on one Keras backend, in a process of its own (Keras fixes its backend at import).

    python -m tests.backend_worker BACKEND OUT.json --train MODEL... --settings JSON --runs DIR --load RUN...

Trains each MODEL (`tests.conftest.tiny_config` updated with the JSON settings, e.g. the
dataset) into DIR/BACKEND-MODEL with `lexiclass.train`, then loads
every run it trained and every RUN given, and writes, per run: probabilities for `PROBES`,
the label served by `POST /predict`, explain's token importance, and whether TensorFlow
was imported. With ``--no-tensorflow`` TensorFlow cannot be imported at all, to show the
JAX and PyTorch paths do not need it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

PROBES = ["great fun loved it", "awful boring hated it", "the movie", "",
          "plot " * 70 + "superb wonderful"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("backend")
    parser.add_argument("out")
    parser.add_argument("--settings", default="{}", help="TrainConfig fields over tiny_config's, as JSON")
    parser.add_argument("--runs")
    parser.add_argument("--train", nargs="*", default=[])
    parser.add_argument("--load", nargs="*", default=[])
    parser.add_argument("--no-tensorflow", action="store_true")
    args = parser.parse_args()
    if args.no_tensorflow:
        sys.modules["tensorflow"] = None  # `import tensorflow` raises ImportError from here on
    from lexiclass.backend import select

    select(args.backend)
    from fastapi.testclient import TestClient

    from lexiclass.inference.explain import token_importance
    from lexiclass.inference.predictor import Predictor
    from lexiclass.inference.serve import create_app
    from lexiclass.training.fit import train
    from tests.conftest import tiny_config

    runs = []
    for model in args.train:
        run = Path(args.runs) / f"{args.backend}-{model}"
        config = tiny_config(model, **json.loads(args.settings))
        train(config, run, overwrite=True, verbose=0)
        runs.append(run)
    results = {}
    for run in runs + [Path(r) for r in args.load]:
        predictor = Predictor.from_run_dir(run)
        with TestClient(create_app(predictor)) as client:
            served = client.post("/predict", json={"texts": PROBES[:2]}).json()
        tokens, scores = token_importance(predictor, PROBES[0])
        results[run.name] = {
            "probabilities": predictor.predict_proba(PROBES).tolist(),
            "served_labels": [row["label"] for row in served["predictions"]],
            "importance": [list(tokens), [float(s) for s in scores]],
            "trained_on": json.loads((run / "run.json").read_text())["versions"]["backend"],
        }
    import keras

    Path(args.out).write_text(json.dumps({"backend": keras.backend.backend(), "runs": results,
                                          "tensorflow_imported": "tensorflow" in sys.modules
                                          and sys.modules["tensorflow"] is not None}))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    main()
