"""A multi-label run served: POST /predict answers label sets, /health and /metadata say the run is multi-label
and give its thresholds, the OpenAPI schema has both answer shapes, POST /explain explains each chosen label, and
the page at "/" shows the chosen labels and a bar per label with its threshold marked (headless Chromium, as in
test_web_page.py, whose browser fixture and helpers this module shares)."""

import httpx
import numpy as np
import pytest

import lexiclass
from lexiclass.inference.explain import label_occlusion
from lexiclass.inference.predictor import Predictor
from lexiclass.inference.serve import create_app
from tests.conftest import ANIMALS
from tests.inference.test_serve import running_server
from tests.inference.test_web_page import browser, console_errors, submit, wait_for  # noqa: F401 (browser: fixture)

TWO = "the cat saw a dog near the house"  # cat and dog
BIRD = "a bird in the garden this morning"
NONE = "this very morning"  # no animal: the run gives it its most probable label (every training text has one)


@pytest.fixture(scope="module")
def run_dir(tiny_multilabel_run):
    # a sequence model with attention: every part of the page. float32, pinned, and 6 epochs: the tests check
    # that each label's own word explains it, which the tiny model learns in float32 (see test_web_page.py)
    return tiny_multilabel_run("positional-transformer", epochs=6, precision="float32")


@pytest.fixture(scope="module")
def predictor(run_dir):
    return lexiclass.load(run_dir)


@pytest.fixture(scope="module")
def url(predictor):
    with running_server(create_app(predictor, examples=[TWO, BIRD], explain_attention_tokens=8)) as base:
        yield base


@pytest.fixture
def client(url):
    with httpx.Client(base_url=url, timeout=60) as c:
        yield c


def thresholds_of(predictor) -> dict:
    return dict(zip(predictor.labels, predictor.thresholds["thresholds"]))


def test_predict_answers_label_sets(client, predictor):
    r = client.post("/predict", json={"texts": [TWO, BIRD, NONE]})
    assert r.status_code == 200, r.text
    answers = r.json()["predictions"]
    python = predictor.predict([TWO, BIRD, NONE])
    assert [a["labels"] for a in answers] == [p["labels"] for p in python]
    assert sorted(answers[0]["labels"]) == ["cat", "dog"] and answers[1]["labels"] == ["bird"]
    assert len(answers[2]["labels"]) == 1 and predictor.thresholds["at_least_one"]
    thresholds = thresholds_of(predictor)
    for answer, expected in zip(answers, python):
        assert set(answer) == {"labels", "probabilities"} and list(answer["probabilities"]) == ANIMALS
        np.testing.assert_allclose(list(answer["probabilities"].values()), list(expected["probabilities"].values()),
                                   atol=1e-5)
        probabilities = answer["probabilities"]
        over = {name for name, p in probabilities.items() if p >= thresholds[name]}
        assert over <= set(answer["labels"]) and (over or len(answer["labels"]) == 1)
        assert [probabilities[name] for name in answer["labels"]] == sorted(
            (probabilities[name] for name in answer["labels"]), reverse=True)  # most probable first
    assert sum(answers[0]["probabilities"].values()) > 1.5  # independent probabilities: no softmax


def test_health_metadata_and_openapi_describe_a_multi_label_run(client, predictor):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["multi_label"] is True
    meta = client.get("/metadata").json()
    assert meta["multi_label"] is True and meta["labels"] == ANIMALS
    assert meta["thresholds"] == thresholds_of(predictor)
    assert meta["threshold_rule"] == predictor.thresholds["rule"] and meta["at_least_one"] is True
    assert meta["test_metrics"]["multi_label"] is True and meta["test_metrics"]["micro_f1"] > 0.9
    schema = client.get("/openapi.json").json()
    assert schema["info"]["description"].startswith("Multi-label text classifier")
    components = schema["components"]["schemas"]

    def shapes(node):
        return {ref["$ref"].rsplit("/", 1)[1] for ref in node["anyOf"]}

    assert shapes(components["PredictResponse"]["properties"]["predictions"]["items"]) == {
        "Prediction", "LabelSetPrediction"}
    assert "label" in components["Prediction"]["required"] and "labels" in components["LabelSetPrediction"]["required"]
    assert "threshold" in components["LabelSetPrediction"]["properties"]["labels"]["description"]
    explain = schema["paths"]["/explain"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert shapes(explain) == {"ExplainResponse", "MultiLabelExplainResponse"}
    assert set(components["LabelExplanation"]["required"]) >= {"label", "probability", "threshold", "importance"}


def test_explain_explains_each_chosen_label(client, predictor):
    answer = client.post("/explain", json={"text": TWO}).json()
    predicted = client.post("/predict", json={"texts": [TWO]}).json()["predictions"][0]
    assert answer["labels"] == predicted["labels"] and sorted(answer["labels"]) == ["cat", "dog"]
    assert "label" not in answer and "importance" not in answer
    np.testing.assert_allclose(list(answer["probabilities"].values()), list(predicted["probabilities"].values()),
                               atol=1e-5)
    explanations = answer["explanations"]
    assert [e["label"] for e in explanations] == answer["labels"]
    reference = label_occlusion(predictor, TWO, answer["labels"])  # `lexiclass explain`'s numbers
    assert answer["tokens"] == reference.tokens and answer["method"] == reference.method
    thresholds = thresholds_of(predictor)
    for e, row in zip(explanations, reference.importance):
        np.testing.assert_allclose(e["importance"], row, atol=1e-4)
        assert e["probability"] == pytest.approx(answer["probabilities"][e["label"]])
        assert e["threshold"] == thresholds[e["label"]] and e["chosen"] is True
        own = e["importance"][answer["tokens"].index(e["label"])]
        assert own == max(e["importance"]) > 0.3, (e["label"], dict(zip(answer["tokens"], e["importance"])))
    assert answer["attention"]["tokens"] == answer["tokens"][:8]


def test_a_text_with_no_label_over_its_threshold(predictor):
    strict = Predictor(predictor.classifier, predictor.config, predictor.labels, predictor.info, predictor.run_dir,
                       {**predictor.thresholds, "thresholds": [0.9999] * 3, "at_least_one": False})
    with running_server(create_app(strict)) as base:
        predicted = httpx.post(f"{base}/predict", json={"texts": [NONE]}, timeout=60).json()["predictions"][0]
        answer = httpx.post(f"{base}/explain", json={"text": NONE}, timeout=60).json()
        meta = httpx.get(f"{base}/metadata", timeout=60).json()
    assert predicted["labels"] == answer["labels"] == [] and meta["at_least_one"] is False
    most = max(answer["probabilities"], key=answer["probabilities"].get)
    assert [(e["label"], e["chosen"], e["threshold"]) for e in answer["explanations"]] == [(most, False, 0.9999)]


PAGE_STATE = """
    const rect = (node) => node.getBoundingClientRect();
    return {
      title: document.getElementById('result-title').textContent,
      single: document.getElementById('single-prediction').hidden,
      chips: [...document.querySelectorAll('#chosen .chip')].map(c => c.dataset.label),
      none: document.querySelectorAll('#chosen .none').length,
      bars: [...document.querySelectorAll('#bars .bar-value')].map(v => [v.dataset.label, +v.dataset.probability,
                                                                      +v.dataset.threshold, v.dataset.chosen]),
      marks: [...document.querySelectorAll('#bars .bar-track')].map(track => {
        const mark = track.querySelector('.bar-threshold'), fill = track.querySelector('.bar-fill');
        return [track.dataset.label, (rect(mark).left + rect(mark).width / 2 - rect(track).left) / rect(track).width,
                rect(fill).width / rect(track).width, getComputedStyle(fill).backgroundColor];
      }),
      groups: [...document.querySelectorAll('#tokens .token-group')].map(g => [g.dataset.label,
        [...g.querySelectorAll('.tok')].map(t => [t.textContent, +t.dataset.importance])]),
      heading: document.getElementById('explanation-title').textContent,
      heads: document.querySelectorAll('#heads canvas').length,
    };"""


def test_page_shows_the_label_set_and_a_bar_per_label_in_a_browser(browser, url, client, predictor):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get(url + "/")
    wait_for(browser, lambda: "multi-label" in browser.find_element(By.ID, "run-info").text, "run info")
    header = browser.find_element(By.ID, "run-info").text
    assert "3 labels: bird, cat, dog" in header and "test micro-F1" in header and "classes" not in header

    assert submit(browser, TWO)["status"].startswith("Done")
    page = browser.execute_script(PAGE_STATE)
    expected = client.post("/predict", json={"texts": [TWO]}).json()["predictions"][0]
    thresholds = thresholds_of(predictor)
    assert page["title"] == "Labels" and page["single"] is True and page["chips"] == expected["labels"]
    chips = browser.find_elements(By.CSS_SELECTOR, "#chosen .chip")
    assert all(chip.is_displayed() and "%" in chip.text for chip in chips)
    assert [b[0] for b in page["bars"]] == ANIMALS  # every label, chosen or not
    for name, probability, threshold, chosen in page["bars"]:
        assert probability == pytest.approx(expected["probabilities"][name], abs=1e-6)
        assert threshold == thresholds[name] and chosen == str(name in expected["labels"]).lower()
    for name, mark, fill, color in page["marks"]:  # the threshold is drawn where it is, the bar as long as P
        assert mark == pytest.approx(thresholds[name], abs=0.02) and fill == pytest.approx(
            expected["probabilities"][name], abs=0.02)
    colors = {name: color for name, _, _, color in page["marks"]}
    assert colors["cat"] == colors["dog"] != colors["bird"]  # the chosen labels' bars stand out
    assert page["heading"] == "Which words push each label" and page["heads"] == 2
    assert [g[0] for g in page["groups"]] == expected["labels"]
    for label, tokens in page["groups"]:
        strongest = max(tokens, key=lambda t: t[1])
        assert strongest[0] == label and strongest[1] > 0.3, tokens  # each label's own word explains it
    assert console_errors(browser) == [], "the page broke a CSP rule or failed to load a file"

    # another text: one label; the last text's label set and explanations are replaced, not added to
    browser.find_elements(By.CSS_SELECTOR, "#examples button")[1].click()
    wait_for(browser, lambda: browser.execute_script(PAGE_STATE)["chips"] == ["bird"]
             and len(browser.execute_script(PAGE_STATE)["groups"]) == 1, "the second example's labels")
    page = browser.execute_script(PAGE_STATE)
    assert page["groups"][0][0] == "bird" and page["none"] == 0
