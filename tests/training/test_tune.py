"""Hyper-parameter search: the space file, the drawn trials, and searches on Ray and locally."""

from __future__ import annotations

import csv
import json

import pytest

from lexiclass.errors import ConfigError, LexiclassError
from lexiclass.training import tune as tune_mod
from tests.conftest import make_dataset, tiny_config

pytestmark = pytest.mark.timeout(300)


def _table(out):
    with open(out / "trials.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("text, message", [
    ("lerning_rate = [0.1]", "unknown setting 'lerning_rate' (did you mean 'learning_rate'?)"),
    ("ngrams = []", "ngrams: the list of choices is empty"),
    ("ngrams = [1, 'two']", "ngrams: 'two' is not a valid int"),
    ("ngrams = [1, 11]", "ngrams: ngrams must be in [1, 10], got 11"),
    ("dropout = {min = 0.5, max = 0.1}", "dropout: min 0.5 is larger than max 0.1"),
    ("dropout = {min = 0.0, max = 0.5, log = true}", "dropout: a log range needs min > 0"),
    ("dropout = {min = 0.1}", "dropout: the range needs max"),
    ("dropout = {min = 0.1, max = 0.2, step = 1}", "dropout: unknown key 'step'"),
    ("model = {min = 1, max = 2}", "model: a {min, max} range needs a numeric setting"),
    ('model = ["gpt-5", "tfidf"]', "model: 'gpt-5' is not one of bow, bilstm"),  # before any trial, not as one
    ('bow_mode = ["tf_idf", "count"]', "bow_mode: 'count' is not one of multi_hot, tf_idf"),
    ("hidden_units = {min = 1.5, max = 8}", "hidden_units: 1.5 is not a valid int"),
    ("ngrams = 3", "ngrams: give a list of choices or a table"),
    ("", "no settings to search"),
    ("ngrams = [1", "space.toml:"),
])
def test_space_file_errors_name_the_key(tmp_path, text, message):
    path = tmp_path / "space.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        tune_mod.read_space(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_draws_are_seeded_and_typed(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text("[space]\nngrams = [1, 2]\nbow_mode = ['multi_hot', 'tf_idf']\n", encoding="utf-8")
    dims = tune_mod.read_space(path)
    assert tune_mod.draw_trials(dims, 10) == [  # the whole grid fits: each point once, in order
        {"ngrams": 1, "bow_mode": "multi_hot"}, {"ngrams": 1, "bow_mode": "tf_idf"},
        {"ngrams": 2, "bow_mode": "multi_hot"}, {"ngrams": 2, "bow_mode": "tf_idf"}]
    three = tune_mod.draw_trials(dims, 3, seed=5)
    assert len({tuple(t.values()) for t in three}) == 3 and three == tune_mod.draw_trials(dims, 3, seed=5)
    dims = tune_mod.read_space({"learning_rate": {"min": 1e-4, "max": 1e-2, "log": True},
                                "hidden_units": {"min": 4, "max": 64}, "dropout": {"min": 0.0, "max": 0.5}})
    for trial in tune_mod.draw_trials(dims, 50, seed=1):
        assert 1e-4 <= trial["learning_rate"] <= 1e-2
        assert isinstance(trial["hidden_units"], int) and 4 <= trial["hidden_units"] <= 64
        assert 0.0 <= trial["dropout"] <= 0.5
        tiny_config("bow").updated(trial)  # every draw is a valid setting
    with pytest.raises(LexiclassError, match="--trials"):
        tune_mod.draw_trials(dims, 0)


def test_trials_never_see_the_test_split(monkeypatch, tmp_path, without_ray):
    """Local engine, without Ray: each trial trains on train and is scored on validation; only the best
    run, trained again with the base refit_on_val, gets the real test split."""
    from lexiclass.training import fit

    data = make_dataset()
    seen = []
    real_train = fit.train

    def spy(config, out, **kwargs):
        seen.append((config.refit_on_val, kwargs["dataset"].test_texts))
        return real_train(config, out, **kwargs)

    monkeypatch.setattr(fit, "train", spy)
    summary = tune_mod.tune(tiny_config("nbsvm"), {"nb_ngrams": [1, 2, 3]}, 3, tmp_path / "search",
                            engine="local", dataset=data)
    assert [refit for refit, _ in seen] == [False, False, False, True]
    assert all(texts == data.val_texts for _, texts in seen[:3])
    assert seen[3][1] == data.test_texts
    rows = _table(tmp_path / "search")
    assert [r["nb_ngrams"] for r in rows] == ["1", "2", "3"] and {r["status"] for r in rows} == {"ok"}
    best = max(rows, key=lambda r: (float(r["val_accuracy"]), -int(r["trial"])))
    assert best["best"] == "yes" and summary["best"]["trial"] == int(best["trial"])
    run = json.loads((tmp_path / "search" / "best" / "run.json").read_text())
    assert run["status"] == "complete" and run["data_sizes"]["test"] == len(data.test_texts)
    with pytest.raises(LexiclassError, match="pip install 'lexiclass\\[ray\\]'"):
        tune_mod.tune(tiny_config("nbsvm"), {"nb_ngrams": [1]}, 1, tmp_path / "other", engine="ray", dataset=data)
    assert not (tmp_path / "other").exists()
    with pytest.raises(LexiclassError, match="not empty"):
        tune_mod.tune(tiny_config("nbsvm"), {"nb_ngrams": [1]}, 1, tmp_path / "search", engine="local",
                      dataset=data)


@pytest.mark.slow  # default suite < 10 min; local search stays
def test_ray_search_writes_best_run_and_table_and_reports_failed_trials(ray_local, tmp_path):
    """Four trials on Ray, two of them impossible (char_min_n above char_ngrams): those are reported, the
    others finish, the best is trained into best/ like `lexiclass train`, and the local engine runs the
    same trials to the same validation accuracies."""
    import lexiclass

    data = make_dataset()
    space = tmp_path / "space.toml"
    space.write_text("nb_ngrams = [1, 2]\nchar_min_n = [2, 9]\n", encoding="utf-8")
    config = tiny_config("nbsvm")
    summary = tune_mod.tune(config, space, 4, tmp_path / "ray", engine="ray", workers=2, dataset=data)
    rows = _table(tmp_path / "ray")
    assert len(rows) == 4 and summary["trials"] == 4 and summary["failed"] == 2
    failed = [r for r in rows if r["status"] == "error"]
    assert [r["char_min_n"] for r in failed] == ["9", "9"]
    assert all("char_min_n = 9 is larger than char_ngrams = 6" in r["error"] for r in failed)
    finished = [r for r in rows if r["status"] == "ok"]
    assert all(0 <= float(r["val_accuracy"]) <= 1 and float(r["seconds"]) > 0 for r in finished)
    assert sum(r["best"] == "yes" for r in rows) == 1
    markdown = (tmp_path / "ray" / "trials.md").read_text(encoding="utf-8")
    assert markdown.startswith(f"Best: trial {summary['best']['trial']}") and markdown.count("| error |  | ConfigError") == 2
    best = tmp_path / "ray" / "best"
    for name in ("run.json", "config.json", "labels.json", "metrics.json", "history.csv"):
        assert (best / name).is_file()
    saved = json.loads((best / "config.json").read_text())
    assert saved["nb_ngrams"] == summary["best"]["nb_ngrams"] and saved["refit_on_val"] is True
    assert lexiclass.load(best).predict("a wonderful superb film")["label"] in ("neg", "pos")

    local = tune_mod.tune(config, space, 4, tmp_path / "local", engine="local", dataset=data)
    local_rows = _table(tmp_path / "local")
    assert [(r["nb_ngrams"], r["char_min_n"], r["status"], r["val_accuracy"]) for r in local_rows] == \
        [(r["nb_ngrams"], r["char_min_n"], r["status"], r["val_accuracy"]) for r in rows]
    assert local["best"]["trial"] == summary["best"]["trial"]
