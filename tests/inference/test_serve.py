"""The HTTP API, called over real sockets: a uvicorn server runs in a background thread on a free loopback port."""

import asyncio
import contextlib
import json
import socket
import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn

import lexiclass
from lexiclass.cli import main
from lexiclass.inference.predictor import Predictor
from lexiclass.inference.serve import create_app
from tests.conftest import probability_atol

TEXTS = ["the movie great excellent wonderful story", "awful boring terrible waste of time", "film",
         "plot " * 30 + "good best loved"]
LIMITS = dict(max_texts=4, max_chars=200, max_body_bytes=2000)


@contextlib.contextmanager
def running_server(app):
    """Serve ``app`` with uvicorn on 127.0.0.1 and a free port; yield its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def run_dir(tiny_run):
    return tiny_run("positional-transformer")


@pytest.fixture(scope="module")
def predictor(run_dir):
    return lexiclass.load(run_dir)


@pytest.fixture(scope="module")
def url(predictor):
    with running_server(create_app(predictor, **LIMITS)) as base:
        yield base


@pytest.fixture
def client(url):
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


def assert_healthy(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def assert_same_predictions(a, b, atol: float = 1e-6):
    """Same labels and probabilities; ``atol``: `probability_atol` when batches differ (bfloat16 rounds per shape)."""
    assert [p["label"] for p in a] == [p["label"] for p in b]
    for x, y in zip(a, b):
        assert list(x["probabilities"]) == list(y["probabilities"])
        np.testing.assert_allclose(list(x["probabilities"].values()), list(y["probabilities"].values()), atol=atol)


def test_http_python_and_cli_agree(client, predictor, run_dir, capsys):
    r = client.post("/predict", json={"texts": TEXTS})
    assert r.status_code == 200, r.text
    http = r.json()["predictions"]
    python = predictor.predict(TEXTS)
    assert_same_predictions(http, python, probability_atol(predictor))
    assert [p["label"] for p in python][:2] == ["pos", "neg"]

    capsys.readouterr()
    assert main(["predict", str(run_dir), *TEXTS]) == 0
    cli = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert_same_predictions(cli, python, probability_atol(predictor))


def test_health_metadata_and_docs(client, predictor):
    assert_healthy(client)
    meta = client.get("/metadata").json()
    assert meta["model"] == "positional-transformer"
    assert meta["labels"] == ["neg", "pos"]
    assert meta["multi_label"] is False and meta["thresholds"] is None  # tests/inference/test_multilabel_serve.py
    assert client.get("/health").json()["multi_label"] is False
    assert meta["config"]["embed_dim"] == predictor.config.embed_dim
    assert set(meta["test_metrics"]) >= {"accuracy", "confusion_matrix"}
    assert meta["run"]["status"] == "complete"
    assert meta["limits"]["max_texts"] == 4
    schema = client.get("/openapi.json").json()
    assert "/predict" in schema["paths"] and "requestBody" in schema["paths"]["/predict"]["post"]
    assert client.get("/docs").status_code == 200


CHUNKED = (b"x" * 500 for _ in range(10))  # a generator body is sent chunked, without Content-Length

BAD_INPUTS = [
    # (id, request kwargs, status, words the message must contain)
    ("malformed-json", dict(content=b'{"texts": ["a"'), 400, ["malformed JSON", "line 1"]),
    ("not-utf8", dict(content=b'{"texts": ["\xff\xfe"]}'), 400, ["UTF-8"]),
    ("not-an-object", dict(json=["a", "b"]), 422, ["JSON object", "array"]),
    ("missing-texts", dict(json={"text": ["a"]}), 422, ['missing field "texts"']),
    ("unknown-field", dict(json={"texts": ["a"], "top_k": 3}), 422, ["unknown field", "top_k"]),
    ("texts-not-a-list", dict(json={"texts": "a review"}), 422, ["list of strings", "string"]),
    ("empty-list", dict(json={"texts": []}), 422, ["empty"]),
    ("non-string-item", dict(json={"texts": ["a", "b", 3]}), 422, ['"texts"[2]', "number"]),
    ("null-item", dict(json={"texts": [None]}), 422, ['"texts"[0]', "null"]),
    ("too-many-texts", dict(json={"texts": ["a"] * 5}), 413, ["5 items", "max_texts = 4"]),
    ("text-too-long", dict(json={"texts": ["ok", "a" * 201]}), 413, ['"texts"[1]', "201 characters", "max_chars = 200"]),
    ("body-too-large", dict(content=b" " * 3000), 413, ["3000 bytes", "max_body_bytes = 2000"]),
    ("chunked-body-too-large", dict(content=CHUNKED), 413, ["max_body_bytes = 2000"]),
]


@pytest.mark.parametrize("kwargs,status,words", [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
def test_bad_inputs_get_clear_errors(client, kwargs, status, words):
    r = client.post("/predict", headers={"content-type": "application/json"}, **kwargs)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    for word in words:
        assert word in error
    assert "Traceback" not in r.text
    assert_healthy(client)


def test_wrong_method_and_path_answer_json(client):
    r = client.get("/predict")
    assert r.status_code == 405 and r.json() == {"error": "method GET is not allowed on /predict; routes: "
                                                          "POST /predict, GET /health, GET /metadata, GET /docs, "
                                                          "GET /openapi.json"}
    r = client.get("/nope")
    assert r.status_code == 404 and r.json()["error"].startswith("no route GET /nope; routes: POST /predict")
    assert_healthy(client)


def test_client_that_hangs_up_does_not_break_the_server(url, client):
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"texts": ["a fine film"]}).encode()
    head = f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n".encode()
    # 1) leave half-way through the body; 2) send a whole request and leave before the answer
    for payload in (head + b"Content-Length: 1000\r\n\r\n" + body[:5],
                    head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body):
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(payload)
    time.sleep(0.3)
    assert_healthy(client)
    assert client.post("/predict", json={"texts": ["good"]}).status_code == 200


class CountingPredictor(Predictor):
    """Records the size of every model call (to see micro-batching happen)."""

    def __init__(self, base, fail=False):
        super().__init__(base.classifier, base.config, base.label_names, base.info, base.run_dir)
        self.calls, self.fail = [], fail

    def predict_proba(self, texts):
        if self.fail:
            raise RuntimeError("secret internal detail /opt/model")
        self.calls.append(len(texts))
        return super().predict_proba(texts)


def test_concurrent_requests_are_micro_batched(predictor):
    counting = CountingPredictor(predictor)
    texts = [f"{TEXTS[i % 4]} {i}" for i in range(24)]

    async def fire(base):
        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            return await asyncio.gather(*(c.post("/predict", json={"texts": [t]}) for t in texts))

    with running_server(create_app(counting, max_batch=8, batch_wait_ms=50)) as base:
        counting.calls.clear()  # forget the warm-up call
        responses = asyncio.run(fire(base))
    assert all(r.status_code == 200 for r in responses)
    got = [r.json()["predictions"][0] for r in responses]
    assert_same_predictions(got, predictor.predict(texts), probability_atol(predictor))  # each request got its own rows back
    assert sum(counting.calls) == len(texts)
    assert max(counting.calls) > 1, counting.calls  # requests shared model calls...
    assert max(counting.calls) <= 8, counting.calls  # ...never more than max_batch texts at once


def test_model_error_is_a_500_without_traceback(predictor):
    with running_server(create_app(CountingPredictor(predictor, fail=True))) as base, \
            httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/predict", json={"texts": ["a film"]})
        assert r.status_code == 500
        assert "prediction failed" in r.json()["error"]
        assert "secret" not in r.text and "Traceback" not in r.text
        assert_healthy(c)
