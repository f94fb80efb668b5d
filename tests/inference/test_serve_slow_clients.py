"""Slow clients (issue 24): a request body that arrives too slowly cannot hold a connection, and a request's
time limit counts from its arrival, body reading included.

The clients here are raw sockets that send a request's headers and then only part of its body (or one byte at
a time), so the server must act without the rest. The limits are small; nothing asserts how fast anything is.
"""

import asyncio
import json
import select
import socket
import time

import httpx
import pytest

from lexiclass.inference.batcher import MicroBatcher
from lexiclass.inference.serve import create_app
from lexiclass.inference.serve_schema import ApiError
from tests.inference.test_serve import running_server
from tests.inference.test_serve_backpressure import FakePredictor


def open_request(base: str, path: str = "/predict", length: int = 1000, first: bytes = b"") -> socket.socket:
    """A connection that has sent a POST's headers (``Content-Length: length``) and the first bytes of its body."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {length}\r\n\r\n".encode() + first)
    return sock


def read_answer(sock: socket.socket) -> tuple[int | None, dict, dict | None, bool]:
    """(status, headers, JSON body, closed): reads until the server closes the connection or 10 s pass."""
    data, closed = b"", True
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:  # closed while the client was still sending: what it had sent is read
            break
        except TimeoutError:
            closed = False
            break
        if not chunk:
            break
        data += chunk
    sock.close()
    if not data:
        return None, {}, None, closed
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body), closed


@pytest.fixture
def fake():
    return FakePredictor()


def test_a_body_that_stops_arriving_gets_408_and_its_connection_closed(fake):
    with running_server(create_app(fake, read_timeout_s=0.5)) as base:
        status, headers, body, closed = read_answer(open_request(base, first=b'{"texts": '))
        assert httpx.post(f"{base}/predict", json={"texts": ["after"]}, timeout=30).status_code == 200
    assert status == 408 and headers["connection"] == "close" and closed
    assert body == {"error": "request body not received within read_timeout_s = 0.5 s (10 bytes received); "
                             "send the body at once"}
    assert fake.calls == [["warm up"], ["after"]]


def test_a_hundred_clients_sending_one_byte_at_a_time_are_dropped(fake):
    with running_server(create_app(fake, read_timeout_s=0.5)) as base:
        socks = [open_request(base, length=1000) for _ in range(100)]
        r = httpx.post(f"{base}/predict", json={"texts": ["served meanwhile"]}, timeout=30)
        assert r.status_code == 200
        answers = {}
        give_up = time.monotonic() + 30  # the body needs 1000 rounds: a server that waits for it fails here
        while len(answers) < len(socks):
            assert time.monotonic() < give_up, f"{len(socks) - len(answers)} slow clients are still held"
            waiting = [s for s in socks if s not in answers]
            readable, _, _ = select.select(waiting, [], [], 0.05)
            for sock in waiting:
                if sock in readable:  # the server answered: stop sending, read it
                    answers[sock] = read_answer(sock)
                    continue
                try:
                    sock.send(b" ")
                except OSError:  # closed under it
                    answers[sock] = read_answer(sock)
        assert httpx.get(f"{base}/health", timeout=30).json()["status"] == "ok"
    statuses = [status for status, _, _, _ in answers.values()]
    assert statuses == [408] * 100, statuses
    assert all(closed for _, _, _, closed in answers.values())


def test_a_slow_body_gets_its_504_within_request_timeout_s(fake):
    """The request clock starts when the request arrives: a body still arriving when time is up gets the 504."""
    with running_server(create_app(fake, request_timeout_s=0.5, read_timeout_s=30)) as base:
        status, headers, body, closed = read_answer(open_request(base, first=b'{"texts": ["a'))
    assert status == 504 and headers["connection"] == "close" and closed
    assert body == {"error": "request not answered within request_timeout_s = 0.5 s: its body was still arriving "
                             "(13 bytes received); send the body at once"}
    assert fake.calls == [["warm up"]]


def test_an_answer_given_before_the_body_drops_a_slow_body_too(fake):
    """A route that never reads the body (here a 404) does not leave the connection to a slow body either."""
    with running_server(create_app(fake, read_timeout_s=0.5)) as base:
        status, headers, body, closed = read_answer(open_request(base, path="/nope", first=b'{"texts": '))
        assert status == 404 and headers["connection"] == "close" and closed
        assert body["error"].startswith("no route POST /nope")
        with httpx.Client(base_url=base, timeout=30) as client:  # a whole body is read and dropped instead:
            r = client.post("/nope", json={"texts": ["a"] * 100})  # the connection serves the next request
            assert r.status_code == 404 and "connection" not in r.headers
            assert client.post("/predict", json={"texts": ["next"]}).status_code == 200


def test_a_request_past_its_deadline_is_not_queued(fake):
    """The batcher answers by the deadline it is given (the server's: arrival + request_timeout_s)."""

    async def late_request():
        batcher = MicroBatcher(fake.predict_proba, max_batch=4, wait_ms=0, timeout_s=30)
        batcher.start()
        try:
            loop = asyncio.get_running_loop()
            with pytest.raises(ApiError) as refused:
                await batcher.predict(["too late"], deadline=loop.time() - 1)
            assert (await batcher.predict(["in time"], deadline=loop.time() + 30)).shape == (1, 2)
            return refused.value
        finally:
            await batcher.stop()

    refused = asyncio.run(late_request())
    assert refused.status == 504 and refused.message.startswith("request not answered within request_timeout_s = "
                                                                "30 s (1 texts, 0 done)")
    assert fake.calls == [["in time"]]
