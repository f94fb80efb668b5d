"""The server under concurrent clients: poisoned requests fail alone, the queue is bounded, time limits hold,
and small requests are not starved by large ones.

Queue, timeout and fairness tests use `FakePredictor`, whose model calls can be held until the
test releases them, so every ordering asserted here is deterministic (no wall-clock assertions).
"""

import asyncio
import json
import socket
import threading
import time

import httpx
import numpy as np
import pytest

import lexiclass
from lexiclass.errors import LexiclassError
from lexiclass.inference.serve import Limits, create_app, fair_shares
from tests.conftest import probability_atol
from tests.inference.test_serve import assert_same_predictions, running_server


class FakePredictor:
    """Stands in for `Predictor`: records each call's texts; `hold()` makes calls wait for `release()`."""

    label_names = ["neg", "pos"]
    config = None
    info = {"status": "complete"}
    run_dir = None

    def __init__(self, sleep_s: float = 0.0):
        self.sleep_s = sleep_s
        self.calls: list[list[str]] = []
        self.entered = threading.Event()  # a call has started
        self.gate = threading.Event()
        self.gate.set()

    def hold(self):
        self.entered.clear()
        self.gate.clear()

    def release(self):
        self.gate.set()

    def warm_up(self):
        pass

    def predict_proba(self, texts):
        self.calls.append(list(texts))
        self.entered.set()
        assert self.gate.wait(timeout=60), "the test never released the model call"
        time.sleep(self.sleep_s)
        if any("POISON" in t for t in texts):
            raise ValueError("this batch holds a poisoned text")
        p = np.array([(len(t) % 10) / 10 for t in texts])  # deterministic per text: (n,)
        return np.stack([1 - p, p], axis=1)  # (n, 2)


def expected(text: str) -> float:
    return (len(text) % 10) / 10


def wait_until(condition, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def queued_texts(client) -> int:
    return client.get("/health").json()["queued_texts"]


def post_in_thread(base: str, texts: list[str], results: dict, key):
    """POST in a background thread; results[key] = (status, json, completion time)."""
    def run():
        with httpx.Client(base_url=base, timeout=60) as c:
            r = c.post("/predict", json={"texts": texts})
            results[key] = (r.status_code, r.json(), time.monotonic(), r.headers)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def fake():
    return FakePredictor()


def test_the_server_answers_while_it_loads_for_many_texts(fake, caplog):
    """An n-gram run's compiled loops (~0.6 s) load in the background (`Predictor.warm_up`): /health and
    predictions do not wait for them, and a failed load leaves the server serving."""
    loading, finish = threading.Event(), threading.Event()

    def warm_up():
        loading.set()
        assert finish.wait(60)
        raise RuntimeError("could not load")

    fake.warm_up = warm_up
    with running_server(create_app(fake)) as base, httpx.Client(base_url=base, timeout=60) as client:
        assert loading.wait(30)
        assert client.get("/health").status_code == 200
        answer = client.post("/predict", json={"texts": ["abc"]})
        assert answer.status_code == 200 and answer.json()["predictions"][0]["probabilities"]["pos"] == expected("abc")
        finish.set()
        wait_until(lambda: "loading for many texts at once failed; serving anyway" in caplog.text, "the failed load")
        assert client.get("/health").status_code == 200


def test_fair_shares_split_capacity_evenly():
    assert fair_shares([200, 1, 5], 8) == [4, 1, 3]
    assert fair_shares([36, 1], 4) == [3, 1]
    assert fair_shares([3, 2], 32) == [3, 2]
    assert fair_shares([5, 5, 5], 2) == [1, 1, 0]  # earlier requests first; the queue rotates between batches
    assert fair_shares([0, 7], 4) == [0, 4]
    for pending in ([100, 100], [1, 50, 50, 50], [31, 2, 2]):
        take = fair_shares(pending, 32)
        assert sum(take) == min(32, sum(pending)) and all(0 <= t <= p for t, p in zip(take, pending))


def test_limits_are_validated_and_listed_in_metadata(fake):
    with pytest.raises(LexiclassError, match="max_queue_texts must be an integer >= 1, got 0"):
        create_app(fake, max_queue_texts=0)
    with pytest.raises(LexiclassError, match="request_timeout_s must be > 0"):
        create_app(fake, request_timeout_s=0)
    with running_server(create_app(fake, max_queue_texts=7, request_timeout_s=2.5)) as base:
        limits = httpx.get(f"{base}/metadata").json()["limits"]
    assert limits == {**Limits().__dict__, "max_queue_texts": 7, "request_timeout_s": 2.5}


def test_poisoned_requests_fail_alone_with_the_real_model(tiny_run):
    """A lone surrogate and a 5000-digit number next to normal requests: only they fail, with a 4xx."""
    predictor = lexiclass.load(tiny_run("positional-transformer"))
    normal = [f"good film number {i}" if i % 2 else f"awful boring plot {i}" for i in range(8)]
    poisoned = {
        "surrogate": (b'{"texts": ["fine", "good film \\ud800"]}', 422,
                      '"texts"[1] contains a lone surrogate (U+D800) at character 10'),
        "huge-int": (b'{"texts": [' + b"9" * 5000 + b"]}", 422, '"texts"[0] must be a string, got a JSON number'),
    }

    async def fire(base):
        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            ok = [c.post("/predict", json={"texts": [t]}) for t in normal]
            bad = [c.post("/predict", content=body, headers={"content-type": "application/json"})
                   for body, _, _ in poisoned.values()]
            return await asyncio.gather(*ok, *bad)

    with running_server(create_app(predictor, batch_wait_ms=100)) as base:
        responses = asyncio.run(fire(base))
        assert httpx.get(f"{base}/health").status_code == 200
    ok, bad = responses[:len(normal)], responses[len(normal):]
    assert [r.status_code for r in ok] == [200] * len(normal)
    assert_same_predictions([r.json()["predictions"][0] for r in ok], predictor.predict(normal),
                            probability_atol(predictor))
    for r, (_, status, message) in zip(bad, poisoned.values()):
        assert r.status_code == status and message in r.json()["error"], r.text


def test_failed_model_call_is_retried_request_by_request(fake):
    """Defence in depth: if a shared call still fails, the innocent requests in it get their answers."""
    with running_server(create_app(fake, max_batch=16, batch_wait_ms=0)) as base, \
            httpx.Client(base_url=base, timeout=60) as client:
        fake.hold()
        results = {}
        threads = [post_in_thread(base, ["blocker"], results, "blocker")]
        fake.entered.wait(30)  # the blocker's call is running: the next requests queue up together
        texts = ["one", "two words", "POISON here", "three", "four and more"]
        threads += [post_in_thread(base, [t], results, t) for t in texts]
        wait_until(lambda: queued_texts(client) == len(texts), "all requests to be queued")
        fake.release()
        for thread in threads:
            thread.join(60)
    assert sorted(fake.calls[-6]) == sorted(texts)  # one shared call failed...
    assert sorted(map(tuple, fake.calls[-5:])) == sorted((t,) for t in texts)  # ...then each request alone
    for t in texts:
        status, body, _, _ = results[t]
        if "POISON" in t:
            assert status == 500 and body == {"error": "prediction failed (ValueError); see the server log"}
        else:
            assert status == 200 and body["predictions"][0]["probabilities"]["pos"] == pytest.approx(expected(t))


def test_full_queue_answers_503_with_retry_after(fake):
    with running_server(create_app(fake, max_batch=2, max_queue_texts=4, batch_wait_ms=0)) as base, \
            httpx.Client(base_url=base, timeout=60) as client:
        fake.hold()
        results = {}
        threads = [post_in_thread(base, ["a1", "a2"], results, "running")]
        fake.entered.wait(30)  # two texts in the model
        threads.append(post_in_thread(base, ["b1", "b2", "b3", "b4"], results, "queued"))
        wait_until(lambda: queued_texts(client) == 4, "the queue to fill")
        refused = client.post("/predict", json={"texts": ["one more"]})
        fake.release()
        for thread in threads:
            thread.join(60)
        after = client.post("/predict", json={"texts": ["one more"]})
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"].startswith("server busy: 4 texts queued, 1 more would exceed max_queue_texts = 4")
    assert results["running"][0] == 200 and results["queued"][0] == 200 and after.status_code == 200
    assert ["one more"] in fake.calls and fake.calls.count(["one more"]) == 1  # the refused one never ran


def test_timed_out_request_gets_504_and_no_model_time(fake):
    with running_server(create_app(fake, max_batch=4, batch_wait_ms=0, request_timeout_s=0.3)) as base, \
            httpx.Client(base_url=base, timeout=60) as client:
        fake.hold()
        results = {}
        blocker = post_in_thread(base, ["blocker"], results, "blocker")
        fake.entered.wait(30)
        late = client.post("/predict", json={"texts": ["never computed", "nor this"]})  # waits behind the blocker
        assert queued_texts(client) == 0  # its texts left the queue with it
        fake.release()
        blocker.join(60)
        assert client.post("/predict", json={"texts": ["after"]}).status_code == 200
    assert late.status_code == 504
    assert late.json()["error"].startswith("request not answered within request_timeout_s = 0.3 s (2 texts, 0 done)")
    assert results["blocker"][0] == 504  # the held call outlived its own time limit too
    assert not any("never computed" in call or "nor this" in call for call in fake.calls)


def test_small_request_is_served_between_chunks_of_a_large_one(fake):
    big = [f"big text {i}" for i in range(40)]
    with running_server(create_app(fake, max_batch=4, batch_wait_ms=0)) as base, \
            httpx.Client(base_url=base, timeout=60) as client:
        fake.hold()
        results = {}
        threads = [post_in_thread(base, big, results, "big")]
        fake.entered.wait(30)  # the first chunk of 4 is in the model, 36 texts wait
        threads.append(post_in_thread(base, ["small"], results, "small"))
        wait_until(lambda: queued_texts(client) == 37, "the small request to be queued")
        fake.release()
        for thread in threads:
            thread.join(60)
    calls = fake.calls[fake.calls.index(big[:4]):]
    assert ["small"] == [t for t in calls[1] if t == "small"]  # served in the very next call
    assert max(map(len, calls)) <= 4 and sum(map(len, calls)) == 41
    assert results["small"][2] < results["big"][2]  # so it finished first
    got = [p["probabilities"]["pos"] for p in results["big"][1]["predictions"]]
    assert got == pytest.approx([expected(t) for t in big])  # chunks reassembled in order


def test_one_text_latency_while_large_requests_flow(tiny_run):
    """Measured and printed, not asserted: one-text latency with two clients sending 128-text requests."""
    predictor = lexiclass.load(tiny_run("positional-transformer"))
    large = [("a long review of the film " * 12) + str(i) for i in range(128)]

    async def load(base):
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=base, timeout=120) as c:
            async def large_client():
                statuses = []
                while not stop.is_set():
                    statuses.append((await c.post("/predict", json={"texts": large})).status_code)
                return statuses

            async def small_client():
                latencies = []
                await asyncio.sleep(0.2)
                for i in range(25):
                    began = time.perf_counter()
                    r = await c.post("/predict", json={"texts": [f"good film {i}"]})
                    latencies.append((time.perf_counter() - began, r.status_code))
                stop.set()
                return latencies

            return await asyncio.gather(small_client(), large_client(), large_client())

    with running_server(create_app(predictor, max_batch=32)) as base:
        small, *large_statuses = asyncio.run(load(base))
    seconds = np.array([s for s, _ in small]) * 1000
    print(f"\none-text latency under large-request load: p50 {np.percentile(seconds, 50):.0f} ms, "
          f"p99 {np.percentile(seconds, 99):.0f} ms, max {seconds.max():.0f} ms over {len(seconds)} requests; "
          f"{sum(map(len, large_statuses))} large requests of {len(large)} texts")
    assert all(status == 200 for _, status in small)
    assert all(status == 200 for statuses in large_statuses for status in statuses)


class WrongShapePredictor(FakePredictor):
    """A broken model: always one row, whatever it is given."""

    def predict_proba(self, texts):
        return super().predict_proba(texts[:1])


def test_a_model_returning_the_wrong_shape_fails_its_request_not_the_worker():
    with running_server(create_app(WrongShapePredictor(), batch_wait_ms=0)) as base, \
            httpx.Client(base_url=base, timeout=60) as client:
        r = client.post("/predict", json={"texts": ["a", "b", "c"]})
        assert r.status_code == 500 and r.json() == {"error": "prediction failed (ValueError); see the server log"}
        assert client.get("/health").json()["status"] == "ok"
        assert client.post("/predict", json={"texts": ["one"]}).status_code == 200  # the worker still serves


def test_a_client_that_hangs_up_leaves_the_queue(fake):
    with running_server(create_app(fake, max_batch=4, batch_wait_ms=0)) as base, \
            httpx.Client(base_url=base, timeout=60) as client:
        fake.hold()
        results = {}
        blocker = post_in_thread(base, ["blocker"], results, "blocker")
        fake.entered.wait(30)
        host, port = base.removeprefix("http://").split(":")
        body = json.dumps({"texts": ["gone one", "gone two", "gone three"]}).encode()
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            wait_until(lambda: queued_texts(client) == 3, "the request to be queued")
        wait_until(lambda: queued_texts(client) == 0, "the hung-up request to leave the queue")
        fake.release()
        blocker.join(60)
        assert client.post("/predict", json={"texts": ["after"]}).status_code == 200
    assert results["blocker"][0] == 200
    assert not any(text.startswith("gone") for call in fake.calls for text in call)
