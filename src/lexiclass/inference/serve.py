"""HTTP API for a finished run: FastAPI app + uvicorn, with fair micro-batching across requests.

    POST /predict   {"texts": ["...", ...]} -> {"predictions": [{"label": ..., "probabilities": {...}}, ...]}
    POST /explain   {"text": "..."} -> label, probabilities, token importance (and attention for Transformers)
    GET  /health    {"status": "ok", ...}
    GET  /metadata  model name, labels, training config, test metrics, run info, limits (no file paths)
    GET  /          a page to type a text and see the prediction explained (assets in ``web/``)
    GET  /docs      OpenAPI (Swagger UI) page, served from assets in the package (works offline);
                    /openapi.json is the schema

Every text is checked where it enters (`parse_texts`): a bad item fails its own request
with a 4xx naming the item, before it can reach a model call shared with other requests.

Requests share model calls (`MicroBatcher`): one asyncio worker forms batches of up to
``max_batch`` texts, waiting up to ``batch_wait_ms`` for company, and runs
`Predictor.predict_proba` on them in a thread (the event loop keeps accepting requests;
one model call runs at a time). Backpressure and fairness:

- a request is cut into chunks; each batch gives every waiting request an equal share,
  so a one-text request waits for about one model call, not behind a 256-text request;
- at most ``max_queue_texts`` texts wait; past that the answer is 503 with Retry-After;
- a request not answered within ``request_timeout_s`` gets 504; its remaining texts are
  dropped from the queue (no model time is spent on them), as are a hung-up client's;
- if a batch's model call fails, each request in it is retried alone, so one bad request
  cannot fail the others.

`POST /explain` is heavier (one model call over n + 1 copies of the text, n tokens), so it
explains at most the first ``explain_max_words`` words of a text (the label and probabilities
are the whole text's, through the same queue as /predict), runs in a worker thread, one
explanation at a time, with at most ``max_explain_queue`` more waiting (more -> 503), all
within ``request_timeout_s`` (504).

Every error is a JSON ``{"error": "..."}`` naming the limit or the field at fault; no
traceback ever reaches a client (the server log keeps it). Every response carries
``X-Content-Type-Options: nosniff``; the HTML pages (``/``, ``/docs``) a Content-Security-Policy
that allows only the server's own scripts, styles and connections (no CDN, no inline script).
"""

import asyncio
import collections
import contextlib
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lexiclass.inference.predictor import text_problem

log = logging.getLogger("lexiclass.serve")


class ApiError(Exception):
    """An HTTP error answered as ``{"error": message}`` with ``status`` (and extra ``headers``)."""

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class Limits:
    max_texts: int = 256  # texts per request
    max_chars: int = 100_000  # characters per text
    max_body_bytes: int = 5_000_000  # request body
    max_batch: int = 32  # texts per model call, across requests (long reviews: big calls cost more per text)
    batch_wait_ms: float = 5.0  # how long the first queued request waits for company
    max_queue_texts: int = 1024  # texts waiting for the model, all requests together; more -> 503 + Retry-After
    request_timeout_s: float = 30.0  # from admission to answer; later -> 504, remaining texts dropped
    explain_max_words: int = 200  # POST /explain explains the first this many words (cost ~ words squared)
    explain_attention_tokens: int = 48  # attention maps: weights among the first this many tokens
    max_explain_queue: int = 4  # explanations waiting for the one running; more -> 503 + Retry-After

    def __post_init__(self):
        from lexiclass.errors import LexiclassError

        for name in ("max_texts", "max_chars", "max_body_bytes", "max_batch", "max_queue_texts",
                     "explain_max_words", "explain_attention_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LexiclassError(f"{name} must be an integer >= 1, got {value!r}")
        value = self.max_explain_queue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LexiclassError(f"max_explain_queue must be an integer >= 0, got {value!r}")
        if not self.batch_wait_ms >= 0:  # also refuses NaN
            raise LexiclassError(f"batch_wait_ms must be >= 0, got {self.batch_wait_ms}")
        if not (0 < self.request_timeout_s < math.inf):
            raise LexiclassError(f"request_timeout_s must be > 0 seconds, got {self.request_timeout_s}")


# --- request parsing (pure functions, no model) ----------------------------------------

def _json_type(value) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _short(text: str, limit: int = 40, quote: bool = True) -> str:
    """``repr(text)`` cut to ``limit`` characters: error messages stay one short line whatever the client sent."""
    r = repr(text) if quote else repr(text)[1:-1]  # escaped newlines and control characters either way
    return r if len(r) <= limit else r[:limit - 3] + "..."


def check_content_type(value: str | None) -> None:
    """Accept JSON (or no Content-Type, like curl --data-binary): anything else is a 415 naming it."""
    if value is None:
        return
    media, *params = [part.strip().lower() for part in value.split(";")]
    if media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, f"Content-Type {_short(value)} is not supported; send application/json")
    for param in params:
        key, _, charset = param.partition("=")
        if key.strip() == "charset" and charset.strip().strip('"') not in ("utf-8", "utf8"):
            raise ApiError(415, f"charset {_short(charset.strip())} is not supported; send UTF-8 JSON")


async def read_body(request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes by Content-Length or by bytes actually received."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, f"Content-Length header {_short(declared)} is not a byte count")
        if int(declared) > limit:
            raise ApiError(413, f"request body of {int(declared)} bytes exceeds max_body_bytes = {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():  # chunked bodies have no Content-Length: count as we go
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body exceeds max_body_bytes = {limit} (stopped reading at {size} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _number(digits: str) -> float:
    # json.loads turns integers into int, which refuses more than 4300 digits (a ValueError, not a
    # JSONDecodeError). No number is a valid text anyway, so keep it as a float (inf if huge).
    return float(digits)


def _load_json(body: bytes):
    try:
        return json.loads(body, parse_int=_number)
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not UTF-8 text (bad byte at position {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    except ValueError as exc:  # anything else json refuses: still the client's body, never a 500
        raise ApiError(400, f"malformed JSON: {str(exc).splitlines()[0][:80]}") from None


def check_text(i: int, text, limits: Limits, where: str | None = None) -> None:
    """One item of "texts": a non-empty string of at most max_chars characters that UTF-8 can encode.

    ``where`` names the field in messages (default ``"texts"[i]``).
    """
    where = where or f'"texts"[{i}]'
    if not isinstance(text, str):
        raise ApiError(422, f"{where} must be a string, got a JSON {_json_type(text)}")
    if len(text) > limits.max_chars:
        raise ApiError(413, f"{where} has {len(text)} characters; max_chars = {limits.max_chars}")
    if not text.strip():
        raise ApiError(422, f"{where} is empty or only whitespace: send some text to classify")
    problem = text_problem(text)
    if problem:
        raise ApiError(422, f"{where} {problem}; send valid Unicode text")


def parse_texts(body: bytes, limits: Limits) -> list[str]:
    """Validate a ``{"texts": [...]}`` body and return the texts, or raise `ApiError`."""
    payload = _load_json(body)
    if not isinstance(payload, dict):
        raise ApiError(422, f'the body must be a JSON object {{"texts": [...]}}, got a JSON {_json_type(payload)}')
    if "texts" not in payload:
        raise ApiError(422, 'missing field "texts": send {"texts": ["a review", ...]}')
    unknown = sorted(set(payload) - {"texts"})
    if unknown:
        names = ", ".join(_short(k) for k in unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise ApiError(422, f'unknown field(s) {names}; the body is {{"texts": [...]}}')
    texts = payload["texts"]
    if not isinstance(texts, list):
        raise ApiError(422, f'"texts" must be a list of strings, got a JSON {_json_type(texts)}')
    if not texts:
        raise ApiError(422, '"texts" is empty: send at least one text')
    if len(texts) > limits.max_texts:
        raise ApiError(413, f'"texts" has {len(texts)} items; max_texts = {limits.max_texts} per request')
    for i, text in enumerate(texts):
        check_text(i, text, limits)
    return texts


def parse_explain(body: bytes, limits: Limits) -> str:
    """Validate a ``{"text": "..."}`` body (the checks of `check_text`) and return the text, or raise `ApiError`."""
    payload = _load_json(body)
    if not isinstance(payload, dict):
        raise ApiError(422, f'the body must be a JSON object {{"text": "..."}}, got a JSON {_json_type(payload)}')
    if "text" not in payload:
        hint = ' (one text per explanation; "texts" is for /predict)' if "texts" in payload else ""
        raise ApiError(422, f'missing field "text": send {{"text": "a review"}}{hint}')
    unknown = sorted(set(payload) - {"text"})
    if unknown:
        names = ", ".join(_short(k) for k in unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise ApiError(422, f'unknown field(s) {names}; the body is {{"text": "..."}}')
    check_text(0, payload["text"], limits, where='"text"')
    return payload["text"]


# --- fair micro-batching -------------------------------------------------------------

def fair_shares(pending: list[int], capacity: int) -> list[int]:
    """Texts to take from each request for one batch: equal shares, unused shares passed on.

    ``fair_shares([200, 1, 5], 8)`` -> ``[4, 1, 3]``: every request gets at least one text in
    (while capacity lasts, earlier requests first), and no request can crowd out the others.
    """
    take = [0] * len(pending)
    active = [i for i, n in enumerate(pending) if n > 0]
    while capacity > 0 and active:
        share = max(1, capacity // len(active))
        for i in list(active):
            k = min(share, pending[i] - take[i], capacity)
            take[i] += k
            capacity -= k
            if take[i] == pending[i]:
                active.remove(i)
            if capacity == 0:
                break
    return take


class Job:
    """One request in the queue: its texts, how many went to the model, and its (n, classes) result so far."""

    def __init__(self, texts: list[str], future: asyncio.Future):
        self.texts = texts
        self.future = future
        self.next = 0  # texts[:next] have been given to the model
        self.filled = 0  # rows of `probs` received
        self.probs: np.ndarray | None = None  # (len(texts), classes)

    @property
    def pending(self) -> int:
        return len(self.texts) - self.next

    def deliver(self, start: int, rows: np.ndarray) -> None:
        """Store ``rows`` (k, classes) for texts[start:start + k]; answer the request when all are in."""
        if self.future.done():  # timed out or the client left
            return
        if self.probs is None:
            self.probs = np.empty((len(self.texts), rows.shape[1]))
        self.probs[start:start + len(rows)] = rows
        self.filled += len(rows)
        if self.filled == len(self.texts):
            self.future.set_result(self.probs)

    def fail(self, exc: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class MicroBatcher:
    """Bounded queue of requests (`Job`s); `run` serves their chunks fairly in shared `predict_proba` calls."""

    def __init__(self, predict_proba, max_batch: int, wait_ms: float, max_queue_texts: int = 1024,
                 timeout_s: float = 30.0):
        self.predict_proba = predict_proba
        self.max_batch = max_batch
        self.wait_s = wait_ms / 1000.0
        self.max_queue_texts = max_queue_texts
        self.timeout_s = timeout_s
        self.jobs: collections.deque[Job] = collections.deque()  # requests with texts not yet given to the model
        self.wakeup: asyncio.Event | None = None  # made in `start`, in the serving event loop
        self.task: asyncio.Task | None = None
        self.seconds_per_text = 0.01  # running estimate, for Retry-After

    def start(self) -> None:
        self.wakeup = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self.run(), name="lexiclass-microbatcher")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    @property
    def queued_texts(self) -> int:
        return sum(job.pending for job in self.jobs if not job.future.done())

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained (1 to 60), for the Retry-After header."""
        return int(min(60, max(1, math.ceil(self.queued_texts * self.seconds_per_text))))

    def admit(self, n: int) -> None:
        """Refuse a request of ``n`` texts when the queue is full (one request alone is always let in)."""
        queued = self.queued_texts
        if queued and queued + n > self.max_queue_texts:
            wait = self.retry_after()
            raise ApiError(503, f"server busy: {queued} texts queued, {n} more would exceed max_queue_texts = "
                                f"{self.max_queue_texts}; retry in {wait} s", {"Retry-After": str(wait)})

    async def predict(self, texts: list[str], client_gone=None) -> np.ndarray:
        """(len(texts), classes) probabilities, computed together with other waiting requests.

        ``client_gone``: an awaitable that finishes if the client hangs up; the request then
        leaves the queue, so no model time is spent on it.
        """
        if not self.running:
            raise ApiError(503, "the prediction worker is not running", {"Retry-After": "1"})
        self.admit(len(texts))
        job = Job(texts, asyncio.get_running_loop().create_future())
        self.jobs.append(job)
        self.wakeup.set()
        watcher = None if client_gone is None else asyncio.ensure_future(client_gone)
        if watcher is not None:
            watcher.add_done_callback(lambda _: job.future.cancel())
        try:  # on timeout wait_for cancels the future: the worker then skips the rest of this job
            return await asyncio.wait_for(job.future, self.timeout_s)
        except TimeoutError:
            raise ApiError(504, f"request not answered within request_timeout_s = {self.timeout_s:g} s "
                                f"({len(texts)} texts, {job.filled} done); retry later or send fewer texts") from None
        except asyncio.CancelledError:
            if watcher is None or not watcher.done():
                raise  # the server is stopping
            raise ApiError(400, "the client disconnected before its answer") from None  # nobody reads it
        finally:
            job.future.cancel()  # no-op if answered
            if watcher is not None:
                watcher.cancel()
            self._drop_finished()

    def _drop_finished(self) -> None:
        for job in [j for j in self.jobs if j.future.done() or not j.pending]:
            self.jobs.remove(job)

    async def _wait_for_work(self) -> None:
        """Until a request is queued, then up to wait_s more while the queue holds less than a batch."""
        loop = asyncio.get_running_loop()
        while not self.queued_texts:
            self.wakeup.clear()
            await self.wakeup.wait()
        deadline = loop.time() + self.wait_s
        while self.queued_texts < self.max_batch and (remaining := deadline - loop.time()) > 0:
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), remaining)

    def _take(self) -> list[tuple[Job, int, int]]:
        """The next batch as ``(job, start, stop)`` slices: fair shares of up to max_batch texts."""
        self._drop_finished()
        jobs = list(self.jobs)
        batch = []
        for job, k in zip(jobs, fair_shares([j.pending for j in jobs], self.max_batch)):
            if k:
                batch.append((job, job.next, job.next + k))
                job.next += k
        self.jobs.rotate(-1)  # the next batch starts with another request (leftover capacity goes round)
        self._drop_finished()
        return batch

    async def _call_model(self, batch: list[tuple[Job, int, int]]) -> None:
        """One model call for ``batch``; if it fails, each request's part is retried alone."""
        batch = [part for part in batch if not part[0].future.done()]  # skip requests that timed out meanwhile
        if not batch:
            return
        texts = [text for job, start, stop in batch for text in job.texts[start:stop]]
        began = time.perf_counter()
        try:
            probs = np.asarray(await asyncio.to_thread(self.predict_proba, texts))  # (len(texts), classes)
            if probs.ndim != 2 or len(probs) != len(texts):
                raise ValueError(f"predict_proba returned shape {probs.shape} for {len(texts)} texts")
        except Exception as exc:
            log.exception("prediction failed for a batch of %d texts from %d requests", len(texts), len(batch))
            if len(batch) == 1:
                batch[0][0].fail(exc)
                return
            for part in batch:  # defence in depth: find the culprit, let the innocent through
                await self._call_model([part])
            return
        self.seconds_per_text = 0.8 * self.seconds_per_text + 0.2 * (time.perf_counter() - began) / len(texts)
        offset = 0
        for job, start, stop in batch:
            job.deliver(start, probs[offset:offset + stop - start])
            offset += stop - start

    async def run(self) -> None:
        while True:
            await self._wait_for_work()
            batch = self._take()
            try:
                await self._call_model(batch)
            except Exception as exc:  # a bug here must not stop the worker that every later request needs
                log.exception("the prediction worker failed on a batch; serving on")
                for job, _, _ in batch:
                    job.fail(exc)


# --- explanations (POST /explain) ----------------------------------------------------

class ExplainGate:
    """One explanation at a time (in a worker thread), at most ``max_waiting`` more queued for it.

    An explanation that outlives its request's deadline keeps the gate until its thread
    finishes (a thread cannot be stopped), so two never run at once.
    """

    def __init__(self, max_waiting: int):
        self.max_waiting = max_waiting
        self.lock = asyncio.Lock()
        self.admitted = 0  # running + waiting
        self.seconds = 1.0  # running estimate of one explanation, for Retry-After

    def admit(self) -> None:
        if self.admitted > self.max_waiting:
            wait = int(min(60, max(1, math.ceil(self.admitted * self.seconds))))
            raise ApiError(503, f"server busy: {self.admitted} explanations running or queued; max_explain_queue = "
                                f"{self.max_waiting} may wait; retry in {wait} s", {"Retry-After": str(wait)})

    async def run(self, fn, deadline: float, timeout_s: float):
        """``fn()`` in a thread once the gate is free; 504 if ``deadline`` (loop time) passes first."""
        loop = asyncio.get_running_loop()
        self.admit()
        self.admitted += 1
        try:
            await asyncio.wait_for(self.lock.acquire(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            self.admitted -= 1
            raise ApiError(504, f"request not answered within request_timeout_s = {timeout_s:g} s (waiting for "
                                "other explanations); retry later") from None
        except BaseException:
            self.admitted -= 1
            raise
        began = time.perf_counter()

        def done(_):
            self.seconds = 0.7 * self.seconds + 0.3 * (time.perf_counter() - began)
            self.admitted -= 1
            self.lock.release()

        task = asyncio.ensure_future(asyncio.to_thread(fn))
        task.add_done_callback(done)
        try:
            return await asyncio.wait_for(asyncio.shield(task), max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise ApiError(504, f"explanation not finished within request_timeout_s = {timeout_s:g} s; "
                                "send a shorter text") from None


def explainable(predictor) -> bool:
    return getattr(predictor, "config", None) is not None and hasattr(predictor, "input_kind")


def occlude(predictor, text: str, target: int):
    """`lexiclass.inference.explain.occlusion`, with sequence models' batches padded like /predict's.

    The n + 1 occluded copies go through ``predict_on_batch`` in batches padded to the
    prediction ladders (`lexiclass.text.batching.prediction_batches`), so explanations of
    every length reuse the few traced shapes of /predict instead of tracing (and keeping)
    one per token count (padding is inert: the same numbers within 1e-5).
    """
    from lexiclass.inference.explain import OOV_ID, Occlusion, model_tokens, occlusion
    from lexiclass.text.batching import prediction_batches
    from lexiclass.text.pipeline import prediction_lengths, to_probabilities

    if predictor.input_kind != "sequence":  # word removal goes through predict_proba: padded already
        return occlusion(predictor, text, target=target)
    ids, tokens = model_tokens(predictor, text)  # (n,), n <= sequence_length
    n = len(ids)
    variants = [ids] + [np.where(np.arange(n) == i, OOV_ID, ids).astype(ids.dtype) for i in range(n)]
    probs = np.empty((n + 1, len(predictor.label_names)))
    config = predictor.config
    for idx, x in prediction_batches(variants, config.batch_size, prediction_lengths(config)):
        probs[idx] = to_probabilities(np.asarray(predictor.model.predict_on_batch(x))[:len(idx)])
    return Occlusion(tokens, probs[0, target] - probs[1:, target], "replacing each token by the OOV id")


def explain_text(predictor, text: str, target: int, limits: Limits) -> dict:
    """Token importance (and attention for Transformer runs) of the first ``explain_max_words`` words of ``text``."""
    from lexiclass.inference.explain import TRANSFORMER_MODELS, attention_scores

    words = text.split()
    part = " ".join(words[:limits.explain_max_words])
    tokens, importance, method = occlude(predictor, part, target)
    result = {"tokens": [str(t) for t in tokens], "importance": [round(float(v), 5) for v in importance],
              "method": method, "words": len(words), "words_explained": min(len(words), limits.explain_max_words),
              "attention": None}
    if predictor.config.model in TRANSFORMER_MODELS:
        att_tokens, scores = attention_scores(predictor, part)  # (heads, n, n)
        k = min(len(att_tokens), limits.explain_attention_tokens)
        shown = scores[:, :k, :k]
        result["attention"] = {"tokens": [str(t) for t in att_tokens[:k]], "tokens_total": len(att_tokens),
                               "max": round(float(shown.max(initial=0.0)), 5),
                               "weights": np.round(shown, 4).tolist()}  # (heads, k, k): row = attending token
    return result


# --- the app -------------------------------------------------------------------------

_PATH = re.compile(r"""[^\s"':,;=]*[\\/][^\s"',;=]*""")  # a token holding a / or \\: a file path


def _strip_paths(value, run_dir: str | None = None):
    """``value`` (JSON-like) with every file path cut to its last component: no server directory leaves it."""
    if isinstance(value, dict):
        return {k: _strip_paths(v, run_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_paths(v, run_dir) for v in value]
    if isinstance(value, str):
        if run_dir:
            value = value.replace(run_dir, Path(run_dir).name)
        return _PATH.sub(lambda m: re.split(r"[\\/]", m.group(0).rstrip("\\/"))[-1], value)
    return value


def _metadata(predictor, limits: Limits) -> dict:
    from lexiclass import run_dir as rd

    metrics = None
    if predictor.run_dir is not None and (Path(predictor.run_dir) / rd.METRICS_FILE).exists():
        try:
            metrics = rd.read_json(Path(predictor.run_dir) / rd.METRICS_FILE)
        except Exception:  # a broken metrics file must not stop serving
            log.warning("cannot read %s", Path(predictor.run_dir) / rd.METRICS_FILE)
    config = predictor.config.to_dict() if predictor.config is not None else {}
    # Data paths (dataset, imdb_archive, glove, data_source "imdb:/home/...") keep only their file name.
    run_dir = str(predictor.run_dir) if predictor.run_dir is not None else None
    return {"model": config.get("model"), "labels": list(predictor.label_names),
            "config": _strip_paths(config, run_dir), "test_metrics": metrics, "run": _strip_paths(predictor.info, run_dir),
            "limits": {k: getattr(limits, k) for k in Limits.__dataclass_fields__}}


async def _disconnected(request) -> None:
    """Returns when the client hangs up: once the body is read, the next ASGI message is the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


ROUTES = "POST /predict, GET /health, GET /metadata, GET /docs, GET /openapi.json"  # also GET /, POST /explain

WEB_DIR = Path(__file__).with_name("web")
# name -> media type: the only files GET /static/{name} serves (all shipped as package data)
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
STATIC_PATHS = {"swagger-ui-bundle.js": "vendor/swagger-ui/swagger-ui-bundle.js",
                "swagger-ui.css": "vendor/swagger-ui/swagger-ui.css"}
# The pages load only the server's own files: no CDN, no inline script, no framing.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
BUILT_IN_EXAMPLES = [
    "A wonderful film: the acting is superb and the story kept me hooked to the end.",
    "Dull, far too long and badly acted. A waste of two hours.",
    "The cast is great, but the plot is thin and the ending feels rushed.",
]


def _web_file(name: str) -> bytes:
    path = WEB_DIR / STATIC_PATHS.get(name, name)
    try:
        return path.read_bytes()
    except OSError:
        raise FileNotFoundError(f"the web page's file {name} is missing from the installed package "
                                f"(lexiclass/inference/web); reinstall lexiclass") from None


class SecurityHeaders:
    """ASGI middleware: nosniff on every response (plain ASGI: the body stream and disconnects pass untouched)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-content-type-options"]
                message = {**message, "headers": headers + [(b"x-content-type-options", b"nosniff")]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _check_examples(examples, limits: Limits) -> list[str]:
    from lexiclass.errors import LexiclassError

    if examples is None:
        return list(BUILT_IN_EXAMPLES)
    if isinstance(examples, str) or not all(isinstance(e, str) and e.strip() for e in examples):
        raise LexiclassError("examples must be a list of non-empty strings")
    examples = list(examples)
    if len(examples) > 20 or any(len(e) > limits.max_chars for e in examples):
        raise LexiclassError(f"examples: at most 20 texts of at most max_chars = {limits.max_chars} characters")
    return examples


def create_app(predictor_or_run_dir, max_texts: int = 256, max_chars: int = 100_000,
               max_body_bytes: int = 5_000_000, max_batch: int = 32, batch_wait_ms: float = 5.0,
               max_queue_texts: int = 1024, request_timeout_s: float = 30.0, explain_max_words: int = 200,
               explain_attention_tokens: int = 48, max_explain_queue: int = 4, examples: list[str] | None = None):
    """A FastAPI app serving a `Predictor` (or the run directory to load one from); limits: see `Limits`.

    ``examples``: texts the page at ``/`` offers to try (default: three short built-in film reviews).
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from pydantic import BaseModel, Field
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect

    from lexiclass.inference.predictor import Predictor, format_predictions

    limits = Limits(max_texts, max_chars, max_body_bytes, max_batch, batch_wait_ms, max_queue_texts,
                    request_timeout_s, explain_max_words, explain_attention_tokens, max_explain_queue)
    examples = _check_examples(examples, limits)
    web = {name: _web_file(name) for name in [*STATIC_FILES, "index.html", "docs.html"]}  # read once, fail early
    predictor = predictor_or_run_dir
    if not hasattr(predictor, "predict_proba"):
        predictor = Predictor.from_run_dir(predictor_or_run_dir)
    metadata = _metadata(predictor, limits)
    metadata["examples"] = examples
    gate = ExplainGate(limits.max_explain_queue)
    batcher = MicroBatcher(predictor.predict_proba, limits.max_batch, limits.batch_wait_ms,
                           limits.max_queue_texts, limits.request_timeout_s)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:  # trace the model once so the first client does not pay for it
            await asyncio.to_thread(predictor.predict_proba, ["warm up"])
        except Exception:
            log.exception("warm-up prediction failed; serving anyway")
        batcher.start()
        yield
        await batcher.stop()

    # Schemas for the OpenAPI page only; the body is parsed by `parse_texts` for clearer errors.
    class PredictRequest(BaseModel):
        texts: list[str] = Field(min_length=1, max_length=limits.max_texts, examples=[["A wonderful film."]],
                                 description=f"1 to {limits.max_texts} texts of at most {limits.max_chars} characters")

    class Prediction(BaseModel):
        label: str
        probabilities: dict[str, float]

    class PredictResponse(BaseModel):
        predictions: list[Prediction]

    class ErrorResponse(BaseModel):
        error: str

    class ExplainRequest(BaseModel):
        text: str = Field(min_length=1, max_length=limits.max_chars, examples=["A wonderful film."],
                          description=f"one text of at most {limits.max_chars} characters; the first "
                                      f"{limits.explain_max_words} words are explained")

    class Attention(BaseModel):
        tokens: list[str]
        tokens_total: int
        max: float
        weights: list[list[list[float]]] = Field(description="(heads, tokens, tokens): row = attending token")

    class ExplainResponse(BaseModel):
        label: str
        probabilities: dict[str, float]
        tokens: list[str]
        importance: list[float] = Field(description="drop in P(label) when the token is hidden")
        method: str
        words: int
        words_explained: int
        attention: Attention | None = Field(description="Transformer runs only")

    from lexiclass import __version__

    version = (predictor.info or {}).get("versions", {}).get("lexiclass") or __version__  # FastAPI needs one
    app = FastAPI(title="lexiclass", version=str(version),
                  description=f"Text classifier `{metadata['model']}` with labels {metadata['labels']}.",
                  lifespan=lifespan, docs_url=None, redoc_url=None)  # /docs: our own page, no CDN
    app.state.predictor, app.state.batcher, app.state.limits = predictor, batcher, limits
    app.state.explain_gate = gate
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(ApiError)
    async def api_error(request, exc: ApiError):
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        path = _short(request.url.path, 60, quote=False)
        if exc.status_code == 404:
            message = f"no route {request.method} {path}; routes: {ROUTES}"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {path}; routes: {ROUTES}"
        else:
            message = " ".join(str(exc.detail).split())
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        return JSONResponse({"error": "; ".join(e.get("msg", "invalid") for e in exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request, exc: Exception):
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": f"internal server error ({type(exc).__name__}); see the server log"},
                            status_code=500)

    error_docs = {code: {"model": ErrorResponse} for code in (400, 413, 415, 422, 500, 503, 504)}

    @app.post("/predict", summary="Classify texts", responses={200: {"model": PredictResponse}, **error_docs},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": PredictRequest.model_json_schema()}}}})
    async def predict(request: Request):
        check_content_type(request.headers.get("content-type"))
        batcher.admit(1)  # a full queue refuses before reading (and holding) a large body
        try:
            body = await read_body(request, limits.max_body_bytes)
        except ClientDisconnect:  # the client left mid-upload: nobody to answer
            return Response(status_code=400)
        texts = parse_texts(body, limits)
        try:
            probs = await batcher.predict(texts, client_gone=_disconnected(request))
        except ApiError:
            raise
        except Exception as exc:
            raise ApiError(500, f"prediction failed ({type(exc).__name__}); see the server log") from None
        return JSONResponse({"predictions": format_predictions(predictor.label_names, probs)})

    @app.get("/health", summary="Liveness check")
    async def health():
        running = batcher.running
        return JSONResponse({"status": "ok" if running else "starting", "model": metadata["model"],
                             "queued_requests": len(batcher.jobs), "queued_texts": batcher.queued_texts},
                            status_code=200 if running else 503)

    @app.get("/metadata", summary="Model, labels, training config, test metrics and run info")
    async def get_metadata():
        return JSONResponse(metadata)

    @app.post("/explain", summary="Classify one text and explain it: token importance, attention",
              responses={200: {"model": ExplainResponse}, **error_docs, 501: {"model": ErrorResponse}},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": ExplainRequest.model_json_schema()}}}})
    async def explain(request: Request):
        from lexiclass.errors import LexiclassError

        check_content_type(request.headers.get("content-type"))
        if not explainable(predictor):
            raise ApiError(501, "this server's predictor cannot be explained (no run config)")
        batcher.admit(1)
        gate.admit()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.request_timeout_s
        try:
            body = await read_body(request, limits.max_body_bytes)
        except ClientDisconnect:
            return Response(status_code=400)
        text = parse_explain(body, limits)

        async def answer() -> dict:
            probs = (await batcher.predict([text]))[0]  # the whole text, as /predict sees it
            target = int(np.argmax(probs))
            try:
                details = await gate.run(lambda: explain_text(predictor, text, target, limits), deadline,
                                         limits.request_timeout_s)
            except LexiclassError as exc:  # e.g. no token survives standardization: "!!!"
                raise ApiError(422, f'"text" cannot be explained: {str(exc).splitlines()[0][:160]}') from None
            return {"label": predictor.label_names[target],
                    "probabilities": format_predictions(predictor.label_names, probs[None])[0]["probabilities"],
                    **details}

        work = asyncio.ensure_future(answer())
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not work.done():  # the client hung up: stop waiting (a running explanation finishes in its thread)
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            return Response(status_code=400)
        try:
            return JSONResponse(work.result())
        except ApiError:
            raise
        except Exception as exc:
            log.error("explanation failed", exc_info=exc)
            raise ApiError(500, f"explanation failed ({type(exc).__name__}); see the server log") from None

    def page(name: str) -> HTMLResponse:
        return HTMLResponse(web[name], headers={"Content-Security-Policy": PAGE_CSP, "Referrer-Policy": "no-referrer",
                                                "Cache-Control": "no-cache"})

    @app.get("/", include_in_schema=False)
    async def index():
        return page("index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return page("docs.html")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        if name not in STATIC_FILES:
            raise HTTPException(404)
        return Response(web[name], media_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})

    return app


def serve(run_dir, host: str = "127.0.0.1", port: int = 8000, **limits) -> None:
    """Load ``run_dir`` and serve it with uvicorn until interrupted (limits: see `create_app`)."""
    import uvicorn

    app = create_app(run_dir, **limits)
    print(f"serving {run_dir} on http://{host}:{port}/  (try it in a browser there; API docs: "
          f"http://{host}:{port}/docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
