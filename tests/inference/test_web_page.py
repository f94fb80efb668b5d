"""The page at "/" and the offline /docs, in a real headless Chromium, plus plain HTTP checks of POST /explain,
the security headers and that no server path reaches the page.

The browser tests need Debian's ``chromium`` and ``chromium-driver`` (or any Chrome/Chromium with a
matching chromedriver on PATH; CHROME_BIN / CHROMEDRIVER override) and skip, saying so, when none is found.
Chromium runs headless with a fresh profile and its background networking off: the pages must work
with no internet at all, so nothing may come from a CDN.
"""

import dataclasses
import os
import shutil
import tempfile
import threading
import time

import httpx
import numpy as np
import pytest

import lexiclass
from lexiclass.inference import serve
from lexiclass.inference.explain import model_tokens, occlusion
from lexiclass.inference.predictor import Predictor
from lexiclass.inference.serve import STATIC_FILES, create_app
from tests.conftest import attention_atol, probability_atol
from tests.inference.test_serve import running_server

LIMITS = dict(max_chars=2000, max_body_bytes=20_000, explain_max_words=30, explain_attention_tokens=8)
POSITIVE = "The story was excellent, and the actors too."  # one cue word each: hiding it flips the class
NEGATIVE = "the plot was terrible and the actors too"
HOSTILE_EXAMPLE = '<img src=x onerror="document.title=\'pwned\'"> a good film'


@pytest.fixture(scope="module")
def run_dir(tiny_run):
    # float32, pinned: these tests check which words carry the class, which the tiny model learns in 2 epochs
    # of float32 but not always of bfloat16; the page on bfloat16 runs is a cell of tests/test_support_matrix.py
    return tiny_run("positional-transformer", precision="float32")


@pytest.fixture(scope="module")
def predictor(run_dir):
    return lexiclass.load(run_dir)


@pytest.fixture(scope="module")
def url(predictor):
    examples = ["a good great film", "bad awful boring", HOSTILE_EXAMPLE]
    with running_server(create_app(predictor, examples=examples, **LIMITS)) as base:
        yield base


@pytest.fixture
def client(url):
    with httpx.Client(base_url=url, timeout=60) as c:
        yield c


def explain(client, text, **kwargs):
    return client.post("/explain", json={"text": text}, **kwargs)


# --- POST /explain over HTTP ------------------------------------------------------------

def test_explain_agrees_with_predict_and_explains_tokens(client, predictor):
    for text, label, cue in ((POSITIVE, "pos", "excellent"), (NEGATIVE, "neg", "terrible")):
        r = explain(client, text)
        assert r.status_code == 200, r.text
        answer = r.json()
        predicted = client.post("/predict", json={"texts": [text]}).json()["predictions"][0]
        assert answer["label"] == predicted["label"] == label
        assert list(answer["probabilities"]) == ["neg", "pos"]
        np.testing.assert_allclose(list(answer["probabilities"].values()), list(predicted["probabilities"].values()),
                                   atol=probability_atol(predictor))  # bfloat16: its own batch, its own rounding
        assert answer["tokens"] == model_tokens(predictor, text)[1]
        reference = occlusion(predictor, text, target=label)  # `lexiclass explain`'s numbers
        assert answer["tokens"] == reference.tokens and answer["method"] == reference.method
        np.testing.assert_allclose(answer["importance"], reference.importance, atol=2 * probability_atol(predictor))
        importance = answer["importance"]
        assert importance[answer["tokens"].index(cue)] == max(importance) > 0.1, "the cue word carries the class"
        assert answer["words"] == answer["words_explained"] == len(text.split())
        attention = answer["attention"]
        weights = np.array(attention["weights"])  # (heads, k, k)
        k = min(len(answer["tokens"]), LIMITS["explain_attention_tokens"])
        assert weights.shape == (predictor.config.num_heads, k, k)
        assert attention["tokens"] == answer["tokens"][:k] and attention["tokens_total"] == len(answer["tokens"])
        bound = 1 + max(1e-3, attention_atol(predictor))  # the answer rounds weights to 4 decimals
        assert (weights >= 0).all() and (weights.sum(-1) <= bound).all()
        assert attention["max"] == pytest.approx(weights.max(), abs=1e-4)


def test_explain_bounds_long_texts(client):
    text = " ".join(["great", "plot", "boring", "actor"] * 40)  # 160 words; explain_max_words = 30
    answer = explain(client, text).json()
    assert answer["words"] == 160 and answer["words_explained"] == 30
    assert len(answer["tokens"]) == len(answer["importance"]) == 30
    assert len(answer["attention"]["tokens"]) == 8 and answer["attention"]["tokens_total"] == 30


def test_explain_without_attention_for_a_bag_of_words_run(tiny_run):
    with running_server(create_app(tiny_run("bow"))) as base:
        r = httpx.post(f"{base}/explain", json={"text": "A great, wonderful film"}, timeout=60)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["label"] == "pos" and answer["attention"] is None and answer["attention_skipped"] is None
    assert answer["tokens"] == ["A", "great,", "wonderful", "film"] and answer["method"] == "removing each word"


BAD_EXPLAIN = [
    # (id, request kwargs, status, words the message must contain)
    ("malformed-json", dict(content=b'{"text": "a'), 400, ["malformed JSON"]),
    ("not-utf8", dict(content=b'{"text": "\xff"}'), 400, ["UTF-8"]),
    ("not-an-object", dict(json=["a"]), 422, ["JSON object", '{"text": "..."}', "array"]),
    ("missing-text", dict(json={"review": "a"}), 422, ['missing field "text"']),
    ("texts-instead", dict(json={"texts": ["a"]}), 422, ['missing field "text"', '"texts" is for /predict']),
    ("unknown-field", dict(json={"text": "a", "target": "pos"}), 422, ["unknown field", "target"]),
    ("not-a-string", dict(json={"text": ["a"]}), 422, ['"text" must be a string', "array"]),
    ("null", dict(json={"text": None}), 422, ['"text" must be a string', "null"]),
    ("empty", dict(json={"text": "  \n"}), 422, ['"text" is empty or only whitespace']),
    ("surrogate", dict(content=b'{"text": "good \\ud800"}'), 422, ['"text" contains a lone surrogate']),
    ("no-tokens", dict(json={"text": "!!! ..."}), 422, ['"text" cannot be explained', "no tokens"]),
    ("too-long", dict(json={"text": "a" * 2001}), 413, ['"text" has 2001 characters', "max_chars = 2000"]),
    ("body-too-large", dict(content=b" " * 30_000), 413, ["max_body_bytes = 20000"]),
    ("plain-text", dict(content=b"good film", headers={"content-type": "text/plain"}), 415, ["text/plain"]),
]


@pytest.mark.parametrize("kwargs,status,words", [b[1:] for b in BAD_EXPLAIN], ids=[b[0] for b in BAD_EXPLAIN])
def test_explain_refuses_bad_input_with_one_line_json(client, kwargs, status, words):
    kwargs.setdefault("headers", {"content-type": "application/json"})
    r = client.post("/explain", **kwargs)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert "\n" not in error and "Traceback" not in r.text
    for word in words:
        assert word in error
    assert client.get("/health").json()["status"] == "ok"


def test_predictions_are_served_while_an_explanation_runs(client, url):
    long_text = " ".join(["the", "story", "was", "excellent", "plot", "actors"] * 40)  # the full explain_max_words
    results = {}

    def post_explain():
        results["explain"] = httpx.post(f"{url}/explain", json={"text": long_text}, timeout=60)

    thread = threading.Thread(target=post_explain)
    thread.start()
    answers = [client.post("/predict", json={"texts": [POSITIVE, NEGATIVE]}) for _ in range(5)]
    thread.join(60)
    assert all(r.status_code == 200 for r in answers)
    assert [p["label"] for p in answers[-1].json()["predictions"]] == ["pos", "neg"]
    assert results["explain"].status_code == 200 and results["explain"].json()["words_explained"] == 30


def test_explain_needs_a_run(client):
    class Bare:  # a predictor without a run config (like the fakes of the queue tests)
        label_names, config, info, run_dir = ["neg", "pos"], None, {}, None

        def predict_proba(self, texts):
            return np.full((len(texts), 2), 0.5)

    with running_server(create_app(Bare())) as base:
        r = httpx.post(f"{base}/explain", json={"text": "fine"}, timeout=30)
    assert r.status_code == 501 and "cannot be explained" in r.json()["error"]


def test_explanations_run_one_at_a_time_queue_bounded_and_time_limited(predictor, monkeypatch):
    gate, running, most = threading.Event(), [], []

    def slow_explain(predictor, text, target, limits):
        running.append(text)
        most.append(len(running))
        try:
            assert gate.wait(timeout=60)
            return {"tokens": [], "importance": [], "method": "test", "words": 1, "words_explained": 1,
                    "attention": None}
        finally:
            running.remove(text)

    monkeypatch.setattr(serve, "explain_text", slow_explain)
    app = create_app(predictor, max_explain_queue=1, request_timeout_s=5)
    with running_server(app) as base:
        results = {}

        def post(key, text):
            results[key] = httpx.post(f"{base}/explain", json={"text": text}, timeout=60)

        first = threading.Thread(target=post, args=("first", "one"))
        first.start()
        deadline = time.monotonic() + 30
        while not running:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        second = threading.Thread(target=post, args=("second", "two"))  # waits for the first
        second.start()
        while app.state.explain_gate.admitted < 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        busy = httpx.post(f"{base}/explain", json={"text": "three"}, timeout=30)  # one running, one waiting: full
        assert busy.status_code == 503 and "max_explain_queue = 1" in busy.json()["error"]
        assert 1 <= int(busy.headers["retry-after"]) <= 60
        first.join(30)
        second.join(30)
        assert results["first"].status_code == 504 and "request_timeout_s = 5 s" in results["first"].json()["error"]
        assert results["second"].status_code == 504
        gate.set()  # the held explanation finishes in its thread; the gate opens again
        r = httpx.post(f"{base}/explain", json={"text": "four"}, timeout=30)
        assert r.status_code == 200, r.text
        assert httpx.post(f"{base}/predict", json={"texts": ["fine"]}, timeout=30).status_code == 200
    assert max(most) == 1, "two explanations ran at once"


# --- headers, assets, paths ---------------------------------------------------------------

def test_pages_send_csp_and_nosniff_and_load_only_own_files(client):
    for path in ("/", "/docs"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert "unsafe" not in csp and "http" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "http://" not in r.text and "https://" not in r.text and "<script>" not in r.text
    for name, media in STATIC_FILES.items():
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and r.headers["content-type"] == media and len(r.content) > 100
        assert r.headers["x-content-type-options"] == "nosniff"
    for path in ("/static/../serve.py", "/static/index.html", "/redoc"):
        r = client.get(path)
        assert r.status_code == 404 and "error" in r.json()
    assert client.post("/predict", json={"texts": ["a"]}).headers["x-content-type-options"] == "nosniff"
    assert client.get("/nope").headers["x-content-type-options"] == "nosniff"


def test_no_server_path_reaches_the_page(client, run_dir):
    secret = str(run_dir)
    answers = [client.get(path).text for path in ("/", "/docs", "/metadata", "/openapi.json", "/health",
                                                  *(f"/static/{name}" for name in STATIC_FILES))]
    answers.append(explain(client, POSITIVE).text)
    answers.append(explain(client, "!!!").text)
    for text in answers:
        assert secret not in text and os.path.dirname(secret) not in text


def test_metadata_keeps_only_file_names_of_data_paths(predictor, tmp_path):
    config = dataclasses.replace(predictor.config, dataset="/home/alice/private/reviews.csv",
                                 test_dataset="data/held-out/test.jsonl",
                                 imdb_archive="/srv/data/aclImdb_v1.tar.gz", glove="C:\\vectors\\glove.6B.50d.txt")
    info = {**predictor.info, "data_source": "imdb:/srv/data/aclImdb", "note": f"trained in {tmp_path}/run"}
    leaky = Predictor(predictor.classifier, config, predictor.label_names, info, tmp_path / "run")
    with running_server(create_app(leaky)) as base:
        meta = httpx.get(f"{base}/metadata", timeout=30).json()
    assert meta["config"]["dataset"] == "reviews.csv"
    assert meta["config"]["test_dataset"] == "test.jsonl"
    assert meta["config"]["imdb_archive"] == "aclImdb_v1.tar.gz"
    assert meta["config"]["glove"] == "C:glove.6B.50d.txt"
    assert meta["run"]["data_source"] == "imdb:aclImdb"
    assert meta["run"]["note"] == "trained in run"
    text = str(meta)
    for secret in ("alice", "/srv", "held-out", str(tmp_path), "vectors"):
        assert secret not in text
    assert meta["config"]["model"] == predictor.config.model and meta["run"]["test_accuracy"] == info["test_accuracy"]


def test_examples_and_explain_limits_are_checked(predictor):
    from lexiclass.errors import LexiclassError

    for bad in ("one string", ["ok", ""], ["ok", 3], ["x"] * 21):
        with pytest.raises(LexiclassError, match="examples"):
            create_app(predictor, examples=bad)
    for name, bad in (("explain_max_words", 0), ("explain_attention_tokens", 1.5), ("max_explain_queue", -1)):
        with pytest.raises(LexiclassError, match=f"{name} must be an integer"):
            create_app(predictor, **{name: bad})


# --- in a real browser ----------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1100,1000"]


def find_browser() -> tuple[str, str] | None:
    """(chromium binary, chromedriver) or None."""
    binary = os.environ.get("CHROME_BIN") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome", "chrome")) if p), None)
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver") or next(
        (p for p in ("/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver") if os.path.exists(p)), None)
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install '.[test]')")
    from selenium.webdriver.chrome.service import Service

    found = find_browser()
    if found is None:
        pytest.skip("no Chromium + chromedriver found (apt-get install -y chromium chromium-driver, or set "
                    "CHROME_BIN and CHROMEDRIVER)")
    binary, driver = found
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile = tempfile.mkdtemp(prefix="lexiclass-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(driver))  # explicit driver: no download attempt
    chrome.set_page_load_timeout(60)
    try:
        yield chrome
    finally:
        chrome.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(chrome, condition, what: str, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(chrome, timeout, poll_frequency=0.05).until(lambda d: condition(), message=what)


def console_errors(chrome) -> list[str]:
    return [e["message"] for e in chrome.get_log("browser") if e["level"] == "SEVERE"]


def shown(chrome) -> dict:
    """What the page shows: label, {class: probability}, [(token, importance, background)], status."""
    return chrome.execute_script("""
        const bars = {};
        for (const v of document.querySelectorAll('#bars .bar-value')) bars[v.dataset.label] = +v.dataset.probability;
        return {label: document.getElementById('label').textContent, bars: bars,
                status: document.getElementById('status').textContent,
                tokens: [...document.querySelectorAll('#tokens .tok')].map(
                    t => [t.textContent, +t.dataset.importance, getComputedStyle(t).backgroundColor]),
                heads: document.querySelectorAll('#heads canvas').length};""")


def submit(chrome, text: str, keys=None):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = chrome.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    before = chrome.find_element(By.ID, "status").text
    chrome.execute_script("document.getElementById('status').textContent = ''")
    if keys == "ctrl+enter":
        box.send_keys(Keys.CONTROL, Keys.ENTER)
    else:
        chrome.find_element(By.ID, "submit").click()
    wait_for(chrome, lambda: shown(chrome)["status"].startswith(("Done", "Error")), f"an answer (was {before!r})")
    return shown(chrome)


def test_page_classifies_and_shades_tokens_in_a_browser(browser, url, client):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(url + "/")
    wait_for(browser, lambda: "positional-transformer" in browser.find_element(By.ID, "run-info").text, "run info")
    header = browser.find_element(By.ID, "run-info").text
    assert "neg, pos" in header and "test accuracy" in header and "ONNX" not in header
    assert not browser.find_element(By.ID, "result").is_displayed()

    positive = submit(browser, POSITIVE, keys="ctrl+enter")
    assert positive["status"].startswith("Done"), positive["status"]
    expected = client.post("/predict", json={"texts": [POSITIVE]}).json()["predictions"][0]
    assert positive["label"] == expected["label"] == "pos"
    assert positive["bars"] == pytest.approx(expected["probabilities"], abs=1e-6)
    assert browser.find_element(By.ID, "confidence").text == f"{100 * expected['probabilities']['pos']:.1f}%"
    words = [t[0] for t in positive["tokens"]]
    assert words == explain(client, POSITIVE).json()["tokens"]
    great = positive["tokens"][words.index("excellent")]
    assert great[1] > 0 and great[2].startswith("rgba(34, 160, 70"), great  # green: supports "pos"
    assert positive["heads"] == 2 and not browser.find_element(By.ID, "attention-note").text.startswith("Not shown")

    negative = submit(browser, NEGATIVE)
    assert negative["label"] == "neg" and negative["bars"]["neg"] > 0.5 > positive["bars"]["neg"]
    words = [t[0] for t in negative["tokens"]]
    assert words != [t[0] for t in positive["tokens"]] and "terrible" in words
    terrible = negative["tokens"][words.index("terrible")]
    assert terrible[1] > 0 and terrible[2].startswith("rgba(34, 160, 70"), terrible  # supports "neg" now
    assert "neg" in browser.find_element(By.ID, "legend-label").text

    canvas = browser.find_elements(By.CSS_SELECTOR, "#heads canvas")[1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
    corner = (canvas.size["width"] // 2 - 4, canvas.size["height"] // 2 - 4)  # from the centre: the last cell
    ActionChains(browser).move_to_element_with_offset(canvas, *corner).perform()
    readout = browser.find_element(By.ID, "attention-readout").text
    assert readout.startswith("head 2: ") and "\u2192" in readout, readout

    assert console_errors(browser) == [], "the page broke a CSP rule or failed to load a file"

    # No tokens to explain: the prediction is shown, the explanation part says why there is none
    unexplained = submit(browser, "!!!")
    expected = client.post("/predict", json={"texts": ["!!!"]}).json()["predictions"][0]
    assert unexplained["status"].startswith("Done") and "no explanation" in unexplained["status"]
    assert unexplained["label"] == expected["label"]
    assert unexplained["bars"] == pytest.approx(expected["probabilities"], abs=1e-6)
    note = browser.find_element(By.ID, "explain-error")
    assert note.is_displayed() and note.text.startswith("No explanation: ") and "cannot be explained" in note.text
    assert not browser.find_element(By.ID, "explanation").is_displayed()  # no stale tokens of the last text
    assert all("/explain" in e and "422" in e for e in console_errors(browser))


def test_page_of_an_export_says_why_it_shows_no_attention(browser, run_dir, tmp_path):
    """An ONNX export of a Transformer run explains by occlusion but has no attention layers: the page says so."""
    from selenium.webdriver.common.by import By

    from lexiclass.inference.export import export_run

    export_run(run_dir, tmp_path / "onnx", "onnx")
    with running_server(create_app(tmp_path / "onnx")) as base:
        browser.get(base + "/")
        wait_for(browser, lambda: "positional-transformer" in browser.find_element(By.ID, "run-info").text, "run info")
        assert "positional-transformer \u00b7 ONNX export \u00b7 2 classes" in browser.find_element(By.ID, "run-info").text
        answer = submit(browser, POSITIVE)
    assert answer["status"].startswith("Done") and answer["label"] == "pos" and answer["tokens"], answer
    assert answer["heads"] == 0 and browser.find_element(By.ID, "attention-section").is_displayed()
    assert not browser.find_element(By.ID, "attention-maps").is_displayed()  # no empty scale or readout
    note = browser.find_element(By.ID, "attention-note").text
    assert note.startswith("Not shown: an ONNX export keeps no attention layers") and str(run_dir) not in note, note
    assert console_errors(browser) == []


def test_page_renders_hostile_text_as_text(browser, url):
    from selenium.webdriver.common.by import By

    browser.get(url + "/")
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#examples button")) == 3, "examples")
    buttons = browser.find_elements(By.CSS_SELECTOR, "#examples button")
    assert buttons[2].get_attribute("title") == HOSTILE_EXAMPLE
    buttons[2].click()  # fills the box and classifies
    wait_for(browser, lambda: shown(browser)["status"].startswith("Done"), "the example's answer")
    assert browser.find_element(By.ID, "text").get_attribute("value") == HOSTILE_EXAMPLE
    assert browser.find_elements(By.CSS_SELECTOR, "#examples img, #tokens img, #result img") == []
    assert browser.title == "lexiclass"
    buttons[1].click()
    wait_for(browser, lambda: shown(browser)["label"] == "neg" and shown(browser)["status"].startswith("Done"),
             "the second example's answer")
    assert browser.find_element(By.ID, "text").get_attribute("value") == "bad awful boring"


def test_docs_page_renders_offline_from_package_assets(browser, url):
    from selenium.webdriver.common.by import By

    browser.get(url + "/docs")
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, ".opblock"), "Swagger UI operations")
    operations = {(op.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text,
                   op.find_element(By.CSS_SELECTOR, ".opblock-summary-path").text)
                  for op in browser.find_elements(By.CSS_SELECTOR, ".opblock")}
    assert {("POST", "/predict"), ("POST", "/explain"), ("GET", "/health"), ("GET", "/metadata")} <= operations
    # "Try it out" on POST /predict: the example body goes to the server under the page's CSP
    browser.find_element(By.CSS_SELECTOR, "#operations-default-predict_predict_post .opblock-summary").click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, ".try-out__btn"), "the Try it out button")
    browser.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    browser.find_element(By.CSS_SELECTOR, ".execute").click()
    wait_for(browser, lambda: browser.find_elements(By.CSS_SELECTOR, ".live-responses-table .response-col_status"),
             "the live response")
    live = browser.find_element(By.CSS_SELECTOR, ".live-responses-table").text
    assert "200" in live and '"predictions"' in live and '"label"' in live, live
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(name.startswith(url) for name in loaded), loaded
    assert console_errors(browser) == []


@pytest.mark.skipif(not os.environ.get("LEXICLASS_SCREENSHOT"), reason="set LEXICLASS_SCREENSHOT=out.png "
                    "(and LEXICLASS_SCREENSHOT_RUN=run_dir) to save a picture of the page for the docs")
def test_screenshot_of_the_page(browser, run_dir):
    """The picture in docs/img/web-page.png: LEXICLASS_SCREENSHOT_TEXT on LEXICLASS_SCREENSHOT_RUN's page."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    run = os.environ.get("LEXICLASS_SCREENSHOT_RUN") or run_dir
    text = os.environ.get("LEXICLASS_SCREENSHOT_TEXT", "The acting is superb and the story is moving, "
                          "but the ending is a bit dull.")
    with running_server(create_app(run)) as base:
        browser.get(base + "/")
        submit(browser, text)
        browser.execute_script("document.getElementById('status').textContent = ''")
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1100, height + 10)
        canvases = browser.find_elements(By.CSS_SELECTOR, "#heads canvas")
        if canvases:  # show the hover read-out on a cell of head 1
            ActionChains(browser).move_to_element_with_offset(canvases[0], canvases[0].size["width"] // 4,
                                                              canvases[0].size["height"] // 4).perform()
        png = browser.execute_cdp_cmd("Page.captureScreenshot", {"captureBeyondViewport": True, "format": "png"})
    import base64

    with open(os.environ["LEXICLASS_SCREENSHOT"], "wb") as f:
        f.write(base64.b64decode(png["data"]))
