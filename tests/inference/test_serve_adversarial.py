"""Table-driven hostile and odd HTTP requests: each gets the right status and a one-line JSON error naming
the problem; none gets a 500 or a traceback, and the server stays healthy after every one."""

import httpx
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

import lexiclass
from lexiclass.inference.serve import create_app
from tests.inference.test_serve import running_server

LIMITS = dict(max_texts=4, max_chars=200, max_body_bytes=20_000)
JSON = {"content-type": "application/json"}
BIG_INT = b"9" * 5000  # more digits than Python's int() accepts from a string


def raw(body: bytes, content_type: str | None = "application/json") -> dict:
    """Request kwargs for a hand-written body (None: send no Content-Type header)."""
    return dict(content=body, headers={} if content_type is None else {"content-type": content_type})


def chunks(n: int, size: int):
    return (b" " * size for _ in range(n))  # a generator body goes out chunked, without Content-Length


OK = None  # expected error words for a request that must succeed
CASES = [
    # (id, method, path, request kwargs, status, words the error must contain, or OK)
    # --- malformed JSON
    ("truncated-json", "POST", "/predict", raw(b'{"texts": ["a"'), 400, ["malformed JSON", "line 1"]),
    ("empty-body", "POST", "/predict", raw(b""), 400, ["malformed JSON: Expecting value at line 1 column 1"]),
    ("trailing-garbage", "POST", "/predict", raw(b'{"texts": ["a"]} x'), 400, ["malformed JSON: Extra data"]),
    ("single-quotes", "POST", "/predict", raw(b"{'texts': ['a']}"), 400, ["malformed JSON", "double quotes"]),
    ("trailing-comma", "POST", "/predict", raw(b'{"texts": ["a",]}'), 400, ["malformed JSON", "column 16"]),
    ("raw-newline-in-string", "POST", "/predict", raw(b'{"texts": ["a\nb"]}'), 400, ["Invalid control character"]),
    ("bad-escape", "POST", "/predict", raw(b'{"texts": ["\\x41"]}'), 400, ["malformed JSON: Invalid \\escape"]),
    ("not-utf8", "POST", "/predict", raw(b'{"texts": ["\xff\xfe"]}'), 400, ["not UTF-8", "position"]),
    ("deep-nesting", "POST", "/predict", raw(b'{"texts": ' + b"[" * 5000 + b"]" * 5000 + b"}"), 400,
     ["nested too deeply"]),
    # --- numbers JSON allows or Python refuses
    ("huge-integer-item", "POST", "/predict", raw(b'{"texts": [' + BIG_INT + b"]}"), 422,
     ['"texts"[0] must be a string, got a JSON number']),
    ("huge-integer-field", "POST", "/predict", raw(b'{"texts": ["a"], "n": ' + BIG_INT + b"}"), 422,
     ["unknown field", "'n'"]),
    ("huge-integer-body", "POST", "/predict", raw(BIG_INT), 422, ["JSON object", "got a JSON number"]),
    ("huge-float", "POST", "/predict", raw(b'{"texts": ["a", 1e999]}'), 422, ['"texts"[1]', "JSON number"]),
    ("nan", "POST", "/predict", raw(b'{"texts": [NaN]}'), 422, ['"texts"[0] must be a string, got a JSON number']),
    ("infinity", "POST", "/predict", raw(b'{"texts": -Infinity}'), 422, ['"texts" must be a list', "number"]),
    # --- wrong types at every level
    ("body-array", "POST", "/predict", dict(json=["a", "b"]), 422, ["JSON object", "got a JSON array"]),
    ("body-string", "POST", "/predict", dict(json="a review"), 422, ["JSON object", "got a JSON string"]),
    ("body-null", "POST", "/predict", raw(b"null"), 422, ["JSON object", "got a JSON null"]),
    ("body-boolean", "POST", "/predict", dict(json=True), 422, ["JSON object", "got a JSON boolean"]),
    ("texts-string", "POST", "/predict", dict(json={"texts": "a review"}), 422,
     ['"texts" must be a list of strings, got a JSON string']),
    ("texts-object", "POST", "/predict", dict(json={"texts": {"0": "a"}}), 422, ['"texts" must be a list', "object"]),
    ("texts-null", "POST", "/predict", dict(json={"texts": None}), 422, ['"texts" must be a list', "null"]),
    ("item-null", "POST", "/predict", dict(json={"texts": [None]}), 422, ['"texts"[0] must be a string, got a JSON null']),
    ("item-boolean", "POST", "/predict", dict(json={"texts": ["a", False]}), 422, ['"texts"[1]', "boolean"]),
    ("item-object", "POST", "/predict", dict(json={"texts": ["a", "b", {"text": "c"}]}), 422, ['"texts"[2]', "object"]),
    ("item-array", "POST", "/predict", dict(json={"texts": [["nested"]]}), 422, ['"texts"[0]', "got a JSON array"]),
    # --- surrogates and odd characters
    ("lone-high-surrogate", "POST", "/predict", raw(b'{"texts": ["good film \\ud800"]}'), 422,
     ['"texts"[0] contains a lone surrogate (U+D800) at character 10']),
    ("lone-low-surrogate", "POST", "/predict", raw(b'{"texts": ["fine", "\\udc00 x"]}'), 422,
     ['"texts"[1] contains a lone surrogate (U+DC00) at character 0']),
    ("reversed-pair", "POST", "/predict", raw(b'{"texts": ["ab\\udfac\\ud83c"]}'), 422, ["U+DFAC) at character 2"]),
    ("utf8-encoded-surrogate", "POST", "/predict", raw(b'{"texts": ["ok \xed\xa0\x80"]}'), 422,
     ['"texts"[0] contains a lone surrogate (U+D800) at character 3']),
    ("valid-surrogate-pair", "POST", "/predict", raw(b'{"texts": ["a film \\ud83c\\udfac"]}'), 200, OK),
    ("nul-characters", "POST", "/predict", raw(b'{"texts": ["good\\u0000film", "\\u0000"]}'), 200, OK),
    ("utf8-bom", "POST", "/predict", raw(b'\xef\xbb\xbf{"texts": ["good"]}'), 200, OK),
    # --- empty, too many, too long
    ("empty-text", "POST", "/predict", dict(json={"texts": ["ok", ""]}), 422,
     ['"texts"[1] is empty or only whitespace']),
    ("whitespace-text", "POST", "/predict", dict(json={"texts": [" \t\n "]}), 422, ['"texts"[0] is empty']),
    ("unicode-spaces", "POST", "/predict", dict(json={"texts": ["\u00a0\u2003"]}), 422, ['"texts"[0] is empty']),
    ("empty-list", "POST", "/predict", dict(json={"texts": []}), 422, ['"texts" is empty']),
    ("too-many-texts", "POST", "/predict", dict(json={"texts": ["a"] * 5}), 413, ["5 items", "max_texts = 4"]),
    ("text-too-long", "POST", "/predict", dict(json={"texts": ["ok", "a" * 201]}), 413,
     ['"texts"[1] has 201 characters; max_chars = 200']),
    ("longest-allowed-text", "POST", "/predict", dict(json={"texts": ["a" * 200] * 4}), 200, OK),
    # --- body size
    ("declared-too-large", "POST", "/predict", raw(b" " * 20_001), 413, ["20001 bytes", "max_body_bytes = 20000"]),
    ("chunked-too-large", "POST", "/predict", dict(content=chunks(30, 1000), headers=JSON), 413,
     ["max_body_bytes = 20000", "stopped reading"]),
    # --- content type
    ("text-plain", "POST", "/predict", raw(b'{"texts": ["a"]}', "text/plain"), 415,
     ["Content-Type 'text/plain' is not supported; send application/json"]),
    ("form-encoded", "POST", "/predict", dict(data={"texts": "a"}), 415, ["application/x-www-form-urlencoded"]),
    ("latin1-charset", "POST", "/predict", raw(b'{"texts": ["a"]}', "application/json; charset=latin-1"), 415,
     ["charset 'latin-1' is not supported"]),
    ("utf8-charset", "POST", "/predict", raw(b'{"texts": ["a"]}', "application/json; charset=UTF-8"), 200, OK),
    ("json-suffix", "POST", "/predict", raw(b'{"texts": ["a"]}', "application/vnd.api+json"), 200, OK),
    ("no-content-type", "POST", "/predict", raw(b'{"texts": ["a"]}', None), 200, OK),
    # --- fields
    ("unknown-field", "POST", "/predict", dict(json={"texts": ["a"], "top_k": 3}), 422, ["unknown field", "'top_k'"]),
    ("missing-texts", "POST", "/predict", dict(json={"text": ["a"]}), 422, ['missing field "texts"']),
    ("empty-object", "POST", "/predict", dict(json={}), 422, ['missing field "texts"']),
    ("huge-field-name", "POST", "/predict", dict(json={"texts": ["a"], "k" * 5000: 1}), 422, ["unknown field", "..."]),
    ("many-unknown-fields", "POST", "/predict", dict(json={"texts": ["a"], **{f"f{i}": i for i in range(9)}}), 422,
     ["unknown field", "and 6 more"]),
    ("duplicate-key-last-wins", "POST", "/predict", raw(b'{"texts": 1, "texts": ["a"]}'), 200, OK),
    # --- routes and methods
    ("get-predict", "GET", "/predict", {}, 405, ["method GET is not allowed on /predict", "POST /predict"]),
    ("put-predict", "PUT", "/predict", dict(json={"texts": ["a"]}), 405, ["method PUT is not allowed"]),
    ("delete-health", "DELETE", "/health", {}, 405, ["method DELETE is not allowed on /health"]),
    ("post-health", "POST", "/health", dict(json={}), 405, ["method POST is not allowed on /health"]),
    ("patch-metadata", "PATCH", "/metadata", {}, 405, ["method PATCH"]),
    ("unknown-route", "GET", "/nope", {}, 404, ["no route GET /nope", "routes: POST /predict"]),
    ("predict-subpath", "POST", "/predict/extra", dict(json={"texts": ["a"]}), 404, ["no route POST /predict/extra"]),
    ("non-ascii-path", "GET", "/caf%C3%A9", {}, 404, ["no route GET /café"]),
    ("long-path", "GET", "/" + "x" * 3000, {}, 404, ["no route GET /xxx", "..."]),
]


@pytest.fixture(scope="module")
def predictor(tiny_run):
    return lexiclass.load(tiny_run("bow"))


@pytest.fixture(scope="module")
def client(predictor):
    with running_server(create_app(predictor, **LIMITS)) as base, httpx.Client(base_url=base, timeout=60) as c:
        yield c


def test_there_are_enough_cases():
    assert len(CASES) >= 40 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("method,path,kwargs,status,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_request(client, predictor, method, path, kwargs, status, words):
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    if words is OK:
        assert len(body["predictions"]) >= 1
        assert all(set(p["probabilities"]) == set(predictor.labels) for p in body["predictions"])
    else:
        assert list(body) == ["error"]
        error = body["error"]
        assert "\n" not in error and len(error) < 300 and "Traceback" not in error, error
        for word in words:
            assert word in error, error
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["queued_texts"] == 0


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


def assert_answered_cleanly(r):
    assert r.status_code in (200, 400, 413, 415, 422), r.text
    body = r.json()
    assert list(body) == (["predictions"] if r.status_code == 200 else ["error"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(JSON_VALUES, st.fixed_dictionaries({"texts": JSON_VALUES})))
def test_any_json_value_gets_a_clean_answer(client, value):
    import json

    assert_answered_cleanly(client.post("/predict", content=json.dumps(value).encode(), headers=JSON))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_any_bytes_get_a_clean_answer(client, body):
    assert_answered_cleanly(client.post("/predict", content=body, headers=JSON))
