"""HTTP API for a finished run: FastAPI app + uvicorn, with micro-batching across requests.

    POST /predict   {"texts": ["...", ...]} -> {"predictions": [{"label": ..., "probabilities": {...}}, ...]}
    GET  /health    {"status": "ok", ...}
    GET  /metadata  model name, labels, training config, test metrics, run info, limits
    GET  /docs      OpenAPI (Swagger) page; /openapi.json is the schema

Concurrent requests share model calls: one asyncio worker takes queued requests until
``max_batch`` texts are collected or ``batch_wait_ms`` has passed since the first one,
runs `Predictor.predict_proba` on them in a thread (so the event loop keeps accepting
requests, and only one model call ever runs at a time) and hands each request its rows.

Every error is a JSON ``{"error": "..."}`` naming the limit or the field at fault; no
traceback ever reaches a client (the server log keeps it).
"""

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger("lexiclass.serve")


class ApiError(Exception):
    """An HTTP error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Limits:
    max_texts: int = 256  # texts per request
    max_chars: int = 100_000  # characters per text
    max_body_bytes: int = 5_000_000  # request body
    max_batch: int = 32  # texts per model call, across requests (long reviews: big calls cost more per text)
    batch_wait_ms: float = 5.0  # how long the first queued request waits for company

    def __post_init__(self):
        from lexiclass.errors import LexiclassError

        for name in ("max_texts", "max_chars", "max_body_bytes", "max_batch"):
            if getattr(self, name) < 1:
                raise LexiclassError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_wait_ms < 0:
            raise LexiclassError(f"batch_wait_ms must be >= 0, got {self.batch_wait_ms}")


# --- request parsing (pure functions, no model) ----------------------------------------

def _json_type(value) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


async def read_body(request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes by Content-Length or by bytes actually received."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, f"Content-Length header {declared!r} is not a byte count")
        if int(declared) > limit:
            raise ApiError(413, f"request body of {int(declared)} bytes exceeds max_body_bytes = {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():  # chunked bodies have no Content-Length: count as we go
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body exceeds max_body_bytes = {limit} (stopped reading at {size} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_texts(body: bytes, limits: Limits) -> list[str]:
    """Validate a ``{"texts": [...]}`` body and return the texts, or raise `ApiError`."""
    try:
        payload = json.loads(body)
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not UTF-8 text (bad byte at position {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(payload, dict):
        raise ApiError(422, f'the body must be a JSON object {{"texts": [...]}}, got a JSON {_json_type(payload)}')
    if "texts" not in payload:
        raise ApiError(422, 'missing field "texts": send {"texts": ["a review", ...]}')
    unknown = sorted(set(payload) - {"texts"})
    if unknown:
        raise ApiError(422, f'unknown field(s) {", ".join(map(repr, unknown))}; the body is {{"texts": [...]}}')
    texts = payload["texts"]
    if not isinstance(texts, list):
        raise ApiError(422, f'"texts" must be a list of strings, got a JSON {_json_type(texts)}')
    if not texts:
        raise ApiError(422, '"texts" is empty: send at least one text')
    if len(texts) > limits.max_texts:
        raise ApiError(413, f'"texts" has {len(texts)} items; max_texts = {limits.max_texts} per request')
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ApiError(422, f'"texts"[{i}] must be a string, got a JSON {_json_type(text)}')
        if len(text) > limits.max_chars:
            raise ApiError(413, f'"texts"[{i}] has {len(text)} characters; max_chars = {limits.max_chars}')
    return texts


# --- micro-batching ------------------------------------------------------------------

class MicroBatcher:
    """Queue of ``(texts, future)``; `run` batches them into single `predict_proba` calls."""

    def __init__(self, predict_proba, max_batch: int, wait_ms: float):
        self.predict_proba = predict_proba
        self.max_batch = max_batch
        self.wait_s = wait_ms / 1000.0
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task: asyncio.Task | None = None
        self._held = None  # a request that did not fit into the previous batch

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run(), name="lexiclass-microbatcher")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def predict(self, texts: list[str]) -> np.ndarray:
        """(len(texts), classes) probabilities, computed together with other waiting requests."""
        if self.task is None or self.task.done():
            raise ApiError(503, "the prediction worker is not running")
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, future))
        return await future  # cancelled if the client goes away; the worker then skips it

    async def _collect(self, first) -> list:
        """``first`` plus whatever arrives within the wait, up to max_batch texts (a big request goes alone)."""
        batch, size = [first], len(first[0])
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while size < self.max_batch:
            if self.queue.empty():
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout)
                except TimeoutError:
                    break
            else:
                item = self.queue.get_nowait()
            if size + len(item[0]) > self.max_batch:
                self._held = item  # would overflow this batch: it starts the next one
                break
            batch.append(item)
            size += len(item[0])
        return batch

    async def run(self) -> None:
        while True:
            first, self._held = (self._held or await self.queue.get()), None
            batch = [(t, f) for t, f in await self._collect(first) if not f.done()]  # drop abandoned requests
            if not batch:
                continue
            texts = [text for t, _ in batch for text in t]
            try:
                probs = await asyncio.to_thread(self.predict_proba, texts)  # (sum of lens, classes)
            except Exception as exc:  # one model call failed: fail its requests, keep serving
                log.exception("prediction failed for a batch of %d texts", len(texts))
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for t, future in batch:
                if not future.done():
                    future.set_result(probs[start:start + len(t)])
                start += len(t)


# --- the app -------------------------------------------------------------------------

def _metadata(predictor, limits: Limits) -> dict:
    from lexiclass import run_dir as rd

    metrics = None
    if predictor.run_dir is not None and (Path(predictor.run_dir) / rd.METRICS_FILE).exists():
        try:
            metrics = rd.read_json(Path(predictor.run_dir) / rd.METRICS_FILE)
        except Exception:  # a broken metrics file must not stop serving
            log.warning("cannot read %s", Path(predictor.run_dir) / rd.METRICS_FILE)
    config = predictor.config.to_dict() if predictor.config is not None else {}
    return {"model": config.get("model"), "labels": list(predictor.label_names), "config": config,
            "test_metrics": metrics, "run": predictor.info,
            "limits": {k: getattr(limits, k) for k in Limits.__dataclass_fields__}}


def create_app(predictor_or_run_dir, max_texts: int = 256, max_chars: int = 100_000,
               max_body_bytes: int = 5_000_000, max_batch: int = 32, batch_wait_ms: float = 5.0):
    """A FastAPI app serving a `Predictor` (or the run directory to load one from)."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, Response
    from pydantic import BaseModel, Field
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect

    from lexiclass.inference.predictor import Predictor, format_predictions

    limits = Limits(max_texts, max_chars, max_body_bytes, max_batch, batch_wait_ms)
    predictor = predictor_or_run_dir
    if not hasattr(predictor, "predict_proba"):
        predictor = Predictor.from_run_dir(predictor_or_run_dir)
    metadata = _metadata(predictor, limits)
    batcher = MicroBatcher(predictor.predict_proba, limits.max_batch, limits.batch_wait_ms)

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

    app = FastAPI(title="lexiclass", version=str(predictor.info.get("versions", {}).get("lexiclass", "")),
                  description=f"Text classifier `{metadata['model']}` with labels {metadata['labels']}.",
                  lifespan=lifespan)
    app.state.predictor, app.state.batcher, app.state.limits = predictor, batcher, limits

    @app.exception_handler(ApiError)
    async def api_error(request, exc: ApiError):
        return JSONResponse({"error": exc.message}, status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request, exc: RequestValidationError):
        return JSONResponse({"error": "; ".join(e.get("msg", "invalid") for e in exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request, exc: Exception):
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": f"internal server error ({type(exc).__name__}); see the server log"},
                            status_code=500)

    error_docs = {code: {"model": ErrorResponse} for code in (400, 413, 422, 500)}

    @app.post("/predict", summary="Classify texts", responses={200: {"model": PredictResponse}, **error_docs},
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": PredictRequest.model_json_schema()}}}})
    async def predict(request: Request):
        try:
            body = await read_body(request, limits.max_body_bytes)
        except ClientDisconnect:  # the client left mid-upload: nobody to answer
            return Response(status_code=400)
        texts = parse_texts(body, limits)
        try:
            probs = await batcher.predict(texts)
        except ApiError:
            raise
        except Exception as exc:
            raise ApiError(500, f"prediction failed ({type(exc).__name__}); see the server log") from None
        return JSONResponse({"predictions": format_predictions(predictor.label_names, probs)})

    @app.get("/health", summary="Liveness check")
    async def health():
        running = batcher.task is not None and not batcher.task.done()
        return JSONResponse({"status": "ok" if running else "starting", "model": metadata["model"],
                             "queued_requests": batcher.queue.qsize()}, status_code=200 if running else 503)

    @app.get("/metadata", summary="Model, labels, training config, test metrics and run info")
    async def get_metadata():
        return JSONResponse(metadata)

    return app


def serve(run_dir, host: str = "127.0.0.1", port: int = 8000, **limits) -> None:
    """Load ``run_dir`` and serve it with uvicorn until interrupted (limits: see `create_app`)."""
    import uvicorn

    app = create_app(run_dir, **limits)
    print(f"serving {run_dir} on http://{host}:{port}  (API docs: http://{host}:{port}/docs)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
